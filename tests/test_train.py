"""train.py run as a user runs it: a real subprocess on the real MNIST files."""
import re
import sys

import pytest

from tests.conftest import LOSS_LINE, SHIPPED_DATA, accuracy_of, fresh_shell_env, loss_lines, run_train, snapshot, steps_printed

@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    # From another directory: the data is found beside train.py, not in the working directory.
    return run_train(cwd=tmp_path_factory.mktemp("elsewhere"))


def test_default_run_prints_the_tutorials_lines_and_nothing_on_stderr(default_run):
    assert default_run.returncode == 0, default_run.stderr
    assert default_run.stderr == ""
    lines = default_run.stdout.splitlines()
    assert [line.split("/")[-1] for line in lines[:4]] == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    assert all(line.startswith("Extracting ") for line in lines[:4])
    losses = loss_lines(default_run.stdout)
    assert len(losses) == 200 and len(lines) == 4 + 200 + 1
    matches = [LOSS_LINE.fullmatch(line) for line in losses]
    assert all(matches), [line for line, match in zip(losses, matches) if not match][:3]
    assert [int(match[1]) for match in matches] == list(range(10, 2001, 10))
    assert losses[0] == "第   10步，当前loss：" + matches[0][2]
    # The loss falls: the last hundred lines average under half the first ten.
    values = [float(match[2]) for match in matches]
    assert sum(values[-100:]) / 100 < sum(values[:10]) / 10 / 2


def test_default_run_reaches_the_tutorials_accuracy(default_run):
    accuracy, tested = accuracy_of(default_run.stdout)
    assert tested == 10000
    assert 0.90 <= accuracy <= 0.93


def test_same_seed_same_output_byte_for_byte():
    first = run_train("--seed", 5, "--steps", 300)
    second = run_train("--seed", 5, "--steps", 300)
    assert first.returncode == second.returncode == 0
    assert len(loss_lines(first.stdout)) == 30
    assert first.stdout == second.stdout
    third = run_train("--seed", 6, "--steps", 300)
    assert loss_lines(third.stdout) != loss_lines(first.stdout)


def test_flags_change_the_run_on_data_of_the_users_own(small_data):
    directory, _ = small_data
    result = run_train(
        "--data-dir", directory, "--validation-size", 10, "--batch-size", 16, "--steps", 35,
        "--log-every", 7, "--learning-rate", 0.01,
    )
    assert result.returncode == 0, result.stderr
    assert steps_printed(result.stdout) == [7, 14, 21, 28, 35]
    assert accuracy_of(result.stdout)[1] == 30
    assert f"Extracting {directory}/train-images-idx3-ubyte.gz" in result.stdout


@pytest.mark.parametrize(
    "flags, complaint",
    [
        (["--steps", "0"], "argument --steps: '0' must be greater than 0"),
        (["--batch-size", "-64"], "argument --batch-size: '-64' must be greater than 0"),
        (["--log-every", "ten"], "argument --log-every: 'ten' is not an integer"),
        (["--learning-rate", "nan"], "argument --learning-rate: 'nan' must be greater than 0"),
        (["--learning-rate", "-0.1"], "argument --learning-rate: '-0.1' must be greater than 0"),
        (["--validation-size", "-1"], "argument --validation-size: '-1' must be 0 or more"),
        (["--seed", "-1"], "argument --seed: '-1' must be 0 or more"),
        (["--learning-rate", "inf"], "argument --learning-rate: 'inf' is outside what float32 holds (1.2e-38 to 3.4e38)"),
        # Finite to Python, but infinite (every loss nan) or zero (nothing learnt) in the model's float32.
        (["--learning-rate", "1e39"], "argument --learning-rate: '1e39' is outside what float32 holds (1.2e-38 to 3.4e38)"),
        (["--learning-rate", "1e-50"], "argument --learning-rate: '1e-50' is outside what float32 holds (1.2e-38 to 3.4e38)"),
        (["--show"], "--show shows what --predict saw: give --predict IMAGE too"),
        (["--save-dir", ""], "argument --save-dir: an empty path; give a directory"),
        (["--data-dir", ""], "argument --data-dir: an empty path; give a directory"),
        (["--validation-size", "60000"], "--validation-size 60000 leaves no training images"),
        (["--batch-size", "55001"], "--batch-size 55001 is more than the 55000 training images"),
        (
            ["--validation-size", "60001"],
            "--validation-size 60001: validation size must be between 0 and 60000 (the number of training images), got 60001",
        ),
        (["--step", "10"], "unrecognized arguments: --step 10"),
    ],
)
def test_a_bad_command_line_is_a_usage_error(flags, complaint):
    result = run_train(*flags)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: train.py")
    assert result.stderr.splitlines()[-1] == "train.py: error: " + complaint
    assert "Traceback" not in result.stderr and "第" not in result.stdout


def test_a_data_error_is_one_line_and_exit_1(small_data):
    directory, _ = small_data
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    before = snapshot(directory)
    result = run_train("--data-dir", directory)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {directory}/t10k-labels-idx1-ubyte.gz: is empty; delete it to download it again, or replace it"]
    assert snapshot(directory) == before


def test_a_missing_file_names_each_mirror_tried(small_data):
    directory, _ = small_data
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    before = snapshot(directory)
    result = run_train("--data-dir", directory, "--source-url", "http://127.0.0.1:9/a/", "--source-url", "ftp-nonsense")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {directory}/t10k-labels-idx1-ubyte.gz: is missing and could not be downloaded: ")
    assert "http://127.0.0.1:9/a/t10k-labels-idx1-ubyte.gz (" in line and "ftp-nonsense/t10k-labels-idx1-ubyte.gz (" in line
    assert snapshot(directory) == before


def test_help_shows_every_flag_with_its_default():
    # So wide that argparse wraps no line: it would split a path like /tmp/ci-clone at its hyphen.
    result = run_train("--help", env=fresh_shell_env(COLUMNS="1000"))
    assert result.returncode == 0 and result.stderr == ""
    text = " ".join(result.stdout.split())
    for flag, default in [
        ("--steps N", "2000"),
        ("--batch-size N", "64"),
        ("--learning-rate R", "0.001"),
        ("--log-every N", "10"),
        ("--validation-size N", "5000"),
        ("--data-dir DIR", SHIPPED_DATA),
        ("--seed N", "none, runs vary"),
        ("--source-url URL", "https://storage.googleapis.com/cvdf-datasets/mnist/ then https://ossci-datasets.s3"),
    ]:
        assert re.search(rf"{re.escape(flag)} [^(]*\(default: {re.escape(default)}", text), flag
    assert "--verbose" in text


# Lines TensorFlow writes while it loads. Which ones depends on the version and the machine:
# oneDNN's notice is not printed on every CPU, and the absl notice not by TensorFlow 2.16.
START_UP_LINE = re.compile(r"cpu_feature_guard|cudart_stub|oneDNN custom operations")


def test_verbose_shows_tensorflows_start_up_messages():
    result = run_train("--steps", 10, "--verbose")
    assert result.returncode == 0
    assert START_UP_LINE.search(result.stderr) and len(result.stderr.splitlines()) >= 3


def test_a_log_level_the_user_chose_is_respected():
    # At level 0 TensorFlow's later notices come through; the start-up lines stay hidden.
    result = run_train("--steps", 10, env=fresh_shell_env(TF_CPP_MIN_LOG_LEVEL="0"))
    assert result.returncode == 0
    assert "mlir_graph_optimization_pass" in result.stderr
    assert not START_UP_LINE.search(result.stderr)


def test_a_tensorflow_that_fails_to_load_shows_what_it_wrote(tmp_path):
    # A broken TensorFlow install: what it printed while failing must not be hidden.
    broken = tmp_path / "tensorflow"
    broken.mkdir()
    (broken / "__init__.py").write_text(
        "import os\nos.write(2, b'cannot load libtensorflow_framework.so.2\\n')\nraise ImportError('broken install')\n"
    )
    result = run_train(env=fresh_shell_env(PYTHONPATH=str(tmp_path)))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "cannot load libtensorflow_framework.so.2"
    assert lines[1:] == [
        f"error: tensorflow is installed in this Python ({sys.executable}, {sys.version.split()[0]}) but cannot "
        "be loaded (broken install); reinstall it: pip install --force-reinstall -r requirements.txt"
    ]
