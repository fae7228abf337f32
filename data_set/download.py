"""Downloads a missing data file from a list of mirrors, as TensorFlow 1's base.maybe_download did,
but verified, atomic and quick to give up on a mirror that stalls.

Only the standard library is needed.
"""
import hashlib
import http.client
import os
import secrets
import socket
import urllib.error
import urllib.request

# The mirrors TensorFlow 1 and torchvision download MNIST from; their files must match MNIST's
# published SHA-256.
DEFAULT_SOURCE_URLS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
# Seconds a mirror may stay silent, while connecting or in the middle of a file, before it counts
# as failed. A working mirror sends something well within this; a stalled one costs this once.
STALL_SECONDS = 10
# The largest file accepted: MNIST's largest is 10 MB and Fashion-MNIST's 26 MB. A mirror that
# sends more is refused before it fills the memory the file is gathered in.
MAX_BYTES = 256 << 20
# Mirrors that failed in this run, tried last for the files still to come (a user-visible wait:
# a stalled mirror would otherwise cost its STALL_SECONDS again for each of the four files).
_failed_mirrors = set()


class DownloadError(Exception):
    """No mirror served the file; the message lists each one tried and why, on one line."""


def fetch(path, urls, sha256=None, trusted=(), check=None):
    """Download path's file from the first of urls that serves acceptable bytes.

    path: where the file goes; its directory is created only once good bytes are in hand, so a
        failed download creates nothing.
    urls: the file's URLs, tried in order, those whose mirror failed earlier in this run last.
    sha256: the published SHA-256 (hex) of the file, or None if none is known.
    trusted: URL prefixes (the default mirrors) whose bytes must match sha256 exactly.
    check: called with the bytes of a file that no published checksum vouches for; raises
        ValueError if they are not the expected kind of file.

    The bytes go to a temporary file beside path that is renamed into place only when
    complete, so no half-written file is left under the real name, even after Ctrl-C.
    Raises DownloadError if every URL fails, OSError if the file cannot be put in place.
    """
    failures = []
    for url in sorted(urls, key=lambda url: _mirror(url) in _failed_mirrors):
        print(f"Downloading {os.path.basename(path)} from {url}", flush=True)
        try:
            data = _get(url)
            note = _verify(url, data, sha256, trusted, check)
        except (OSError, ValueError, http.client.HTTPException) as error:  # a mirror that misbehaves
            failures.append(f"{url} ({_reason(error)})")
            _failed_mirrors.add(_mirror(url))
            continue
        _write_atomically(path, data)
        print(f"Successfully downloaded {os.path.basename(path)} {len(data)} bytes.{note}")
        return
    raise DownloadError("; ".join(failures))


def _get(url):
    chunks, size = [], 0
    with urllib.request.urlopen(url, timeout=STALL_SECONDS) as response:
        while chunk := response.read(1 << 20):
            size += len(chunk)
            if size > MAX_BYTES:
                raise ValueError(f"it sends more than {MAX_BYTES >> 20} MiB, more than any MNIST-format file")
            chunks.append(chunk)
    return b"".join(chunks)


def _verify(url, data, sha256, trusted, check):
    """'' if the bytes are vouched for; a note to print if they are kept on check's word alone."""
    if sha256 and hashlib.sha256(data).hexdigest() == sha256:
        return ""
    if sha256 and url.startswith(tuple(trusted)):
        raise ValueError("the bytes do not match the published SHA-256")
    if check:
        check(data)
    return " No published checksum vouches for it: it was kept because it is a well-formed idx file."


def _write_atomically(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    # A name of its own, opened with open() so that the file gets the usual permissions (a
    # temporary file's are the owner's alone, and others sharing the data directory need it too).
    partial = f"{path}.{secrets.token_hex(4)}.part"
    try:
        with open(partial, "xb") as file:
            file.write(data)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _mirror(url):
    return url.rsplit("/", 1)[0]


def _reason(error):
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        error = error.reason
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"no answer for {STALL_SECONDS} s"
    return " ".join(str(error).split()) or type(error).__name__  # one line, even for urllib's longer texts
