"""Downloading missing files, against a real HTTP server on 127.0.0.1 started here."""
import contextlib
import http.server
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from data_set import input_data
from data_set import download
from tests.conftest import REPO, SHIPPED_DATA, fresh_shell_env, run_train, snapshot, train_command, write_mnist_like

SMALL = input_data.TEST_LABELS  # 4,542 bytes: quick to serve
SLOW_DOWNLOAD_STARTED = threading.Event()


def shipped(name):
    with open(os.path.join(SHIPPED_DATA, name), "rb") as file:
        return file.read()


# Another data set in MNIST's format, as Fashion-MNIST's mirror serves one: no published checksum.
OTHER_DATA = {}


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """/good/NAME serves the real file, /corrupt/NAME altered bytes, /slow/NAME a stalled start,
    /other/NAME another data set's file in MNIST's format, /html/NAME a web page, /cut/NAME the
    first 1000 bytes and a dropped connection; anything else is a 404."""

    def do_GET(self):
        kind, _, name = self.path.strip("/").partition("/")
        if name not in input_data.MNIST_FILES or kind not in ("good", "corrupt", "slow", "other", "html", "cut"):
            self.send_error(404)
            return
        body = {"other": OTHER_DATA.get(name), "html": b"<html>Not here any more</html>"}.get(kind) or shipped(name)
        if kind == "corrupt":
            body = body[:-1] + bytes([body[-1] ^ 1])
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "cut":  # the connection drops partway through the file
            self.wfile.write(body[:1000])
            return
        if kind == "slow":
            self.wfile.write(body[:1000])
            self.wfile.flush()
            SLOW_DOWNLOAD_STARTED.set()
            time.sleep(30)
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    write_mnist_like(other, train_count=60, test_count=20, seed=9)
    OTHER_DATA.update({name: (other / name).read_bytes() for name in input_data.MNIST_FILES})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def without(directory, *names):
    for name in names:
        os.remove(os.path.join(directory, name))


def test_missing_files_are_downloaded_verified_and_read(server, tmp_path, capsys):
    directory = tmp_path / "new" / "mnist"  # created as TensorFlow 1 did
    data = input_data.read_data_sets(directory, source_url=server + "/good/")
    assert data.train.num_examples == 55000 and data.test.num_examples == 10000
    assert sorted(os.listdir(directory)) == sorted(input_data.MNIST_FILES)
    for name in input_data.MNIST_FILES:
        assert (directory / name).read_bytes() == shipped(name)
    out = capsys.readouterr().out.splitlines()
    # One line says what is fetched from where, one that it came, before the file is read.
    start = out.index(f"Downloading {SMALL} from {server}/good/{SMALL}")
    assert out[start + 1] == f"Successfully downloaded {SMALL} 4542 bytes."
    assert start + 1 < out.index(f"Extracting {directory / SMALL}")


def test_later_mirrors_are_tried_in_order(server, mnist_copy, closed_port_url):
    without(mnist_copy, SMALL)
    input_data.read_data_sets(mnist_copy, source_url=[server + "/nothing-here/", closed_port_url, server + "/good"])
    assert (mnist_copy / SMALL).read_bytes() == shipped(SMALL)


def test_every_failed_mirror_is_listed_and_nothing_is_left_behind(server, mnist_copy, closed_port_url):
    without(mnist_copy, SMALL)
    before = snapshot(mnist_copy)
    mirrors = [server + "/corrupt/", server + "/nothing-here/", closed_port_url]
    with pytest.raises(input_data.MnistDataError) as raised:
        input_data.read_data_sets(mnist_copy, source_url=mirrors)
    message = str(raised.value)
    assert message.startswith(f"{mnist_copy / SMALL}: is missing and could not be downloaded: ")
    # From a mirror of the user's, bytes that match no checksum are kept only if they are idx.
    assert f"{server}/corrupt/{SMALL} (" in message and "damaged gzip" in message
    assert f"{server}/nothing-here/{SMALL} (HTTP 404 Not Found)" in message
    assert f"{closed_port_url}{SMALL} (" in message and "refused" in message
    assert "\n" not in message
    assert snapshot(mnist_copy) == before


def test_a_mirror_that_drops_the_connection_is_followed_by_the_next(server, mnist_copy, capsys):
    without(mnist_copy, SMALL)
    input_data.read_data_sets(mnist_copy, source_url=[server + "/cut/", server + "/good/"])
    assert (mnist_copy / SMALL).read_bytes() == shipped(SMALL)
    downloading = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Downloading")]
    assert downloading == [f"Downloading {SMALL} from {server}/cut/{SMALL}", f"Downloading {SMALL} from {server}/good/{SMALL}"]


def test_a_downloaded_file_can_be_read_by_whoever_can_read_the_directory(server, mnist_copy):
    without(mnist_copy, SMALL)
    umask = os.umask(0o022)
    try:
        input_data.read_data_sets(mnist_copy, source_url=server + "/good/")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(mnist_copy / SMALL).st_mode) == 0o644


def test_a_default_mirror_is_held_to_the_published_checksum(server, tmp_path):
    # The default mirrors are trusted only with MNIST's published SHA-256; this server stands in.
    path = tmp_path / SMALL
    with pytest.raises(download.DownloadError, match="the bytes do not match the published SHA-256"):
        download.fetch(str(path), [f"{server}/other/{SMALL}"], input_data.SHA256[SMALL], trusted=[server])
    assert os.listdir(tmp_path) == []
    download.fetch(str(path), [f"{server}/good/{SMALL}"], input_data.SHA256[SMALL], trusted=[server])
    assert path.read_bytes() == shipped(SMALL)


def test_another_data_set_from_a_mirror_of_the_users_is_kept_with_a_note(server, tmp_path, capsys):
    # As Fashion-MNIST's README once told TensorFlow 1's users: the same names, other bytes.
    data = input_data.read_data_sets(tmp_path, source_url=server + "/other/", validation_size=10)
    assert data.train.num_examples == 50 and data.test.num_examples == 20
    for name in input_data.MNIST_FILES:
        assert (tmp_path / name).read_bytes() == OTHER_DATA[name]
    out = capsys.readouterr().out
    assert out.count("No published checksum vouches for it") == 4
    assert sorted(os.listdir(tmp_path)) == sorted(input_data.MNIST_FILES)  # no temporary file left


def test_a_mirror_of_the_users_that_serves_no_idx_file_is_refused(server, mnist_copy):
    without(mnist_copy, SMALL)
    before = snapshot(mnist_copy)
    with pytest.raises(input_data.MnistDataError, match=f"{server}/html/{SMALL} \\(the file served is not a gzip file, nor an MNIST idx file"):
        input_data.read_data_sets(mnist_copy, source_url=server + "/html/")
    assert snapshot(mnist_copy) == before


def test_a_present_file_is_never_replaced_even_when_damaged(server, mnist_copy):
    (mnist_copy / SMALL).write_bytes(b"not gzip")
    with pytest.raises(input_data.MnistDataError, match="is not a gzip file"):
        input_data.read_data_sets(mnist_copy, source_url=server + "/good/")
    assert (mnist_copy / SMALL).read_bytes() == b"not gzip"


def test_a_directory_that_cannot_be_created_is_reported(server, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(input_data.MnistDataError, match=f"cannot be downloaded into {blocker / 'mnist'}"):
        input_data.read_data_sets(blocker / "mnist", source_url=server + "/good/")
    assert blocker.read_text() == "in the way"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_a_read_only_directory_is_reported(server, mnist_copy):
    without(mnist_copy, SMALL)
    os.chmod(mnist_copy, 0o555)
    try:
        with pytest.raises(input_data.MnistDataError, match="make the directory writable"):
            input_data.read_data_sets(mnist_copy, source_url=server + "/good/")
    finally:
        os.chmod(mnist_copy, 0o755)
    assert not (mnist_copy / SMALL).exists()


def test_train_py_downloads_a_missing_file_before_it_trains(server, mnist_copy):
    without(mnist_copy, SMALL)
    result = run_train("--data-dir", mnist_copy, "--source-url", server + "/good/", "--steps", 10)
    assert result.returncode == 0, result.stderr
    assert f"Successfully downloaded {SMALL} {len(shipped(SMALL))} bytes." in result.stdout.splitlines()
    assert (mnist_copy / SMALL).read_bytes() == shipped(SMALL)


def test_a_mistyped_data_dir_with_no_network_creates_nothing(tmp_path, closed_port_url):
    result = run_train("--data-dir", tmp_path / "mnsit" / "data", "--source-url", closed_port_url)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path}/mnsit/data/train-images-idx3-ubyte.gz: is missing and could not be downloaded: ")
    assert line.endswith(
        f"copy the four MNIST files into {tmp_path}/mnsit/data (this project ships them in {SHIPPED_DATA}), "
        "or name a working mirror (train.py's --source-url, read_data_sets' source_url)"
    )
    assert os.listdir(tmp_path) == []


class StalledMirror:
    """A mirror that accepts connections and never answers; it counts the connections."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/mnist/"
        self.connections = []
        threading.Thread(target=self.hold, daemon=True).start()

    def hold(self):
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                self.connections.append(self.socket.accept()[0])

    def close(self):
        for connection in self.connections:
            connection.close()
        self.socket.close()


@pytest.fixture
def stalled_mirror():
    mirror = StalledMirror()
    yield mirror
    mirror.close()


def test_a_stalled_mirror_is_given_up_on_once_and_tried_last_after(server, tmp_path, stalled_mirror, capsys, monkeypatch):
    monkeypatch.setattr(download, "_failed_mirrors", set())  # a new run: no mirror has failed yet
    monkeypatch.setattr(download, "STALL_SECONDS", 1)
    good = server + "/good/"
    input_data.read_data_sets(tmp_path, source_url=[stalled_mirror.url, good])
    assert len(stalled_mirror.connections) == 1
    downloading = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Downloading")]
    first, *rest = input_data.MNIST_FILES
    assert downloading == [
        f"Downloading {first} from {stalled_mirror.url}{first}",
        f"Downloading {first} from {good}{first}",
        *(f"Downloading {name} from {good}{name}" for name in rest),
    ]
    for name in input_data.MNIST_FILES:
        assert (tmp_path / name).read_bytes() == shipped(name)


def test_train_py_gets_past_a_stalled_mirror_in_seconds(server, tmp_path, stalled_mirror):
    result = run_train("--data-dir", tmp_path, "--source-url", stalled_mirror.url, "--source-url", server + "/good/", "--steps", 10)
    assert result.returncode == 0, result.stderr
    assert len(stalled_mirror.connections) == 1  # waited on once, for the first file only
    assert result.stdout.count("Successfully downloaded") == 4


@pytest.mark.parametrize("program", ["read_data_sets", "train.py"])
def test_ctrl_c_during_a_download_leaves_no_partial_file(server, mnist_copy, program):
    without(mnist_copy, SMALL)
    before = snapshot(mnist_copy)
    SLOW_DOWNLOAD_STARTED.clear()
    if program == "train.py":
        command = train_command("--data-dir", mnist_copy, "--source-url", server + "/slow/")
    else:
        read = f"read_data_sets({str(mnist_copy)!r}, source_url={server + '/slow/'!r})"
        command = [sys.executable, "-c", f"from data_set import input_data; input_data.{read}"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=fresh_shell_env())
    assert SLOW_DOWNLOAD_STARTED.wait(60), "the download never started"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    if program == "train.py":
        assert process.returncode == 130 and stderr == b"Stopped by Ctrl-C; nothing is kept without --save-dir\n"
    else:
        assert process.returncode != 0 and b"KeyboardInterrupt" in stderr
    assert snapshot(mnist_copy) == before


# --- a proxy set in the environment (often left behind by a VPN tool) ---


@pytest.fixture
def proxy_env(monkeypatch):
    """No proxy variable from this machine's environment, and no mirror failed yet; the test
    sets its own variables with monkeypatch.setenv."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(download, "_failed_mirrors", set())
    return monkeypatch


class BrokenProxy(http.server.BaseHTTPRequestHandler):
    """A proxy that is up but passes nothing on: a CONNECT to port 1 is answered 502, any other
    CONNECT and any plain request 407."""

    def do_CONNECT(self):
        self.send_error(502 if self.path.endswith(":1") else 407)

    def do_GET(self):
        self.send_error(407)

    def log_message(self, *args):
        pass


@pytest.fixture
def broken_proxy():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BrokenProxy)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.mark.parametrize("variable", ["http_proxy", "HTTP_PROXY"])
def test_a_dead_proxy_is_named_instead_of_the_mirrors(server, mnist_copy, closed_port_url, proxy_env, variable):
    # urllib sends even 127.0.0.1 through the proxy while no_proxy is unset.
    dead = closed_port_url.rstrip("/")
    proxy_env.setenv(variable, dead)
    without(mnist_copy, SMALL)
    before = snapshot(mnist_copy)
    with pytest.raises(input_data.MnistDataError) as raised:
        input_data.read_data_sets(mnist_copy, source_url=[server + "/good/", server + "/other/"])
    failed = f"the proxy {variable}={dead} refused the connection"
    assert str(raised.value).startswith(
        f"{mnist_copy / SMALL}: is missing and could not be downloaded: {server}/good/{SMALL} ({failed}); "
        f"{server}/other/{SMALL} ({failed}); unset {variable} or start the proxy; copy the four MNIST files into "
    )
    assert snapshot(mnist_copy) == before


def test_train_py_names_the_dead_proxy_on_its_one_error_line(server, tmp_path, closed_port_url, proxy_env):
    dead = closed_port_url.rstrip("/")
    env = fresh_shell_env(http_proxy=dead)
    result = run_train("--data-dir", tmp_path, "--source-url", server + "/good/", env=env)
    assert result.returncode == 1
    name = input_data.TRAIN_IMAGES
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / name}: is missing and could not be downloaded: {server}/good/{name} "
        f"(the proxy http_proxy={dead} refused the connection); unset http_proxy or start the proxy; "
        f"copy the four MNIST files into {tmp_path} (this project ships them in {SHIPPED_DATA}), "
        "or name a working mirror (train.py's --source-url, read_data_sets' source_url)"
    ]
    assert os.listdir(tmp_path) == []


def test_a_proxy_that_answers_with_an_error_is_named(server, broken_proxy, proxy_env):
    proxy_env.setenv("http_proxy", broken_proxy)
    proxy_env.setenv("https_proxy", broken_proxy)
    # Only the proxy is contacted: nothing listens on ports 1 and 2.
    plain, bad_gateway, password = f"{server}/good/{SMALL}", f"https://127.0.0.1:1/{SMALL}", f"https://127.0.0.1:2/{SMALL}"
    with pytest.raises(download.DownloadError) as raised:
        download.fetch("never-written", [plain, bad_gateway, password])
    assert str(raised.value) == (
        f"{plain} (the proxy http_proxy={broken_proxy} answered HTTP 407 Proxy Authentication Required); "
        f"{bad_gateway} (the proxy https_proxy={broken_proxy} answered HTTP 502 Bad Gateway); "
        f"{password} (the proxy https_proxy={broken_proxy} answered HTTP 407 Proxy Authentication Required); "
        "unset http_proxy or put the proxy's user and password in it; unset https_proxy or fix the proxy; "
        "unset https_proxy or put the proxy's user and password in it"
    )
    assert not os.path.exists("never-written")


@pytest.mark.parametrize("bypass", ["no_proxy", "NO_PROXY"])
def test_a_host_in_no_proxy_is_downloaded_directly(server, mnist_copy, closed_port_url, proxy_env, bypass):
    proxy_env.setenv("http_proxy", closed_port_url.rstrip("/"))
    proxy_env.setenv(bypass, "localhost,127.0.0.1")
    without(mnist_copy, SMALL)
    input_data.read_data_sets(mnist_copy, source_url=server + "/good/")
    assert (mnist_copy / SMALL).read_bytes() == shipped(SMALL)
