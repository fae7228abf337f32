"""The tutorial's next lessons as flags: checkpoints and resuming, TensorBoard events, Ctrl-C."""
import io
import os
import re
import signal
import subprocess
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from PIL import Image

import train
from data_set import input_data
from tests.conftest import (
    LOSS_LINE,
    REPO,
    SHIPPED_DATA,
    accuracy_of,
    checkpoints,
    fresh_shell_env,
    loss_lines,
    run_train,
    snapshot,
    steps_printed,
    train_command,
)

@pytest.fixture(scope="module")
def mnist():
    with redirect_stdout(io.StringIO()):
        return input_data.read_data_sets(SHIPPED_DATA, one_hot=True)


def test_save_then_resume_continues_the_step_numbers(tmp_path):
    first = run_train("--steps", 30, "--save-dir", tmp_path, "--save-every", 10)
    assert first.returncode == 0, first.stderr
    assert checkpoints(tmp_path) == [10, 20, 30]
    second = run_train("--steps", 50, "--save-dir", tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"Restored step 30 from {tmp_path}/model-30" in second.stdout.splitlines()
    assert steps_printed(second.stdout) == [40, 50]
    assert checkpoints(tmp_path) == [10, 20, 30, 50]
    # --steps is the total: a run asking for no more than is done only evaluates.
    third = run_train("--steps", 40, "--save-dir", tmp_path)
    assert steps_printed(third.stdout) == [] and accuracy_of(third.stdout) == accuracy_of(second.stdout)


def test_only_the_newest_five_checkpoints_are_kept_across_runs(tmp_path):
    assert run_train("--steps", 70, "--save-dir", tmp_path, "--save-every", 10).returncode == 0
    assert checkpoints(tmp_path) == [30, 40, 50, 60, 70]
    assert run_train("--steps", 90, "--save-dir", tmp_path, "--save-every", 10).returncode == 0
    assert checkpoints(tmp_path) == [50, 60, 70, 80, 90]


def test_restored_weights_equal_the_saved_ones(tmp_path):
    args = train.parser.parse_args(["--steps", "25", "--save-dir", str(tmp_path)])
    with tf.Graph().as_default(), redirect_stdout(io.StringIO()):
        trained = train.Train(args)
        trained.train()
        saved = trained.sess.run([trained.net.w, trained.net.b, trained.net.global_step])
    with tf.Graph().as_default(), redirect_stdout(io.StringIO()) as out:
        restored = train.Train(args)
        loaded = restored.sess.run([restored.net.w, restored.net.b, restored.net.global_step])
    assert out.getvalue().splitlines()[-1] == f"Restored step 25 from {tmp_path}/model-25"
    assert saved[2] == loaded[2] == 25 and np.abs(saved[0]).max() > 0
    np.testing.assert_array_equal(saved[0], loaded[0])
    np.testing.assert_array_equal(saved[1], loaded[1])


def test_eval_only_prints_the_accuracy_the_training_run_ended_with(tmp_path):
    trained = run_train("--steps", 200, "--save-dir", tmp_path)
    evaluated = run_train("--eval-only", "--save-dir", tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert steps_printed(evaluated.stdout) == []
    assert evaluated.stdout.splitlines()[-2:] == [f"Restored step 200 from {tmp_path}/model-200", trained.stdout.splitlines()[-1]]
    assert checkpoints(tmp_path) == [200]


def test_eval_only_needs_a_checkpoint(tmp_path):
    result = run_train("--eval-only", "--save-dir", tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {tmp_path}: holds no checkpoint to use; to train into it first: python {REPO}/train.py --save-dir {tmp_path}"
    ]
    result = run_train("--eval-only")
    assert result.returncode == 2 and "--eval-only needs --save-dir" in result.stderr


def decoded(image):
    """The pixels of an image summary's PNG, as Pillow reads them: (height, width) for gray,
    (height, width, 3) for RGB."""
    return np.asarray(Image.open(io.BytesIO(image.encoded_image_string)))


def test_tensorboard_events_hold_the_graph_loss_accuracy_weights_and_pictures(tmp_path, mnist):
    logs, ckpt = tmp_path / "logs", tmp_path / "ckpt"
    result = run_train("--steps", 30, "--logdir", logs, "--save-dir", ckpt)
    assert result.returncode == 0, result.stderr
    [run] = os.listdir(logs)
    assert f"TensorBoard events go to {logs / run}" in result.stdout.splitlines()
    [event_file] = os.listdir(logs / run)
    graph_found, scalars, histograms, images, texts = False, {}, {}, {}, {}
    for event in tf.train.summary_iterator(str(logs / run / event_file)):
        graph_found |= bool(event.graph_def)
        for value in event.summary.value:
            if value.HasField("histo"):
                histograms.setdefault(value.tag, []).append((event.step, value.histo))
            elif value.HasField("image"):
                images.setdefault(value.tag, []).append((event.step, value.image))
            elif value.metadata.plugin_data.plugin_name == "text":
                texts.setdefault(value.tag, []).append((event.step, value.tensor.string_val[0].decode()))
            else:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    assert graph_found
    printed = [float(LOSS_LINE.fullmatch(line)[2]) for line in loss_lines(result.stdout)]
    assert [step for step, _ in scalars["loss"]] == [10, 20, 30]
    assert [round(loss, 2) for _, loss in scalars["loss"]] == printed
    assert [step for step, _ in scalars["accuracy"]] == [10, 20, 30]
    assert all(0.5 < accuracy < 1 for _, accuracy in scalars["accuracy"])
    assert sorted(histograms) == ["b", "w"]
    assert [step for step, _ in histograms["w"]] == [10, 20, 30]
    assert histograms["w"][-1][1].num == 7840 and histograms["b"][-1][1].num == 10

    # What the run ended with, computed here from its checkpoint by the same network.
    args = train.parser.parse_args(["--save-dir", str(ckpt), "--eval-only"])
    with tf.Graph().as_default(), redirect_stdout(io.StringIO()):
        app = train.Train(args)  # restores the newest checkpoint
        w, y = app.sess.run([app.net.w, app.net.y], feed_dict={app.net.x: mnist.test.images})
    labels, predictions = mnist.test.labels.argmax(1), y.argmax(1)

    # The ten templates at each logged step, made in the graph: w's columns as 28x28 RGB pictures,
    # red where a weight is positive, blue where it is negative, white where it is 0 (the blank
    # corners).
    templates = []
    for digit in range(10):
        shown = images[f"weights/image/{digit}"]
        assert [step for step, _ in shown] == [10, 20, 30]
        assert all((image.height, image.width, image.colorspace) == (28, 28, 3) for _, image in shown)
        pixels = [decoded(image) for _, image in shown]
        assert all(picture.shape == (28, 28, 3) for picture in pixels)
        templates.append(pixels[-1].reshape(784, 3).astype(int))  # at step 30, as the checkpoint
    templates = np.stack(templates, axis=1)  # (784, 10, 3), as w's pixels and digits
    redness = templates[..., 0] - templates[..., 2]
    clear = np.abs(w) > np.abs(w).max() / 50  # weights too small to shift a colour are near white
    assert clear.sum() > 1000 and (w[clear] > 0).any() and (w[clear] < 0).any()
    assert (np.sign(redness[clear]) == np.sign(w[clear])).all()
    assert (templates[w == 0] == 255).all()
    # One scale for all ten: each pixel is white mixed with full red or blue in the share
    # |w| / max|w| over all ten digits, so only the largest weight is full red or blue.
    full = np.where(w[..., np.newaxis] > 0, [178, 24, 43], [33, 102, 172])
    expected = 255 + (np.abs(w) / np.abs(w).max())[..., np.newaxis] * (full - 255)
    assert np.abs(templates - expected).max() <= 1

    # The mistakes: the first 20 test digits the model gets wrong, as MNIST has them, each
    # tagged with its index, its true digit and the digit the model reads.
    mistakes = {tag: shown for tag, shown in images.items() if tag.startswith("mistakes/")}
    tagged = [re.fullmatch(r"mistakes/(\d{4}) true (\d) read as (\d)", tag) for tag in sorted(mistakes)]
    assert all(tagged), sorted(mistakes)
    wrong = np.flatnonzero(labels != predictions)[:20]
    assert len(wrong) == 20 and [int(match[1]) for match in tagged] == list(wrong)
    for match in tagged:
        index = int(match[1])
        assert (int(match[2]), int(match[3])) == (labels[index], predictions[index])
        [(step, image)] = mistakes[match[0]]
        pixels = decoded(image)
        assert step == 30 and pixels.shape == (28, 28) and image.colorspace == 1
        np.testing.assert_array_equal(pixels, np.rint(mnist.test.images[index].reshape(28, 28) * 255))

    # The per-digit table agrees with the checkpoint's own predictions on the 10,000 test images.
    [(step, table)] = texts["per_digit_accuracy"]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    assert step == 30 and len(rows) == 10
    for digit, (shown, count, accuracy, mistaken) in enumerate(rows):
        read = np.bincount(predictions[labels == digit], minlength=10)
        confused = np.where(np.arange(10) == digit, -1, read).argmax()
        assert int(shown) == digit and int(count) == read.sum()
        assert accuracy.strip() == f"{100 * read[digit] / read.sum():.1f}%"
        assert mistaken.strip() == f"read as {confused} in {100 * read[confused] / read.sum():.1f}% of cases"


def test_each_run_writes_its_own_directory_under_logdir(tmp_path):
    """So that TensorBoard shows two runs side by side instead of one mixed line."""
    for _ in range(3):
        assert run_train("--steps", 10, "--logdir", tmp_path).returncode == 0
    runs = sorted(os.listdir(tmp_path))
    assert len(runs) == 3 and all(name.startswith("run-") for name in runs)
    assert all(len(os.listdir(tmp_path / run)) == 1 for run in runs)


def summary_tags(directory):
    """{tag: [(step, value proto)]} of every summary in the one run directory under directory."""
    [run] = os.listdir(directory)
    tags = {}
    for name in os.listdir(directory / run):
        for event in tf.train.summary_iterator(str(directory / run / name)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append((event.step, value))
    return tags


def test_eval_only_with_logdir_writes_the_checkpoints_test_results(tmp_path):
    assert run_train("--steps", 30, "--save-dir", tmp_path / "ck").returncode == 0
    result = run_train("--eval-only", "--save-dir", tmp_path / "ck", "--logdir", tmp_path / "logs")
    assert result.returncode == 0, result.stderr
    tags = summary_tags(tmp_path / "logs")
    [(step, value)] = tags["test_accuracy"]
    assert step == 30 and round(value.simple_value, 2) == accuracy_of(result.stdout)[0]
    assert "per_digit_accuracy" in tags and any(tag.startswith("mistakes/") for tag in tags)
    assert "loss" not in tags  # nothing was trained


def test_a_run_too_short_to_log_a_step_still_gives_tensorboard_a_scalar(tmp_path):
    result = run_train("--steps", 5, "--logdir", tmp_path)
    assert result.returncode == 0, result.stderr
    tags = summary_tags(tmp_path)
    assert "loss" not in tags and [step for step, _ in tags["test_accuracy"]] == [5]


def test_logdir_needs_a_validation_set():
    result = run_train("--logdir", "unused", "--validation-size", 0)
    assert result.returncode == 2 and "--validation-size must be more than 0" in result.stderr


def interrupt_after(line_start, *flags):
    """Start a long run, send it Ctrl-C once it has printed a line so starting, and return what it wrote."""
    # Unbuffered, so that reading up to step's line reads nothing past it, which communicate() would miss.
    process = subprocess.Popen(
        train_command("--steps", 1_000_000, *flags), stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
        env=fresh_shell_env(),
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.decode().startswith(line_start):
            process.send_signal(signal.SIGINT)
            break
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()  # one that hangs is not left running after the test; once it has exited, a no-op
    return process.returncode, b"".join([*lines, stdout]).decode(), stderr.decode()


def test_ctrl_c_saves_where_it_stopped_and_the_run_resumes_from_there(tmp_path):
    returncode, stdout, stderr = interrupt_after("第   50步", "--save-dir", tmp_path)
    assert returncode == 130, stderr
    match = re.fullmatch(rf"Stopped by Ctrl-C after step (\d+); saved {tmp_path}/model-(\d+)\n", stderr)
    assert match and match[1] == match[2], stderr
    stopped = int(match[1])
    assert stopped >= 50 and steps_printed(stdout)[-1] == stopped // 10 * 10
    assert "准确率" not in stdout
    assert checkpoints(tmp_path) == [stopped]
    resumed = run_train("--steps", stopped + 20, "--log-every", 1, "--save-dir", tmp_path)
    assert f"Restored step {stopped} from {tmp_path}/model-{stopped}" in resumed.stdout
    assert steps_printed(resumed.stdout) == list(range(stopped + 1, stopped + 21))


def test_ctrl_c_without_a_save_dir_says_nothing_was_saved():
    returncode, stdout, stderr = interrupt_after("第   20步")
    assert returncode == 130, stderr
    assert stderr == "Stopped by Ctrl-C; nothing is kept without --save-dir\n"


def test_ctrl_c_while_tensorflow_loads_stops_without_its_start_up_messages():
    # The last Extracting line comes as the data is read, while TensorFlow still loads. On a
    # stalled machine Ctrl-C can arrive after it has loaded, when training has begun: try again.
    for _ in range(3):
        returncode, stdout, stderr = interrupt_after("Extracting " + os.path.join(SHIPPED_DATA, input_data.TEST_LABELS))
        if "after step" not in stderr:
            break
    assert returncode == 130 and stderr == "Stopped by Ctrl-C; nothing is kept without --save-dir\n"
    assert not loss_lines(stdout)


def test_ctrl_c_stops_the_run_while_the_data_is_still_being_read(tmp_path):
    # A reading that never ends, like one from a stalled network drive: the training images are
    # a named pipe that nothing writes to.
    for name in input_data.MNIST_FILES:
        if name == input_data.TRAIN_IMAGES:
            os.mkfifo(tmp_path / name)
        else:
            os.symlink(os.path.join(SHIPPED_DATA, name), tmp_path / name)
    returncode, stdout, stderr = interrupt_after(
        "Extracting " + str(tmp_path / input_data.TRAIN_IMAGES), "--data-dir", tmp_path
    )
    assert returncode == 130 and stderr == "Stopped by Ctrl-C; nothing is kept without --save-dir\n"
    assert not loss_lines(stdout)


# Trains for 8 seconds with train.py's own session while another thread sends this process a
# signal every half millisecond; the Python handler does nothing, so training goes on.
TRAINING_UNDER_SIGNALS = """
import io, os, signal, sys, threading, time
from contextlib import redirect_stdout
import train
with redirect_stdout(io.StringIO()):
    app = train.Train(train.parser.parse_args([]))
signal.signal(signal.SIGINT, lambda number, frame: None)
def interrupt():
    while True:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.0005)
threading.Thread(target=interrupt, daemon=True).start()
steps, end = 0, time.monotonic() + 8
while time.monotonic() < end:
    x, label = app.data.train.next_batch(64)
    app.sess.run(app.net.train, feed_dict={app.net.x: x, app.net.label: label})
    steps += 1
print(steps, flush=True)
os._exit(0)  # the interrupting thread would go on signalling the interpreter's shutdown
"""


def test_signals_at_any_moment_of_a_step_are_safe():
    """The session runs the kernels in the main thread, where signal handlers run too: on a
    kernel's stack they corrupt memory within a second, unless the safety net has given the
    thread a stack of its own for them (faulthandler), as it does on import."""
    result = subprocess.run(
        [sys.executable, "-c", TRAINING_UNDER_SIGNALS], cwd=REPO, capture_output=True, text=True,
        timeout=120, env=fresh_shell_env(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout) > 100


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("saved")
    assert run_train("--steps", 20, "--save-dir", directory).returncode == 0
    return directory


def damaged_copy(saved_run, tmp_path, damage):
    for name in os.listdir(saved_run):
        (tmp_path / name).write_bytes((saved_run / name).read_bytes())
    damage(tmp_path)
    return snapshot(tmp_path)


def truncate(name, keep):
    def damage(directory):
        path = directory / name
        path.write_bytes(path.read_bytes()[:keep])

    return damage


def different_model(directory):
    for path in directory.iterdir():
        path.unlink()
    with tf.Graph().as_default():
        tf.Variable(tf.zeros([784, 5]), name="w")
        tf.Variable(tf.zeros([5]), name="b")
        tf.Variable(0, name="global_step")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver(save_relative_paths=True).save(sess, str(directory / "model"), global_step=7)


# A 'checkpoint' file that is missing or unreadable is no error: see test_hostile_places.py.
BAD_CHECKPOINTS = {
    "truncated data": (truncate("model-20.data-00000-of-00001", 100), "checkpoint model-20 is missing files or damaged"),
    "truncated index": (truncate("model-20.index", 20), "checkpoint model-20 is missing files or damaged"),
    "no data": (lambda d: (d / "model-20.data-00000-of-00001").unlink(), "checkpoint model-20 is missing files or damaged"),
    "different graph": (different_model, r"checkpoint model-7 was saved by a different model \(w is \[784, 5\] there, \[784, 10\] here\)"),
}


@pytest.mark.parametrize("case", BAD_CHECKPOINTS)
def test_a_bad_checkpoint_is_one_clear_line_and_left_as_it_was(saved_run, tmp_path, case):
    damage, message = BAD_CHECKPOINTS[case]
    before = damaged_copy(saved_run, tmp_path, damage)
    result = run_train("--steps", 40, "--save-dir", tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path}: ") and re.search(message, line), line
    assert steps_printed(result.stdout) == []
    assert snapshot(tmp_path) == before


def test_a_save_dir_that_cannot_be_written_is_reported_before_training(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_train("--save-dir", blocker / "checkpoints")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {blocker}/checkpoints: cannot be written (Not a directory); choose another --save-dir"]
    assert result.stdout == ""
