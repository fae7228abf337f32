"""The user's own digit images: their MNIST-style preparation (data_set.digit_image) and train.py --predict.

The images are drawn here (tests/own_digits.py), of each kind in the issue "Your own digit, as
learners really draw and photograph it"; tests/benchmark_own_digits.py measures the accuracy of
each kind over many of them.
"""
import io
import os
import re
import signal
import subprocess
import sys
import zlib

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from PIL import Image, ImageDraw

import model
from data_set.digit_image import MAX_PIXELS, DigitImageError, prepare_digit, text_picture
from tests.conftest import REPO, fresh_shell_env, run_train, snapshot
from tests.own_digits import draw, gray_file, photo, write_kind

PREDICTION_LINE = re.compile(r"        -> Predict digit (\d) \(probability (\d\.\d\d)\)")
# For each kind, two digits and the seeds that draw them, which the default run's model reads right
# from that drawing (it is right about 9 times in 10 on MNIST, so not every drawing is read right).
GOOD = {
    "tight crop": [(0, 2), (5, 1)], "28x28 canvas": [(3, 1), (8, 2)], "64x64 canvas": [(6, 1), (1, 1)],
    "280x280 canvas": [(9, 1), (4, 2)], "hard shadow photo": [(2, 1), (7, 1)], "soft shadow photo": [(5, 1), (0, 1)],
    "gradient photo": [(8, 1), (3, 1)], "page on a desk": [(1, 3), (6, 1)], "pencil": [(4, 1), (9, 1)],
    "blue pen, lined paper": [(7, 2), (2, 1)], "pen, grid paper": [(0, 2), (5, 3)], "chalk on a board": [(3, 1), (8, 1)],
    "1-pixel strokes, 1000x1000": [(1, 1), (7, 2)], "light-on-dark screenshot": [(9, 1), (4, 1)],
    "EXIF-rotated JPEG": [(2, 1), (7, 1)], "EXIF-rotated PNG": [(5, 1), (0, 1)], "1-bit BMP": [(8, 1), (3, 1)],
    "TIFF": [(1, 1), (6, 1)], "WebP": [(4, 2), (9, 2)], "16-bit PNG": [(7, 1), (2, 1)], "palette PNG": [(0, 1), (5, 1)],
    "transparent PNG": [(3, 1), (8, 1)], "CMYK JPEG": [(6, 1), (1, 1)], "UCI-style 32x32 bitmap": [(9, 1), (4, 1)],
}


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
def good_images(tmp_path_factory):
    """(path, digit) for every image of GOOD."""
    directory = tmp_path_factory.mktemp("good")
    return [(write_kind(directory, kind, digit, seed), digit) for kind, drawn in GOOD.items() for digit, seed in drawn]


def write(path, contents):
    path.write_bytes(contents)
    return str(path)


def white_page(digit=3, seed=0):
    """(300, 400) levels: digit drawn black on white."""
    rng = np.random.default_rng(seed)
    page = np.full((300, 400), 255.0)
    ink = draw(digit, 200, 20, rng)
    page[50 : 50 + ink.shape[0], 150 : 150 + ink.shape[1]] *= 1 - ink
    return page


def same_digit(prepared, expected, tolerance=0.01):
    """Whether two prepared digits differ on average by no more than tolerance: a pixel's threshold."""
    return np.abs(prepared - expected).mean() < tolerance


def test_every_kind_is_predicted_as_its_digit_in_one_run(good_images, checkpoint_dir):
    result = run_train("--save-dir", checkpoint_dir, "--predict", *[path for path, _ in good_images])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    printed = predictions(result.stdout)
    wrong = [(path, digit, shown) for (path, digit), (_, shown, _) in zip(good_images, printed) if shown != digit]
    assert [path for path, _, _ in printed] == [path for path, _ in good_images]
    assert wrong == []


def test_the_prepared_digit_is_784_float32_from_0_to_1(tmp_path):
    prepared = prepare_digit(write(tmp_path / "digit.jpg", gray_file(photo(np.random.default_rng(0), 3), "JPEG")))
    assert prepared.shape == (784,) and prepared.dtype == np.float32
    assert prepared.min() == 0 and prepared.max() == 1


def test_the_ink_is_scaled_to_fit_20x20_and_its_centre_of_mass_is_put_at_the_centre(tmp_path):
    page = np.full((100, 100), 255, np.uint8)
    page[5:65, 60:93] = 0  # a 60x33 block, off-centre: 20x11 once scaled
    field = prepare_digit(write(tmp_path / "block.png", gray_file(page))).reshape(28, 28)
    rows, columns = np.flatnonzero(field.any(axis=1)), np.flatnonzero(field.any(axis=0))
    assert len(rows) == 20 and len(columns) in (11, 12)  # 11 and the anti-aliasing's edge
    centre_of_mass = [(field.sum(axis=1 - axis) * np.arange(28)).sum() / field.sum() for axis in (0, 1)]
    assert np.allclose(centre_of_mass, 14, atol=0.5)


def test_light_ink_on_dark_paper_is_the_same_digit(tmp_path):
    page = white_page()
    dark_paper = write(tmp_path / "dark.png", gray_file(255 - page))
    light_paper = write(tmp_path / "light.png", gray_file(page))
    assert same_digit(prepare_digit(dark_paper), prepare_digit(light_paper))


def test_every_format_and_mode_is_the_same_digit(tmp_path):
    page = white_page(5)
    expected = prepare_digit(write(tmp_path / "gray.png", gray_file(page)))
    sixteen = io.BytesIO()
    Image.fromarray((page * 257).astype(np.uint16)).save(sixteen, "PNG")
    for name, contents in {
        "rgb.png": gray_file(page, mode="RGB"),
        "gray16.png": sixteen.getvalue(),
        "digit.bmp": gray_file(page, "BMP", "RGB"),
        "digit.tif": gray_file(page, "TIFF"),
        "digit.gif": gray_file(page, "GIF"),
        "la.png": gray_file(page, mode="LA"),
    }.items():
        assert same_digit(prepare_digit(write(tmp_path / name, contents)), expected), name


@pytest.mark.parametrize("fmt, suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_an_exif_rotated_image_is_read_upright(fmt, suffix, tmp_path):
    upright = Image.fromarray(white_page(7).astype(np.uint8))
    expected = prepare_digit(write(tmp_path / f"upright{suffix}", gray_file(np.asarray(upright), fmt)))
    exif = Image.Exif()
    exif[274] = 6  # the phone was turned: the stored image is to be turned 90 degrees clockwise
    stored = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(stored, fmt, exif=exif)
    # A JPEG turned is compressed in other blocks: its ink differs a little more.
    tolerance = 0.04 if fmt == "JPEG" else 0.01
    assert same_digit(prepare_digit(write(tmp_path / f"sideways{suffix}", stored.getvalue())), expected, tolerance)


# Clean digits of plain lines, with acute angles between their strokes: the paper caught in such an
# angle is as thin as a thick pen's stroke. The 1 has a flag, the 4 an open top, the 7 no bar.
PEN_DRAWINGS = {
    1: [[(180, 90), (210, 55), (210, 250)]],
    4: [[(200, 50), (140, 180), (270, 180)], [(235, 90), (235, 250)]],
    7: [[(130, 60), (270, 60), (180, 250)]],
}


def pen_drawing(path, digit, width):
    """The path of a PNG of digit drawn with ImageDraw lines of a pen width pixels wide, dark on a white 400x300 canvas."""
    canvas = Image.new("L", (400, 300), 255)
    pen = ImageDraw.Draw(canvas)
    for line in PEN_DRAWINGS[digit]:
        pen.line(line, fill=20, width=width, joint="curve")
    canvas.save(path)
    return str(path)


@pytest.mark.parametrize("digit", sorted(PEN_DRAWINGS))
def test_a_thick_clean_pen_is_not_filled_in_and_reads_right(digit, classify, tmp_path):
    # The same drawing with a thin pen, thickened to MNIST's pen, is the reference for the ink's area.
    thin = (prepare_digit(pen_drawing(tmp_path / "thin.png", digit, 4)) > 0.5).sum()
    for width in range(8, 25, 2):
        prepared = prepare_digit(pen_drawing(tmp_path / f"{width}.png", digit, width))
        # A thick pen is at most MNIST's pen (2.5 pixels of the 20x20 box), give or take the
        # anti-aliasing; a solid wedge between two strokes is 4 times the ink.
        assert (prepared > 0.5).sum() < 1.6 * thin, f"width {width}:\n{text_picture(prepared)}"
        assert classify(prepared).argmax() == digit, f"width {width}:\n{text_picture(prepared)}"


def test_text_picture_is_28_lines_of_at_most_56_ascii_characters_without_trailing_spaces():
    x = np.zeros(784, np.float32)
    x[14 * 28 + 3] = 1
    x[20 * 28 + 27] = 1
    lines = text_picture(x).split("\n")
    assert len(lines) == 28 and all(line == line.rstrip() for line in lines)
    assert lines[14] == 6 * " " + "##" and len(lines[20]) == 56 and set("".join(lines[:14])) == set()


def test_digit_image_needs_no_tensorflow():
    program = "import sys, data_set.digit_image; assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'"
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def png_bomb(path, side=20_000):
    """A one-colour side x side 8-bit gray PNG, written chunk by chunk: 76 KB on disk, 400 MB decoded."""
    def chunk(kind, data):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    rows = zlib.compressobj(9)
    data = b"".join(rows.compress(bytes(side + 1)) for _ in range(side)) + rows.flush()
    return write(path, b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def truncated(path, contents):
    return write(path, contents[: len(contents) // 2])


BAD_IMAGES = {
    "missing": (lambda directory: str(directory / "missing.png"), "cannot be read"),
    "directory": (lambda directory: str(directory), "cannot be read"),
    "text named .png": (lambda directory: write(directory / "notes.png", b"a 7, drawn in words\n"), "not an image"),
    "empty file": (lambda directory: write(directory / "empty.png", b""), "empty"),
    "truncated PNG": (lambda directory: truncated(directory / "cut.png", gray_file(white_page())), "damaged"),
    "truncated JPEG": (lambda directory: truncated(directory / "cut.jpg", gray_file(white_page(), "JPEG")), "damaged"),
    "decompression bomb": (lambda directory: png_bomb(directory / "bomb.png"), f"{MAX_PIXELS // 1_000_000} million"),
    "blank white page": (lambda directory: write(directory / "blank.png", gray_file(np.full((150, 200), 255))), "no digit"),
    "uniform grey page": (lambda directory: write(directory / "grey.png", gray_file(np.full((40, 40), 128))), "no digit"),
    "transparent page": (
        lambda directory: write(directory / "clear.png", gray_file(np.zeros((40, 40, 4)), mode="RGBA")), "no digit"
    ),
    "paper noise only": (
        lambda directory: write(directory / "paper.jpg", gray_file(photo(np.random.default_rng(1), 0, ink_level=220), "JPEG")),
        "no digit",
    ),
    "one black speck": (
        lambda directory: write(directory / "speck.png", gray_file(np.pad([[0]], ((99, 100), (99, 100)), constant_values=255))),
        "no digit",
    ),
}


@pytest.mark.parametrize("bad", BAD_IMAGES)
def test_an_unusable_image_raises_one_line_naming_it_and_saying_what_to_do(bad, tmp_path):
    make, problem = BAD_IMAGES[bad]
    path = make(tmp_path)
    with pytest.raises(DigitImageError) as raised:
        prepare_digit(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ") and "; " in message and problem in message


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
def two_images(good_images):
    return [path for path, _ in good_images[:2]]


def test_predict_prints_each_path_and_its_digit_and_changes_nothing(two_images, checkpoint_dir, classify):
    before = snapshot(checkpoint_dir)
    result = run_train("--save-dir", checkpoint_dir, "--predict", *two_images)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert_same_predictions(predictions(result.stdout), [expected_prediction(path, classify) for path in two_images])
    assert snapshot(checkpoint_dir) == before


def test_show_adds_the_second_guess_and_the_image_as_the_model_saw_it(two_images, checkpoint_dir, classify):
    result = run_train("--save-dir", checkpoint_dir, "--predict", *two_images, "--show")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 * (3 + 28)
    for path, block in zip(two_images, (lines[:31], lines[31:])):
        probabilities = classify(prepare_digit(path))[0]
        second = probabilities.argsort()[-2]
        assert block[0] == path and PREDICTION_LINE.fullmatch(block[1])
        assert re.fullmatch(rf" +next most likely {second} \(probability {probabilities[second]:.2f}\).*", block[2])
        assert block[3:] == text_picture(prepare_digit(path)).split("\n")  # 28 lines, empty ones too


def test_predict_reports_each_unusable_image_and_still_predicts_the_others(two_images, checkpoint_dir, classify, tmp_path):
    """Hostile files too: each gets one line, within seconds, and the decompression bomb costs no memory."""
    bad = [make(tmp_path) for make, _ in BAD_IMAGES.values()]
    first, second = two_images
    # Run through a Python of its own, which measures its one child's peak memory.
    measure = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)"
    )
    train = [sys.executable, os.path.join(REPO, "train.py"), "--save-dir", str(checkpoint_dir)]
    result = subprocess.run(
        [sys.executable, "-c", measure, *train, "--predict", first, *bad, second],
        capture_output=True, text=True, env=fresh_shell_env(), timeout=120,
    )
    *errors, peak_kib = result.stderr.splitlines()
    assert_same_predictions(predictions(result.stdout), [expected_prediction(path, classify) for path in two_images])
    assert len(errors) == len(bad), result.stderr
    for line, path in zip(errors, bad):
        assert line.startswith(f"error: {path}: ") and "; " in line
    assert int(peak_kib) < 1.5 * 2**20  # KiB: the model and TensorFlow take most of it


def test_predict_without_save_dir_is_a_usage_error(two_images):
    result = run_train("--predict", two_images[0])
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: ")
    assert "--save-dir" in result.stderr.splitlines()[-1]


def test_predict_without_a_checkpoint_says_to_train_first_and_creates_nothing(two_images, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    absent = tmp_path / "absent"
    for directory in (empty, absent):
        result = run_train("--save-dir", directory, "--predict", two_images[0])
        assert result.returncode == 1
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and re.search(r"train.* first", lines[0]), result.stderr
    assert os.listdir(empty) == []
    assert not absent.exists()


def test_ctrl_c_stops_predicting_before_the_next_image(two_images, checkpoint_dir, tmp_path):
    # Each image takes a moment, so Ctrl-C comes while many are still to do.
    images = [two_images[0]] * 1000
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
