"""train.py where things go wrong around it: a notebook that runs it twice, full, read-only and
unwritable disks, paths too long, two runs into one --save-dir, learning rates float32 cannot
hold, checkpoints edited by hand or named by their prefix, and old Pythons. Real processes,
file systems, users and interpreters; a test that needs what this machine cannot give (root
to mount a tmpfs, another user, an old Python) is skipped with the reason."""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import (
    REPO,
    checkpoints,
    fresh_shell_env,
    loss_lines,
    run_train,
    snapshot,
    steps_printed,
    train_command,
)

# What a failed save advises, after its reason.
MAKE_ROOM = "make room or give write access there, or choose another --save-dir"
# What a checkpoint directory may hold after any run: checkpoints, the state file, the lock.
CHECKPOINT_FILE = re.compile(r"model-\d+\.(index|meta|data-\d{5}-of-\d{5})|checkpoint|\.lock")


def only_checkpoint_files(directory):
    return all(CHECKPOINT_FILE.fullmatch(name) for name in os.listdir(directory))


# --- a notebook runs the script twice ---


def test_ipython_runs_train_py_twice_in_one_kernel(tmp_path):
    # Train, then evaluate and go on training, each %run in the same process and graph state.
    script = tmp_path / "twice.ipy"
    train = os.path.join(REPO, "train.py")
    script.write_text(
        f"%run {train} --steps 20 --save-dir {tmp_path / 'ck'}\n"
        f"%run {train} --save-dir {tmp_path / 'ck'} --eval-only\n"
        f"%run {train} --save-dir {tmp_path / 'ck'} --steps 30\n"
        "print('the host lives on')\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=NoColor", str(script)],
        capture_output=True, text=True, timeout=300, env=fresh_shell_env(), cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stdout + result.stderr
    assert steps_printed(result.stdout) == [10, 20, 30]
    assert result.stdout.count(f"Restored step 20 from {tmp_path / 'ck'}/model-20") == 2
    assert result.stdout.count("准确率") == 3 and result.stdout.rstrip().endswith("the host lives on")
    assert checkpoints(tmp_path / "ck") == [20, 30]


def test_exec_without_file_and_a_kernels_command_line(tmp_path):
    # VS Code's interactive window and notebook cells exec the file's text: no __file__, and in
    # Jupyter sys.argv holds the kernel's own flags, which are not train.py's.
    host = (
        "import sys\n"
        "sys.argv = ['/usr/lib/python3/site-packages/ipykernel_launcher.py', '-f', '/tmp/kernel-1.json']\n"
        f"code = open({os.path.join(REPO, 'train.py')!r}).read()\n"
        "exec(code, {'__name__': '__main__'})\n"
        "exec(code, {'__name__': '__main__'})\n"
        "print('the host lives on')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", host], capture_output=True, text=True, timeout=300, env=fresh_shell_env(), cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("第 2000步") == 2 and result.stdout.endswith("the host lives on\n")


# --- saving fails: the true reason, what is safe, no litter ---


@pytest.fixture
def small_disk(tmp_path):
    """Make a tmpfs of a given size (KiB) mounted at a new directory; unmounted afterwards."""
    mounted = []

    def mount(kib, *options):
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", ",".join([f"size={kib}k", *options]), "tmpfs", str(point)],
            capture_output=True, text=True,
        )
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not root'})")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_full_disk_names_its_reason_and_the_checkpoint_that_is_safe(small_disk):
    # Room for two checkpoints (48 KiB each) and part of a third.
    disk = small_disk(120)
    result = run_train("--steps", 100, "--save-every", 10, "--save-dir", disk)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    match = re.fullmatch(
        rf"error: {disk}: a checkpoint cannot be saved there \(No space left on device\); {MAKE_ROOM}; "
        rf"the steps done are saved in {disk}/model-(\d+)", line
    )
    assert match, line
    assert only_checkpoint_files(disk), os.listdir(disk)
    safe = int(match[1])
    assert safe in checkpoints(disk) and safe >= 20
    evaluated = run_train("--eval-only", "--save-dir", disk)
    assert evaluated.returncode == 0 and f"Restored step {safe} from {disk}/model-{safe}" in evaluated.stdout


def test_a_full_disk_before_any_checkpoint_says_none_was_saved(small_disk):
    disk = small_disk(16)  # less than the data file (31 KiB)
    result = run_train("--steps", 20, "--save-dir", disk)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {disk}: a checkpoint cannot be saved there (No space left on device); {MAKE_ROOM}; no checkpoint is there"
    ]
    assert only_checkpoint_files(disk), os.listdir(disk)


def test_a_read_only_file_system_is_reported_before_training(small_disk):
    disk = small_disk(1024, "ro")
    result = run_train("--save-dir", disk / "ck")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {disk / 'ck'}: cannot be written (Read-only file system); choose another --save-dir"
    ]
    assert loss_lines(result.stdout) == []


def test_a_path_too_long_for_the_system_is_reported_before_training_and_leaves_nothing(tmp_path):
    # Directories the system can make, in which a checkpoint's file name no longer fits PATH_MAX.
    limit = os.pathconf(tmp_path, "PC_PATH_MAX")
    deep = tmp_path
    while len(str(deep)) < limit - 40:
        deep = deep / ("d" * min(200, limit - 40 - len(str(deep)) - 1))
    result = run_train("--save-dir", deep)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {deep}: cannot be written (File name too long); choose another --save-dir"]
    assert loss_lines(result.stdout) == [] and os.listdir(tmp_path) == []


def run_as_nobody():
    os.setgid(65534)
    os.setuid(65534)


def nobody_can_run_this_python():
    if os.geteuid() != 0:
        return False  # only root can start a process as another user, whose rights root then takes away
    try:
        return subprocess.run([sys.executable, "-c", ""], preexec_fn=run_as_nobody, timeout=60).returncode == 0
    except OSError:  # the interpreter lies under a directory only its owner may enter (/root)
        return False


def started_saving_every_10_steps(save_dir, **options):
    process = subprocess.Popen(
        train_command("--steps", 1_000_000, "--save-every", 10, "--save-dir", save_dir), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=fresh_shell_env(), **options,
    )
    for line in process.stdout:
        if line.decode().startswith("第   30步"):
            return process
    raise AssertionError("training never reached step 30")


def assert_stopped_saving_with(process, save_dir, reason):
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    [line] = stderr.decode().splitlines()
    match = re.fullmatch(
        rf"error: {save_dir}: a checkpoint cannot be saved there \({reason}\); {MAKE_ROOM}; "
        rf"the steps done are saved in {save_dir}/model-(\d+)", line
    )
    assert match, line
    assert int(match[1]) >= 30 and only_checkpoint_files(save_dir)


def test_a_disk_made_read_only_during_a_run_keeps_what_was_saved(small_disk):
    disk = small_disk(1024)
    process = started_saving_every_10_steps(disk)
    for _ in range(100):  # the system refuses while a checkpoint file is open for writing
        if subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True).returncode == 0:
            break
        time.sleep(0.01)
    else:
        process.kill()
        raise AssertionError("the disk could not be made read-only")
    assert_stopped_saving_with(process, disk, "Read-only file system")


@pytest.mark.skipif(not nobody_can_run_this_python(), reason="cannot run this Python as another user here")
def test_write_permission_lost_during_a_run_keeps_what_was_saved(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(shared, 0o777)
    save_dir = shared / "ck"
    process = started_saving_every_10_steps(save_dir, preexec_fn=run_as_nobody, cwd="/")
    os.chmod(save_dir, 0o555)  # the user's rights to the directory are taken away
    assert_stopped_saving_with(process, save_dir, "Permission denied")


def test_a_full_disk_under_logdir_is_one_line_after_the_accuracy(small_disk, tmp_path):
    disk = small_disk(24)
    result = run_train("--steps", 300, "--logdir", disk, "--save-dir", tmp_path / "ck")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert re.fullmatch(
        rf"error: {disk}/run-[\d-]+: the TensorBoard events cannot be written there \(No space left on device\), "
        rf"and this run's were removed; make room there, or choose another --logdir; "
        rf"the steps done are saved in {tmp_path}/ck/model-300", line
    ), line
    assert checkpoints(tmp_path / "ck") == [300] and os.listdir(disk) == []


# --- two runs into one --save-dir ---


def test_a_second_run_into_a_save_dir_in_use_refuses_and_a_killed_run_leaves_no_lock(tmp_path):
    first = subprocess.Popen(
        train_command("--steps", 1_000_000, "--save-dir", tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=fresh_shell_env(),
    )
    try:
        for line in first.stdout:
            if line.decode().startswith("第   10步"):
                break
        second = run_train("--steps", 20, "--save-dir", tmp_path)
        assert second.returncode == 1
        assert second.stderr.splitlines() == [
            f"error: {tmp_path}: is in use by another training run; wait for it to finish, or choose another --save-dir"
        ]
        assert loss_lines(second.stdout) == []
    finally:
        first.kill()  # a crash: no chance to release anything
        first.wait(timeout=60)
    third = run_train("--steps", 20, "--save-dir", tmp_path)
    assert third.returncode == 0, third.stderr
    assert checkpoints(tmp_path) == [20]


# --- learning rates and diverged checkpoints ---


def test_a_diverged_checkpoint_is_not_resumed_silently(tmp_path):
    # 3e38 fits float32, and makes the weights overflow at once.
    diverged = run_train("--steps", 20, "--learning-rate", 3e38, "--save-dir", tmp_path)
    assert diverged.returncode == 0 and "nan" in diverged.stdout
    before = snapshot(tmp_path)
    result = run_train("--steps", 40, "--save-dir", tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {tmp_path}: checkpoint model-20 holds nan or inf in w: its training diverged "
        "(a learning rate too large); delete its files, or choose another --save-dir"
    ]
    assert snapshot(tmp_path) == before


# --- checkpoints edited by hand, or named by their prefix ---


@pytest.fixture(scope="module")
def three_checkpoints(tmp_path_factory):
    directory = tmp_path_factory.mktemp("three")
    result = run_train("--steps", 30, "--save-every", 10, "--save-dir", directory, "--seed", 2)
    assert result.returncode == 0, result.stderr
    return directory


def copy_of(directory, tmp_path, name="copy"):
    copy = tmp_path / name
    shutil.copytree(directory, copy)
    return copy


def test_a_checkpoint_file_edited_in_notepad_is_read(three_checkpoints, tmp_path):
    copy = copy_of(three_checkpoints, tmp_path)
    # Back to step 20, as Notepad saves it: a UTF-8 BOM and CRLF line ends.
    (copy / "checkpoint").write_bytes(
        '\ufeffmodel_checkpoint_path: "model-20"\r\nall_model_checkpoint_paths: "model-10"\r\n'
        'all_model_checkpoint_paths: "model-20"\r\n'.encode("utf-8")
    )
    result = run_train("--steps", 25, "--save-dir", copy)
    assert result.returncode == 0, result.stderr
    assert f"Restored step 20 from {copy}/model-20" in result.stdout and steps_printed(result.stdout) == []


def test_training_on_from_an_older_checkpoint_says_which_newer_ones_it_replaces(three_checkpoints, tmp_path):
    copy = copy_of(three_checkpoints, tmp_path)
    (copy / "checkpoint").write_text('model_checkpoint_path: "model-10"\n')
    result = run_train("--steps", 20, "--save-dir", copy)
    assert result.returncode == 0, result.stderr
    assert (
        f"Note: {copy}: going on from model-10, which its 'checkpoint' file names; this run replaces "
        "model-20, model-30 as it reaches their steps"
    ) in result.stdout
    assert f"Restored step 10 from {copy}/model-10" in result.stdout and checkpoints(copy) == [10, 20, 30]


@pytest.mark.parametrize("state", ["missing", "unreadable", "names a deleted checkpoint"])
def test_without_a_usable_checkpoint_file_the_newest_complete_checkpoint_is_used(three_checkpoints, tmp_path, state):
    copy = copy_of(three_checkpoints, tmp_path)
    if state == "missing":
        os.remove(copy / "checkpoint")
        problem = "it has no readable 'checkpoint' file"
    elif state == "unreadable":
        (copy / "checkpoint").write_bytes(b"\xff\xfe\x00garbage")
        problem = "it has no readable 'checkpoint' file"
    else:
        for name in glob.glob(str(copy / "model-30.*")):
            os.remove(name)
        problem = "its 'checkpoint' file names model-30, which is not there"
    newest = 20 if state == "names a deleted checkpoint" else 30
    result = run_train("--eval-only", "--save-dir", copy)
    assert result.returncode == 0, result.stderr
    assert f"Note: {copy}: {problem}; using the newest complete checkpoint there, {copy}/model-{newest}" in result.stdout
    assert f"Restored step {newest} from {copy}/model-{newest}" in result.stdout


def test_a_checkpoint_prefix_as_save_dir_is_evaluated_and_predicted_with(three_checkpoints, tmp_path):
    result = run_train("--eval-only", "--save-dir", three_checkpoints / "model-20")
    assert result.returncode == 0, result.stderr
    assert f"Restored step 20 from {three_checkpoints}/model-20" in result.stdout


def test_a_checkpoint_prefix_that_is_not_there_names_those_that_are(three_checkpoints):
    result = run_train("--eval-only", "--save-dir", three_checkpoints / "model-1000")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {three_checkpoints}/model-1000: no such checkpoint; {three_checkpoints} holds model-10, model-20, model-30"
    ]


def test_training_on_a_checkpoint_prefix_suggests_a_command_that_pastes(three_checkpoints, tmp_path):
    copy = copy_of(three_checkpoints, tmp_path, name="my checkpoints")  # a space, as in Windows' folders
    before = snapshot(copy)
    result = run_train("--save-dir", copy / "model-20")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    prefix = f"error: {copy}/model-20: is a checkpoint, not a directory; to train on from the newest checkpoint beside it, give "
    assert line.startswith(prefix)
    assert shlex.split(line[len(prefix) :]) == ["--save-dir", str(copy)]
    assert snapshot(copy) == before


def test_a_source_url_that_is_no_url_is_one_line(tmp_path):
    result = run_train("--data-dir", tmp_path, "--source-url", "http://[::1", "--source-url", "http://me:s3cret@127.0.0.1:9/")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "http://[::1/train-images-idx3-ubyte.gz (Invalid IPv6 URL)" in line
    assert "s3cret" not in line + result.stdout and "http://127.0.0.1:9/train-images-idx3-ubyte.gz (" in line
    assert os.listdir(tmp_path) == []


def test_a_missing_save_dir_suggests_a_command_that_pastes(tmp_path):
    missing = tmp_path / "no such dir"
    result = run_train("--eval-only", "--save-dir", missing)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    prefix = f"error: {missing}: no such directory; to train into it first: "
    assert line.startswith(prefix)
    assert shlex.split(line[len(prefix) :]) == ["python", os.path.join(REPO, "train.py"), "--save-dir", str(missing)]


# --- old Pythons ---


def old_pythons():
    """Interpreters older than 3.10 on this machine: Debian's or pyenv's, wherever they are."""
    found = {}
    for version in ("2.7", "3.6", "3.7", "3.8", "3.9"):
        candidates = [shutil.which(f"python{version}")] + sorted(
            glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}"))
        )
        found.update({version: path for path in candidates if path and os.access(path, os.X_OK)})
    return found


@pytest.mark.parametrize("version", ["2.7", "3.6", "3.7", "3.8", "3.9"])
def test_an_old_python_is_one_line_naming_it(version):
    python = old_pythons().get(version)
    if not python:
        pytest.skip(f"no Python {version} on this machine")
    result = subprocess.run([python, os.path.join(REPO, "train.py"), "--steps", "10"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: this is Python {version}.") and "needs Python 3.10 to 3.13" in line, line
    assert result.stdout == ""
