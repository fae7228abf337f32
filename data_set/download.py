"""Downloads a missing data file from a list of mirrors, as TensorFlow 1's base.maybe_download did,
but verified, atomic and quick to give up on a mirror that stalls.

Only the standard library is needed.
"""
import errno
import hashlib
import http.client
import os
import re
import secrets
import socket
import urllib.error
import urllib.parse
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
# http.client's words for a proxy that answered an https URL's CONNECT with an error.
_CONNECT_FAILED = "Tunnel connection failed: "
# Mirrors that failed in this run, tried last for the files still to come (a user-visible wait:
# a stalled mirror would otherwise cost its STALL_SECONDS again for each of the four files).
_failed_mirrors = set()


class DownloadError(Exception):
    """No mirror served the file; the message lists each one tried and why, on one line, and
    what to do about a proxy that failed."""


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
    A URL is fetched through the proxy urllib takes from the environment (http_proxy,
    https_proxy, no_proxy) or the system's settings; a failure that is the proxy's is
    reported as the proxy's, naming it.
    Raises DownloadError if every URL fails, OSError if the file cannot be put in place.
    """
    failures, advice = [], []
    for url in sorted(urls, key=lambda url: _mirror(url) in _failed_mirrors):
        print(f"Downloading {os.path.basename(path)} from {_shown(url)}", flush=True)
        try:
            data = _get(url)
            note = _verify(url, data, sha256, trusted, check)
        except (OSError, ValueError, http.client.HTTPException) as error:  # a mirror, or its proxy, that misbehaves
            blame = _proxy_failure(url, error)
            failures.append(f"{_shown(url)} ({blame[0] if blame else _reason(error)})")
            if blame and blame[1] not in advice:
                advice.append(blame[1])
            _failed_mirrors.add(_mirror(url))
            continue
        _write_atomically(path, data)
        print(f"Successfully downloaded {os.path.basename(path)} {len(data)} bytes.{note}")
        return
    raise DownloadError("; ".join(failures + advice))


def _get(url):
    chunks, size = [], 0
    # A new opener takes the proxy settings as they are now, as _proxy_for does; urlopen's own
    # is made once per process, and would miss a proxy variable set or unset since.
    with urllib.request.build_opener().open(url, timeout=STALL_SECONDS) as response:
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


def _shown(url):
    """url as a message shows it: on one line, and without a password it may carry (user:pass@)."""
    url = re.sub(r"//[^/@]*@", "//", url)
    return url.encode("unicode_escape").decode("ascii") if not url.isprintable() else url


def _proxy_for(url):
    """(name, address) of the proxy urllib sends url through, or None if it goes direct. name is
    the environment variable that sets it, or None where the system's settings do (Windows,
    macOS)."""
    try:
        scheme, host = urllib.parse.urlsplit(url)[:2]
    except ValueError:  # not a URL at all (an unclosed IPv6 bracket): it never reached a proxy
        return None
    address = urllib.request.getproxies().get(scheme)
    if not address or urllib.request.proxy_bypass(host):
        return None
    variable = f"{scheme}_proxy"
    # urllib prefers the lower-case variable; Windows keeps only the upper-case name.
    names = [name for name in (variable, variable.upper()) if os.environ.get(name) == address]
    return (names[0] if names else None), address


def _proxy_failure(url, error):
    """(what went wrong, what to do) if url went through a proxy and error is the proxy's own
    failure, else None."""
    proxy, fault = _proxy_for(url), _proxy_fault(error)
    if not (proxy and fault):
        return None
    name, address = proxy
    happened, fix = fault
    if name:
        return f"the proxy {name}={address} {happened}", f"unset {name} or {fix}"
    return f"the system's proxy {address} {happened}", f"turn off the system's proxy setting or {fix}"


def _proxy_fault(error):
    """(what the proxy did, how to fix it) if error is a proxy's own failure, else None."""
    password = "put the proxy's user and password in it"
    if isinstance(error, urllib.error.HTTPError):
        # Only 407 is surely the proxy's own; any other status may be the mirror's, passed on.
        return (f"answered HTTP 407 {error.reason}", password) if error.code == 407 else None
    if not isinstance(error, urllib.error.URLError):
        return None  # the answer had begun: the proxy only passed the failure on
    # urllib wraps only what fails before an answer: the connection, and an https URL's CONNECT.
    reason = error.reason
    if str(reason).startswith(_CONNECT_FAILED):
        answer = str(reason).removeprefix(_CONNECT_FAILED)
        return f"answered HTTP {answer}", password if answer.startswith("407") else "fix the proxy"
    if isinstance(reason, ConnectionRefusedError):
        return "refused the connection", "start the proxy"
    if isinstance(reason, TimeoutError):
        return f"gave no answer for {STALL_SECONDS} s", "start the proxy"
    if isinstance(reason, socket.gaierror):
        return "names a host that cannot be found", "correct it"
    if isinstance(reason, OSError) and reason.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "cannot be reached", "start the proxy"
    return None


def _reason(error):
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        error = error.reason
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"no answer for {STALL_SECONDS} s"
    return " ".join(str(error).split()) or type(error).__name__  # one line, even for urllib's longer texts
