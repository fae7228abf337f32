"""The user's own digit images: their MNIST-style preparation (data_set.digit_image) and train.py --predict."""
import io
import os
import re
import signal
import struct
import subprocess
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import model
from data_set import input_data
from data_set.digit_image import DigitImageError, prepare_digit
from tests.conftest import REPO, SHIPPED_DATA, fresh_shell_env, run_train, snapshot

PREDICTION_LINE = re.compile(r"        -> Predict digit (\d) \(probability (\d\.\d\d)\)")
PAGE_HEIGHT, PAGE_WIDTH = 150, 200


def run_ops(make_tensor):
    """The value of the tensor that make_tensor() builds, in a graph of its own: TensorFlow runs in graph mode here."""
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(make_tensor())


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    """A checkpoint of the default run, as the user makes it."""
    directory = tmp_path_factory.mktemp("checkpoint")
    result = run_train("--save-dir", directory, "--seed", 1)
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture(scope="module")
def classify(checkpoint_dir):
    """A function from images (N, 784) to the restored model's probabilities (N, 10)."""
    with tf.Graph().as_default():
        net = model.Network()
        sess = tf.Session()
        tf.train.Saver().restore(sess, tf.train.latest_checkpoint(checkpoint_dir))
    yield lambda images: sess.run(net.y, {net.x: np.reshape(images, (-1, 784))})
    sess.close()


@pytest.fixture(scope="module")
def digits(classify):
    """The first test-set digit of each class that the model predicts correctly with a probability of
    0.9 or more: (label, ink (28, 28) in [0, 1]).

    Sure ones, so that the blur that scaling up and back down adds does not tip them: on 500
    redrawn test digits, that changed the answer for 1% of those the model was sure of, and 12%
    of those it only just got right.
    """
    with redirect_stdout(io.StringIO()):
        test = input_data.read_data_sets(SHIPPED_DATA, one_hot=True).test
    labels = test.labels.argmax(axis=1)
    probabilities = classify(test.images)
    sure = (probabilities.argmax(axis=1) == labels) & (probabilities.max(axis=1) >= 0.9)
    return [(label, test.images[np.flatnonzero(sure & (labels == label))[0]].reshape(28, 28)) for label in range(10)]


def coverage(digit):
    """digit's ink, upscaled to 120x90 and placed off-centre (top right) on a page: (150, 200) in [0, 1]."""
    page = np.zeros((PAGE_HEIGHT, PAGE_WIDTH), np.float32)
    page[12:132, 95:185] = run_ops(lambda: tf.image.resize(digit[..., None], [120, 90]))[..., 0]
    return page


def black_on_white(digit):
    """(150, 200, 1) uint8: black ink on white paper."""
    return np.round(255 * (1 - coverage(digit)))[..., None].astype(np.uint8)


def transparent(digit):
    """(150, 200, 4) uint8: opaque black ink; the paper transparent, and black as most editors save it."""
    rgba = np.zeros((PAGE_HEIGHT, PAGE_WIDTH, 4), np.uint8)
    rgba[..., 3] = np.round(255 * coverage(digit))
    return rgba


def photographed(digit, seed=0):
    """(150, 200, 3) uint8: dark ink on grey paper (level 220) with fibres and Gaussian noise of sd 8."""
    random = np.random.default_rng(seed)
    rows, columns = np.indices((PAGE_HEIGHT, PAGE_WIDTH))
    fibres = 6 * np.sin(rows / 3 + 2 * np.sin(columns / 9)) * np.cos(columns / 5)
    paper = 220 + fibres + random.normal(0, 8, (PAGE_HEIGHT, PAGE_WIDTH))
    ink = coverage(digit)
    gray = paper * (1 - ink) + 40 * ink
    # A bluish-black pen: the colour channels differ a little.
    return np.clip(np.stack([gray, gray, gray + 25 * ink], axis=-1), 0, 255).astype(np.uint8)


def write(path, contents):
    with open(path, "wb") as file:
        file.write(contents)
    return str(path)


def write_png(path, pixels):
    return write(path, run_ops(lambda: tf.io.encode_png(pixels)))


def write_jpeg(path, pixels):
    return write(path, run_ops(lambda: tf.io.encode_jpeg(pixels, quality=90)))


def bmp_bytes(gray):
    """A 24-bit BMP file of gray (height, width) uint8: rows bottom up, in BGR, each padded to 4 bytes."""
    height, width = gray.shape
    rows = np.repeat(gray[::-1, :, None], 3, axis=2).reshape(height, 3 * width)
    pixels = np.pad(rows, ((0, 0), (0, -3 * width % 4))).tobytes()
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 14 + len(info)) + info + pixels


DRAWINGS = {
    "black on white png": lambda digit, directory: write_png(directory / "digit.png", black_on_white(digit)),
    "transparent png": lambda digit, directory: write_png(directory / "digit.png", transparent(digit)),
    "photographed jpeg": lambda digit, directory: write_jpeg(directory / "digit.jpg", photographed(digit)),
}


@pytest.mark.parametrize("drawing", DRAWINGS)
def test_drawn_digits_are_predicted_as_their_mnist_originals(drawing, digits, classify, tmp_path):
    wrong = []
    for label, digit in digits:
        prepared = prepare_digit(DRAWINGS[drawing](digit, tmp_path))
        predicted = classify(prepared).argmax()
        if predicted != label:
            wrong.append(f"{label} predicted as {predicted}")
    assert wrong == []


def test_the_prepared_digit_is_784_float32_from_0_to_1(digits, tmp_path):
    prepared = prepare_digit(write_jpeg(tmp_path / "digit.jpg", photographed(digits[3][1])))
    assert prepared.shape == (784,) and prepared.dtype == np.float32
    assert prepared.min() == 0 and prepared.max() == 1


def test_the_ink_is_scaled_to_fit_20x20_and_its_centre_of_mass_is_put_at_the_centre(tmp_path):
    page = np.full((100, 100, 1), 255, np.uint8)
    page[5:65, 60:93] = 0  # a 60x33 block, off-centre: 20x11 once scaled
    field = prepare_digit(write_png(tmp_path / "block.png", page)).reshape(28, 28)
    rows, columns = np.flatnonzero(field.any(axis=1)), np.flatnonzero(field.any(axis=0))
    assert (len(rows), len(columns)) == (20, 11)
    assert np.allclose(field[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1], 1)
    centre_of_mass = [(field.sum(axis=1 - axis) * np.arange(28)).sum() / field.sum() for axis in (0, 1)]
    assert np.allclose(centre_of_mass, 14, atol=0.5)


def test_light_ink_on_dark_paper_is_the_same_digit(digits, tmp_path):
    page = black_on_white(digits[2][1])
    dark_paper = write_png(tmp_path / "dark.png", 255 - page)
    light_paper = write_png(tmp_path / "light.png", page)
    assert np.allclose(prepare_digit(dark_paper), prepare_digit(light_paper), atol=1e-5)


def test_grayscale_rgb_16_bit_and_bmp_files_are_the_same_digit(digits, tmp_path):
    gray = black_on_white(digits[5][1])
    expected = prepare_digit(write_png(tmp_path / "gray.png", gray))
    for path in (
        write_png(tmp_path / "rgb.png", np.repeat(gray, 3, axis=2)),
        write_png(tmp_path / "gray16.png", gray.astype(np.uint16) * 257),
        write(tmp_path / "digit.bmp", bmp_bytes(gray[..., 0])),
    ):
        assert np.allclose(prepare_digit(path), expected, atol=1e-5), path


def test_the_callers_graph_is_left_untouched(digits, tmp_path):
    path = write_png(tmp_path / "digit.png", black_on_white(digits[7][1]))
    with tf.Graph().as_default() as graph:
        prepare_digit(path)
    assert graph.get_operations() == []


@pytest.mark.parametrize("eager", [True, False])
def test_the_same_digit_whether_or_not_eager_execution_is_on(eager, digits, tmp_path):
    path = write_jpeg(tmp_path / "digit.jpg", photographed(digits[8][1]))
    saved = tmp_path / "prepared.npy"
    program = "\n".join(
        [
            "import numpy as np, tensorflow.compat.v1 as tf",
            "" if eager else "tf.disable_v2_behavior()",
            f"assert tf.executing_eagerly() is {eager}",
            "from data_set.digit_image import prepare_digit",
            f"np.save({str(saved)!r}, prepare_digit({path!r}))",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, env=fresh_shell_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.load(saved), prepare_digit(path))


def blank_page(directory):
    return write_png(directory / "blank.png", np.full((150, 200, 1), 255, np.uint8))


def noise_page(directory):
    """Grey paper with fibres and Gaussian noise, and no ink: the photographed drawing without its digit."""
    return write_jpeg(directory / "paper.jpg", photographed(np.zeros((28, 28), np.float32), seed=1))


BAD_IMAGES = {
    "missing": lambda directory: str(directory / "missing.png"),
    "directory": lambda directory: str(directory),
    "text named .png": lambda directory: write(directory / "notes.png", b"a 7, drawn in words\n"),
    "empty file": lambda directory: write(directory / "empty.png", b""),
    "blank white page": blank_page,
    "uniform grey page": lambda directory: write_png(directory / "grey.png", np.full((40, 40, 3), 128, np.uint8)),
    "transparent page": lambda directory: write_png(directory / "clear.png", np.zeros((40, 40, 4), np.uint8)),
    "paper noise only": noise_page,
    "one black speck": lambda directory: write_png(
        directory / "speck.png", np.pad(np.zeros((1, 1, 1), np.uint8), ((99, 100), (99, 100), (0, 0)), constant_values=255)
    ),
}


@pytest.mark.parametrize("bad", BAD_IMAGES)
def test_an_unusable_image_raises_one_line_naming_it_and_saying_what_to_do(bad, tmp_path):
    path = BAD_IMAGES[bad](tmp_path)
    with pytest.raises(DigitImageError) as raised:
        prepare_digit(path)
    assert isinstance(raised.value, ValueError)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ") and "; " in message


def predictions(stdout):
    """(path, digit, probability) for each pair of lines that --predict printed."""
    lines = stdout.splitlines()
    assert len(lines) % 2 == 0, stdout
    matches = [PREDICTION_LINE.fullmatch(line) for line in lines[1::2]]
    assert all(matches), stdout
    return [(path, int(match[1]), float(match[2])) for path, match in zip(lines[::2], matches)]


def expected_prediction(path, classify):
    probabilities = classify(prepare_digit(path))[0]
    return path, probabilities.argmax(), probabilities.max()


def assert_same_predictions(printed, expected):
    assert [(path, digit) for path, digit, _ in printed] == [(path, digit) for path, digit, _ in expected]
    # Printed to two decimals: the probabilities agree within that rounding (and the float error of another batch).
    assert all(abs(shown - exact) <= 0.0051 for (_, _, shown), (_, _, exact) in zip(printed, expected))


@pytest.fixture
def good_images(digits, tmp_path):
    return [
        write_png(tmp_path / "a.png", black_on_white(digits[4][1])),
        write_jpeg(tmp_path / "b.jpg", photographed(digits[9][1])),
    ]


def test_predict_prints_each_path_and_its_digit_and_changes_nothing(good_images, checkpoint_dir, classify):
    before = snapshot(checkpoint_dir)
    result = run_train("--save-dir", checkpoint_dir, "--predict", *good_images)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert_same_predictions(predictions(result.stdout), [expected_prediction(path, classify) for path in good_images])
    assert snapshot(checkpoint_dir) == before


def test_predict_reports_each_unusable_image_and_still_predicts_the_others(
    good_images, checkpoint_dir, classify, tmp_path
):
    missing = str(tmp_path / "missing.png")
    text = write(tmp_path / "notes.png", b"not an image\n")
    first, second = good_images
    result = run_train("--save-dir", checkpoint_dir, "--predict", first, missing, text, second)
    assert result.returncode == 1
    assert_same_predictions(predictions(result.stdout), [expected_prediction(path, classify) for path in good_images])
    errors = result.stderr.splitlines()
    assert len(errors) == 2, result.stderr
    for line, path in zip(errors, (missing, text)):
        assert line.startswith(f"error: {path}: ") and "; " in line


def test_predict_without_save_dir_is_a_usage_error(good_images):
    result = run_train("--predict", good_images[0])
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: ")
    assert "--save-dir" in result.stderr.splitlines()[-1]


def test_predict_without_a_checkpoint_says_to_train_first_and_creates_nothing(good_images, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    absent = tmp_path / "absent"
    for directory in (empty, absent):
        result = run_train("--save-dir", directory, "--predict", good_images[0])
        assert result.returncode == 1
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and re.search(r"train.* first", lines[0]), result.stderr
    assert os.listdir(empty) == []
    assert not absent.exists()


def test_ctrl_c_stops_predicting_before_the_next_image(digits, checkpoint_dir, tmp_path):
    # Large photographs take a moment each, so Ctrl-C comes while some are still to do.
    page = np.kron(photographed(digits[3][1]), np.ones((8, 8, 1), np.uint8))  # 1200x1600
    images = [write_jpeg(tmp_path / f"photo{i}.jpg", page) for i in range(30)]
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "train.py"), "--save-dir", str(checkpoint_dir), "--predict", *images],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=fresh_shell_env(),
    )
    assert process.stdout.readline().decode().rstrip("\n") == images[0]
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr == b"Stopped by Ctrl-C\n"
    assert len(stdout.splitlines()) < 2 * len(images) - 2  # some images were left
