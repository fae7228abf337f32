"""Downloading missing files, against a real HTTP server on 127.0.0.1 started here."""
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from data_set import input_data
from tests.conftest import REPO, SHIPPED_DATA, fresh_shell_env, run_train, snapshot, train_command

SMALL = input_data.TEST_LABELS  # 4,542 bytes: quick to serve
SLOW_DOWNLOAD_STARTED = threading.Event()


def shipped(name):
    with open(os.path.join(SHIPPED_DATA, name), "rb") as file:
        return file.read()


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """/good/NAME serves the real file, /corrupt/NAME altered bytes, /slow/NAME a stalled start;
    anything else is a 404."""

    def do_GET(self):
        kind, _, name = self.path.strip("/").partition("/")
        if name not in input_data.MNIST_FILES or kind not in ("good", "corrupt", "slow"):
            self.send_error(404)
            return
        body = shipped(name)
        if kind == "corrupt":
            body = body[:-1] + bytes([body[-1] ^ 1])
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "slow":
            self.wfile.write(body[:1000])
            self.wfile.flush()
            SLOW_DOWNLOAD_STARTED.set()
            time.sleep(30)
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


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
    out = capsys.readouterr().out
    assert f"Successfully downloaded {SMALL} 4542 bytes." in out
    assert out.index(f"Successfully downloaded {SMALL}") < out.index(f"Extracting {directory / SMALL}")


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
    assert f"{server}/corrupt/{SMALL} (the bytes do not match the published SHA-256)" in message
    assert f"{server}/nothing-here/{SMALL} (HTTP 404 Not Found)" in message
    assert f"{closed_port_url}{SMALL} (" in message and "refused" in message
    assert "\n" not in message
    assert snapshot(mnist_copy) == before


def test_a_corrupted_download_is_refused(server, mnist_copy):
    without(mnist_copy, SMALL)
    before = snapshot(mnist_copy)
    with pytest.raises(input_data.MnistDataError, match="do not match the published SHA-256"):
        input_data.read_data_sets(mnist_copy, source_url=server + "/corrupt/")
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
    assert any(name.endswith(".part") for name in os.listdir(mnist_copy))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    if program == "train.py":
        assert process.returncode == 130 and stderr == b"Stopped by Ctrl-C\n"
    else:
        assert process.returncode != 0 and b"KeyboardInterrupt" in stderr
    assert snapshot(mnist_copy) == before
