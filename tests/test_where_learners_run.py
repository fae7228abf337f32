"""train.py where learners run it: other code pages, IDLE and IPython, pipes that close, stop
signals, closed terminals, directories that are not what a flag needs, checkpoints from another
machine, TensorBoard, and a Python without the packages. Real processes, signals, pipes and
terminals throughout."""
import fcntl
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import termios
import time
import urllib.parse
import urllib.request

import pytest

from tests.conftest import (
    LOSS_LINE,
    REPO,
    accuracy_of,
    checkpoints,
    fresh_shell_env,
    loss_lines,
    run_train,
    snapshot,
    steps_printed,
    train_command,
)


# --- output encodings ---


@pytest.mark.parametrize("encoding", ["cp1252", "ascii", "latin-1"])
def test_output_redirected_in_a_code_page_without_chinese_is_written_as_utf8(tmp_path, encoding):
    out = tmp_path / "out.txt"
    with open(out, "wb") as file:
        result = subprocess.run(
            train_command("--steps", 20, "--save-dir", tmp_path / "ck"), stdout=file, stderr=subprocess.PIPE,
            env=fresh_shell_env(PYTHONIOENCODING=encoding), timeout=300,
        )
    assert result.returncode == 0 and result.stderr == b""
    text = out.read_bytes().decode("utf-8")
    assert steps_printed(text) == [10, 20] and accuracy_of(text)[1] == 10000
    assert checkpoints(tmp_path / "ck") == [20]


def run_in_a_terminal(command, env, until=None):
    """Run command with a pseudo-terminal as its controlling terminal; return its exit status and
    what it showed. With until, close the terminal (as closing its window does) once a line
    starting so has appeared."""
    controller, terminal = pty.openpty()

    def take_the_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        command, stdin=terminal, stdout=terminal, stderr=terminal, env=env, preexec_fn=take_the_terminal
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the program has exited and the terminal has no other user
            break
        if not chunk:
            break
        shown += chunk
        if until and any(line.startswith(until) for line in shown.decode("utf-8", "replace").splitlines()):
            break
    os.close(controller)
    return process.wait(timeout=120), shown


def test_a_console_in_a_code_page_without_chinese_shows_question_marks():
    status, shown = run_in_a_terminal(train_command("--steps", 20), fresh_shell_env(PYTHONIOENCODING="cp1252"))
    text = shown.decode("cp1252").replace("\r\n", "\n")
    assert status == 0
    # 第, 步, ，, 当前 and ： each become a '?'; the numbers and 'loss' stay readable.
    assert re.search(r"^\?   20\?{4}loss\?\d+\.\d\d$", text, re.M)
    assert re.search(r"^\?{3}: 0\.\d\d\?{5}10000\?{3} $", text, re.M)


# --- hosts: IPython, Jupyter, IDLE ---


def test_ipython_run_works_and_the_host_lives_on(tmp_path):
    # %run runs train.py inside IPython's own process, as Jupyter and Colab do.
    cell = f"%run {os.path.join(REPO, 'train.py')} --steps 20 --save-dir {tmp_path}\nprint('the host lives on')"
    result = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=NoColor", "-c", cell],
        capture_output=True, text=True, timeout=300, env=fresh_shell_env(), cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert steps_printed(result.stdout) == [10, 20]
    assert "准确率" in result.stdout and result.stdout.rstrip().endswith("the host lives on")
    assert checkpoints(tmp_path) == [20]


def test_ipython_survives_a_run_that_fails(tmp_path):
    cell = f"%run {os.path.join(REPO, 'train.py')} --data-dir {tmp_path / 'missing.txt'} --eval-only --save-dir {tmp_path}\nprint('the host lives on')"
    (tmp_path / "missing.txt").write_text("a file, not a directory")
    result = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=NoColor", "-c", cell],
        capture_output=True, text=True, timeout=300, env=fresh_shell_env(),
    )
    assert f"error: {tmp_path / 'missing.txt'}: is a file, not a directory; choose another --data-dir" in result.stderr
    assert result.stdout.rstrip().endswith("the host lives on")


# IDLE's Run Module runs the script in a process of its own with a stdout object that is no file:
# no fileno(), no reconfigure(), no encoding to check.
LIKE_IDLE = """
import runpy, sys
class Shell:
    def __init__(self):
        self.lines = []
    def write(self, text):
        self.lines.append(text)
        return len(text)
    def flush(self):
        pass
shell = Shell()
real_stdout, sys.stdout = sys.stdout, shell
sys.argv = [sys.argv[1], "--steps", "20"]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    sys.stdout = real_stdout
print("".join(shell.lines), end="")
print("the host lives on")
"""


def test_a_stdout_without_fileno_or_reconfigure_like_idles_works():
    result = subprocess.run(
        [sys.executable, "-c", LIKE_IDLE, os.path.join(REPO, "train.py")], capture_output=True, text=True,
        timeout=300, env=fresh_shell_env(),
    )
    assert result.returncode == 0, result.stderr
    assert steps_printed(result.stdout) == [10, 20] and "准确率" in result.stdout
    assert result.stdout.endswith("the host lives on\n")


def test_a_script_that_execs_train_py_lives_on():
    # Code of a host's runs train.py's code, as editors' "run" buttons do (Spyder's runfile so).
    path = os.path.join(REPO, "train.py")
    host = f"exec(open({path!r}).read(), {{'__name__': '__main__', '__file__': {path!r}}})\nprint('the host lives on')"
    result = subprocess.run(
        [sys.executable, "-c", host, "--steps", "20"], capture_output=True, text=True, timeout=300, env=fresh_shell_env(),
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert steps_printed(result.stdout) == [10, 20] and result.stdout.endswith("the host lives on\n")


def test_a_profiler_that_runs_train_py_still_reports():
    # python -m cProfile runs train.py as its guest, with train.py's own sys.argv: the run must not
    # end the process before the profiler prints its report.
    result = subprocess.run(
        [sys.executable, "-m", "cProfile", "-s", "cumulative", os.path.join(REPO, "train.py"), "--steps", "10"],
        capture_output=True, text=True, timeout=300, env=fresh_shell_env(), cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert steps_printed(result.stdout) == [10] and "function calls" in result.stdout


# --- the reader of stdout goes away, or cannot be written ---


def test_a_pipe_closed_by_head_saves_the_steps_done_and_exits_quietly(tmp_path):
    process = subprocess.Popen(
        train_command("--save-dir", tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=fresh_shell_env()
    )
    head = [process.stdout.readline() for _ in range(5)]  # what `| head -5` reads, then it exits
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert stderr == b""
    assert head[-1].decode().startswith("第   10步")
    [saved] = checkpoints(tmp_path)
    assert 10 <= saved < 2000


def test_an_output_that_cannot_be_written_is_one_line(tmp_path):
    with open("/dev/full", "w") as full:  # a disk that is full
        result = subprocess.run(
            train_command("--steps", 20, "--save-dir", tmp_path), stdout=full, stderr=subprocess.PIPE, text=True,
            env=fresh_shell_env(), timeout=300,
        )
    assert result.returncode == 1
    # The first line, Extracting, already fails: nothing was trained.
    assert result.stderr == (
        "error: the standard output cannot be written (No space left on device); check where it is redirected to; "
        "no checkpoint is there\n"
    )


@pytest.mark.parametrize("stream", [1, 2])
def test_a_closed_stdout_or_stderr_is_no_error(tmp_path, stream):
    result = subprocess.run(
        train_command("--steps", 20, "--save-dir", tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=fresh_shell_env(), timeout=300, preexec_fn=lambda: os.close(stream), text=True,
    )
    assert result.returncode == 0
    assert checkpoints(tmp_path) == [20]


# --- polite stop signals: kill, timeout, docker stop, a closed terminal ---


def started_training(*flags):
    process = subprocess.Popen(
        train_command("--steps", 1_000_000, *flags), stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
        env=fresh_shell_env(),
    )
    for line in process.stdout:
        if line.decode().startswith("第   30步"):
            return process
    raise AssertionError("training never reached step 30")


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_saves_where_it_stopped_like_ctrl_c(tmp_path, name):
    number = getattr(signal, name)
    process = started_training("--save-dir", tmp_path)
    process.send_signal(number)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + number
    match = re.fullmatch(rf"Stopped by {name} after step (\d+); saved {tmp_path}/model-(\d+)\n", stderr.decode())
    assert match and match[1] == match[2]
    assert checkpoints(tmp_path) == [int(match[1])]


def test_timeout_stops_a_run_that_keeps_its_work(tmp_path):
    # coreutils' timeout sends SIGTERM when the time is up.
    result = subprocess.run(
        ["timeout", "6", *train_command("--steps", 1_000_000, "--save-dir", tmp_path)], capture_output=True,
        text=True, env=fresh_shell_env(), timeout=120,
    )
    assert result.returncode == 124  # timeout's own status for "the time ran out"
    assert re.fullmatch(rf"Stopped by SIGTERM after step \d+; saved {tmp_path}/model-\d+\n", result.stderr)
    assert len(checkpoints(tmp_path)) == 1


def test_closing_the_terminal_saves_the_steps_done(tmp_path):
    status, shown = run_in_a_terminal(
        train_command("--steps", 1_000_000, "--save-dir", tmp_path), fresh_shell_env(), until="第   30步"
    )
    assert status == 128 + signal.SIGHUP
    [saved] = checkpoints(tmp_path)
    assert saved >= 30


def test_ctrl_c_or_kill_at_random_moments_always_stops_cleanly(tmp_path):
    """Many runs, each sent Ctrl-C or SIGTERM three times 20 ms apart (an impatient user), at a
    moment from start-up to training: each stops within seconds, with its one line and no
    traceback, and leaves no stray file."""
    random_delays = [0.3 + 0.25 * i for i in range(14)]  # start-up, reading, TensorFlow loading, training
    for i, delay in enumerate(random_delays):
        number = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
        save_dir = tmp_path / f"run{i}"
        process = subprocess.Popen(
            train_command("--steps", 1_000_000, "--save-dir", save_dir), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=fresh_shell_env(),
        )
        time.sleep(delay)
        for _ in range(3):
            process.send_signal(number)
            time.sleep(0.02)
        try:
            _, stderr = process.communicate(timeout=60)  # TensorFlow may still be loading, slowly on a busy machine
        finally:
            process.kill()
        name = "Ctrl-C" if number == signal.SIGINT else "SIGTERM"
        assert process.returncode == 128 + number, (delay, stderr)
        assert re.fullmatch(rf"Stopped by {name}( after step \d+; saved .*/model-\d+)?\n", stderr.decode()), (delay, stderr)
        assert b"Traceback" not in stderr
        if save_dir.exists():
            assert all(name == "checkpoint" or name.startswith("model-") for name in os.listdir(save_dir))


# --- directories that are not what the flag expects ---


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    return path


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--eval-only", "--save-dir", "{tmp}/does-not-exist"], "{tmp}/does-not-exist: no such directory; to train into it first: python {repo}/train.py --save-dir {tmp}/does-not-exist"),
        (["--eval-only", "--save-dir", "{file}"], "{file}: is a file, not a directory; choose another --save-dir"),
        (["--save-dir", "{file}"], "{file}: is a file, not a directory; choose another --save-dir"),
        (["--save-dir", "{file}/ck"], "{file}/ck: cannot be written (Not a directory); choose another --save-dir"),
        (["--logdir", "{file}"], "{file}: is a file, not a directory; choose another --logdir"),
        (["--logdir", "{file}/logs"], "{file}/logs: cannot be written (Not a directory); choose another --logdir"),
        (["--data-dir", "{file}"], "{file}: is a file, not a directory; choose another --data-dir"),
        (["--data-dir", "{file}/mnist"], "{file}/mnist: cannot be written (Not a directory); choose another --data-dir"),
    ],
)
def test_a_directory_flag_that_cannot_be_used_is_one_line_and_creates_nothing(tmp_path, a_file, flags, message):
    before = snapshot(tmp_path)
    flags = [flag.format(tmp=tmp_path, file=a_file) for flag in flags]
    result = run_train(*flags)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: " + message.format(tmp=tmp_path, file=a_file, repo=REPO)]
    assert loss_lines(result.stdout) == []
    assert snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["a-file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any directory")
def test_a_save_dir_that_cannot_be_read_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    try:
        result = run_train("--eval-only", "--save-dir", locked)
    finally:
        locked.chmod(0o755)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {locked}: cannot be read (Permission denied); choose another --save-dir"]


def test_a_save_dir_with_a_quoted_tilde_means_the_home_directory(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    result = run_train("--steps", 10, "--save-dir", "~/ck", env=fresh_shell_env(HOME=str(home)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert checkpoints(home / "ck") == [10] and not (tmp_path / "~").exists()


def test_a_save_dir_with_other_files_named_model_is_used(tmp_path):
    (tmp_path / "model-v1.h5").write_bytes(b"someone else's model")
    result = run_train("--steps", 10, "--save-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert checkpoints(tmp_path) == [10] and (tmp_path / "model-v1.h5").read_bytes() == b"someone else's model"


# --- checkpoints from another machine ---


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("trained")
    result = run_train("--steps", 40, "--save-every", 20, "--save-dir", directory, "--seed", 3)
    assert result.returncode == 0, result.stderr
    return directory, result.stdout.splitlines()[-1]


@pytest.mark.parametrize("elsewhere", ["/home/someone/ckpt", "C:\\Users\\someone\\ckpt", "../ckpt"])
def test_a_checkpoint_copied_from_another_machine_is_restored_from_its_own_directory(trained, tmp_path, elsewhere):
    directory, accuracy_line = trained
    copy = tmp_path / "copied"
    shutil.copytree(directory, copy)
    separator = "\\" if "\\" in elsewhere else "/"
    # As older TensorFlow wrote it: the paths where the checkpoint was saved, on that machine.
    (copy / "checkpoint").write_text(
        f'model_checkpoint_path: "{elsewhere}{separator}model-40"\n'
        f'all_model_checkpoint_paths: "{elsewhere}{separator}model-20"\n'
        f'all_model_checkpoint_paths: "{elsewhere}{separator}model-40"\n'.replace("\\", "\\\\")
    )
    result = run_train("--eval-only", "--save-dir", copy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [f"Restored step 40 from {copy}/model-40", accuracy_line]
    # Training on keeps the newest five, counting the copied ones.
    assert run_train("--steps", 60, "--save-every", 10, "--save-dir", copy).returncode == 0
    assert checkpoints(copy) == [20, 40, 50, 60]


def test_a_moved_checkpoint_directory_keeps_working(trained, tmp_path):
    directory, accuracy_line = trained
    moved = tmp_path / "moved" / "here"
    shutil.copytree(directory, moved)
    result = run_train("--eval-only", "--save-dir", moved)
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == accuracy_line


# --- TensorBoard, TensorFlow's own viewer, reads what --logdir wrote ---


def test_tensorboard_shows_the_loss_accuracy_and_pictures_of_a_run(tmp_path):
    result = run_train("--steps", 30, "--logdir", tmp_path)
    assert result.returncode == 0, result.stderr
    [run] = os.listdir(tmp_path)
    printed = [float(LOSS_LINE.fullmatch(line)[2]) for line in loss_lines(result.stdout)]
    board = subprocess.Popen(
        # As the `tensorboard` command runs it, wherever pip put that command.
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path), "--host", "127.0.0.1",
         "--port", "0", "--load_fast=false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=fresh_shell_env(),
    )
    try:
        address = None
        for line in board.stderr:
            if match := re.search(r"TensorBoard [\d.]+ at (http://127\.0\.0\.1:\d+/)", line):
                address = match[1]
                break
        assert address, "TensorBoard did not start"

        def get(path, **query):
            with urllib.request.urlopen(address + path + "?" + urllib.parse.urlencode(query), timeout=10) as response:
                return json.load(response)

        for _ in range(60):  # it reads the event files in the background, soon after it starts
            # per_digit_accuracy is the run's last summary: once it is there, all are.
            if run in get("data/plugin/text/tags"):
                break
            time.sleep(0.5)
        assert {"loss", "accuracy"} <= set(get("data/plugin/scalars/tags")[run])
        loss = get("data/plugin/scalars/scalars", run=run, tag="loss")
        accuracy = get("data/plugin/scalars/scalars", run=run, tag="accuracy")
        images = get("data/plugin/images/tags")[run]
        weights_3 = get("data/plugin/images/images", run=run, tag="weights/image/3")
        texts = get("data/plugin/text/tags")[run]
        [table] = get("data/plugin/text/text", run=run, tag="per_digit_accuracy")
    finally:
        board.terminate()
        board.wait(timeout=30)
    assert [step for _, step, _ in loss] == [10, 20, 30]
    assert [round(value, 2) for _, _, value in loss] == printed
    assert [step for _, step, _ in accuracy] == [10, 20, 30] and all(0.5 < value < 1 for _, _, value in accuracy)
    assert sorted(tag for tag in images if tag.startswith("weights/")) == [f"weights/image/{digit}" for digit in range(10)]
    assert [image["step"] for image in weights_3] == [10, 20, 30]
    mistakes = [tag for tag in images if tag.startswith("mistakes/")]
    assert len(mistakes) == 20 and all(re.fullmatch(r"mistakes/\d{4} true \d read as \d", tag) for tag in mistakes)
    assert texts == ["per_digit_accuracy"]
    # Rendered from its markdown: a table with a row for each digit.
    assert table["step"] == 30 and table["text"].count("<tr>") == 11 and "read as" in table["text"]


# --- a Python without the packages ---


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A new virtual environment with nothing installed: a Python on which set-up was not done."""
    directory = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True, timeout=120)
    return directory


def test_a_python_without_the_packages_says_so_in_one_line(bare_python):
    python = bare_python / "bin" / "python"
    result = subprocess.run([python, os.path.join(REPO, "train.py")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: this Python ({python}, ") and "has no tensorflow" in line and "README.md" in line
