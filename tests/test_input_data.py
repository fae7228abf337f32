"""The MNIST reader on the shipped files and on idx files written here, good and bad."""
import gzip
import os

import numpy as np
import pytest

from data_set import input_data
from tests.conftest import SHIPPED_DATA, idx_bytes, snapshot, write_gz, write_mnist_like

IMAGES, LABELS = input_data.TRAIN_IMAGES, input_data.TRAIN_LABELS


@pytest.fixture(scope="module")
def mnist():
    return input_data.read_data_sets(SHIPPED_DATA, one_hot=True)


@pytest.fixture(scope="module")
def raw_train_file():
    with gzip.open(os.path.join(SHIPPED_DATA, IMAGES)) as file:
        return np.frombuffer(file.read(), np.uint8, offset=16).reshape(60000, 784)


def test_shipped_files_split_as_tensorflow_1_did(mnist):
    assert (mnist.train.num_examples, mnist.validation.num_examples, mnist.test.num_examples) == (55000, 5000, 10000)
    for split in mnist:
        assert split.images.dtype == np.float32 and split.images.shape == (split.num_examples, 784)
        assert split.labels.dtype == np.float64 and split.labels.shape == (split.num_examples, 10)  # as numpy.zeros made them
        assert split.images.min() == 0.0 and split.images.max() == 1.0
        np.testing.assert_array_equal(split.labels.sum(axis=1), 1.0)
        assert set(np.unique(split.labels)) == {0.0, 1.0}
    # Every digit is well represented in each split.
    assert mnist.train.labels.sum(axis=0).min() > 4000
    assert mnist.test.labels.sum(axis=0).min() > 800


def test_validation_is_the_first_training_images_and_pixels_are_scaled_as_tensorflow_1_did(mnist, raw_train_file):
    scaled = raw_train_file.astype(np.float32) * np.float32(1.0 / 255.0)
    np.testing.assert_array_equal(mnist.validation.images, scaled[:5000])
    np.testing.assert_array_equal(mnist.train.images, scaled[5000:])


def test_dtype_reshape_and_label_options():
    data = input_data.read_data_sets(SHIPPED_DATA, dtype=np.uint8, reshape=False, validation_size=0)
    assert data.train.num_examples == 60000 and data.validation.num_examples == 0
    assert data.train.images.dtype == np.uint8 and data.train.images.shape == (60000, 28, 28, 1)
    assert data.train.images.max() == 255
    assert data.train.labels.dtype == np.uint8 and data.train.labels.shape == (60000,)
    assert set(np.unique(data.test.labels)) == set(range(10))
    images, labels = data.test.next_batch(5, shuffle=False)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, data.test.labels[:5])


@pytest.mark.parametrize("validation_size", [-1, 60001])
def test_validation_size_out_of_range_is_a_value_error(validation_size):
    with pytest.raises(ValueError, match="validation size must be between 0 and 60000"):
        input_data.read_data_sets(SHIPPED_DATA, validation_size=validation_size)


def test_an_unknown_dtype_is_refused(small_data):
    directory, _ = small_data
    with pytest.raises(TypeError, match="expected uint8 or float32"):
        input_data.read_data_sets(directory, dtype=np.float64, validation_size=10)


def test_prints_one_extracting_line_per_file(small_data, capsys):
    directory, _ = small_data
    input_data.read_data_sets(directory, validation_size=10)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"Extracting {os.path.join(directory, name)}"
        for name in (IMAGES, LABELS, input_data.TEST_IMAGES, input_data.TEST_LABELS)
    ]


def test_any_data_in_mnist_format_is_read_as_written(small_data):
    directory, arrays = small_data
    data = input_data.read_data_sets(directory, dtype=np.uint8, validation_size=10)
    np.testing.assert_array_equal(data.validation.images, arrays[IMAGES][:10].reshape(10, 784))
    np.testing.assert_array_equal(data.train.labels, arrays[LABELS][10:])
    np.testing.assert_array_equal(data.test.images, arrays[input_data.TEST_IMAGES].reshape(-1, 784))


# --- next_batch ---


def batches(split, batch_size, count, **options):
    return [split.next_batch(batch_size, **options) for _ in range(count)]


def ids(split, batch_size, count, **options):
    """Which examples each batch holds, by their place in the file (distinct_examples' first pixel)."""
    return [np.rint(images[:, 0] * 255).astype(int).tolist() for images, _ in batches(split, batch_size, count, **options)]


def write_distinct_examples(directory, count):
    """count training examples whose images all differ, so that batches can be traced back: an
    example's place in the file is its first pixel plus 256 times its second; its label is that
    place % 10. Returns their pixels, uint8 (count, 28, 28)."""
    pixels = np.zeros((count, 28, 28), np.uint8)
    pixels[:, 0, 0], pixels[:, 0, 1] = np.arange(count) % 256, np.arange(count) // 256
    write_gz(directory / IMAGES, idx_bytes(input_data.IMAGE_MAGIC, pixels))
    write_gz(directory / LABELS, idx_bytes(input_data.LABEL_MAGIC, np.arange(count) % 10))
    write_gz(directory / input_data.TEST_IMAGES, idx_bytes(input_data.IMAGE_MAGIC, pixels[:3]))
    write_gz(directory / input_data.TEST_LABELS, idx_bytes(input_data.LABEL_MAGIC, np.arange(3)))
    return pixels


@pytest.fixture
def distinct_examples(tmp_path):
    """25 distinct training examples (see write_distinct_examples)."""
    write_distinct_examples(tmp_path, 25)
    return tmp_path


def test_every_example_once_per_epoch_and_the_wrap_tops_up_from_the_next(distinct_examples):
    train = input_data.read_data_sets(distinct_examples, validation_size=0, seed=3).train
    drawn = ids(train, 10, 5)  # 50 examples: two whole epochs of 25
    assert train.epochs_completed == 1  # batch 3 crossed into the second epoch, which batch 5 ends exactly
    flat = sum(drawn, [])
    assert sorted(flat[:25]) == list(range(25)) and sorted(flat[25:]) == list(range(25))
    assert flat[:25] != list(range(25))  # shuffled
    assert flat[:25] != flat[25:]  # shuffled again for the next epoch
    images, labels = train.next_batch(10)
    assert train.epochs_completed == 2 and len(images) == 10


def test_labels_follow_their_images(distinct_examples):
    train = input_data.read_data_sets(distinct_examples, one_hot=True, validation_size=0, seed=4).train
    for images, labels in batches(train, 7, 8):
        np.testing.assert_array_equal(labels.argmax(axis=1), np.rint(images[:, 0] * 255).astype(int) % 10)


def test_same_seed_same_batches_and_no_seed_differs(distinct_examples):
    def order(seed):
        return ids(input_data.read_data_sets(distinct_examples, validation_size=0, seed=seed).train, 10, 6)

    assert order(7) == order(7)
    assert order(7) != order(8)
    assert order(None) != order(None)


def composed_epochs(seed, count, shuffled):
    """The example order of each epoch, one after another, as TensorFlow 1 made them: the
    current order permuted at the start of each epoch whose first batch shuffles, and kept as it
    is otherwise. The permutations come from numpy.random.default_rng(seed), one per shuffle."""
    random = np.random.default_rng(seed)
    order, epochs = np.arange(count), []
    for shuffle in shuffled:
        if shuffle:
            order = order[random.permutation(count)]
        epochs.append(order)
    return np.concatenate(epochs)


def test_batches_of_any_sizes_follow_the_epochs_in_order(tmp_path):
    """Whatever their sizes, batches are the shuffled epochs one after another, each epoch's
    order the last one permuted again (as TensorFlow 1 permuted its arrays), and each batch is
    the same as converting its examples directly."""
    count = 600
    pixels = write_distinct_examples(tmp_path, count)
    train = input_data.read_data_sets(tmp_path, one_hot=True, validation_size=0, seed=5).train
    sizes = [7] * 40 + [13] * 10 + [7] * 40 + [13] * 30 + [1] * 9 + [64] * 20 + [600, 5] + [9] * 50 + [7, 7, 13] * 30
    drawn = []
    for size in sizes:
        images, labels = train.next_batch(size)
        assert images.shape == (size, 784) and images.dtype == np.float32 and labels.shape == (size, 10)
        examples = (np.rint(images[:, 0] * 255) + 256 * np.rint(images[:, 1] * 255)).astype(int)
        np.testing.assert_array_equal(images, pixels[examples].reshape(size, 784) * input_data.PIXEL_SCALE)
        np.testing.assert_array_equal(labels.argmax(axis=1), examples % 10)
        drawn.extend(examples)
    assert drawn == list(composed_epochs(5, count, [True] * (train.epochs_completed + 1))[: len(drawn)])
    assert train.epochs_completed == sum(sizes) // count


def test_shuffle_false_keeps_file_order_across_epochs(distinct_examples):
    train = input_data.read_data_sets(distinct_examples, validation_size=5).train
    assert sum(ids(train, 8, 5, shuffle=False), []) == [*range(5, 25), *range(5, 25)]
    assert train.epochs_completed == 1  # the second epoch ends exactly with the fifth batch


def test_an_unshuffled_epoch_keeps_the_order_it_finds(distinct_examples):
    """With shuffle=False the order stays as the last shuffle left it, as in TensorFlow 1, and
    uses up no draw: the shuffled epochs after it are as they would have been."""
    train = input_data.read_data_sets(distinct_examples, validation_size=0, seed=6).train
    shuffled_epochs = [True, False, True, True, False, False, True]
    drawn = [ids(train, 5, 5, shuffle=shuffle) for shuffle in shuffled_epochs]  # 5 batches of 5: one epoch
    assert sum(sum(drawn, []), []) == list(composed_epochs(6, 25, shuffled_epochs))


def test_batch_size_must_fit_the_split(distinct_examples):
    train = input_data.read_data_sets(distinct_examples, validation_size=5).train
    for size in (0, 21):
        with pytest.raises(ValueError, match="batch_size must be between 1 and 20"):
            train.next_batch(size)


# --- files that are not MNIST: one clear error naming the file, and nothing changed ---


def replace_file(directory, name, content, compress=True):
    path = os.path.join(directory, name)
    with open(path, "wb") as file:
        file.write(gzip.compress(content) if compress else content)
    return path


def good_gz(directory, name):
    with open(os.path.join(directory, name), "rb") as file:
        return file.read()


BAD_FILES = {
    "empty": (IMAGES, lambda d: b"", False, "is empty"),
    "neither gzip nor idx": (IMAGES, lambda d: b"hello, world", False, "is not a gzip file, nor an MNIST idx file"),
    "truncated gzip": (IMAGES, lambda d: good_gz(d, IMAGES)[:-500], False, "truncated or damaged gzip"),
    "corrupt gzip": (
        IMAGES,
        lambda d: (lambda b: b[:100] + bytes(x ^ 0xFF for x in b[100:200]) + b[200:])(good_gz(d, IMAGES)),
        False,
        "truncated or damaged gzip",
    ),
    "wrong length at the end": (
        IMAGES,
        lambda d: good_gz(d, IMAGES)[:-4] + (2**32 - 1).to_bytes(4, "little"),
        False,
        "truncated or damaged gzip .*incorrect length check",
    ),
    "labels where images belong": (IMAGES, lambda d: idx_bytes(2049, np.zeros(100)), True, "holds labels, not images"),
    "images where labels belong": (LABELS, lambda d: idx_bytes(2051, np.zeros((100, 28, 28))), True, "holds images, not labels"),
    "not idx": (IMAGES, lambda d: b"hello, world", True, "not an MNIST idx file"),
    "short header": (IMAGES, lambda d: np.array([2051, 100], ">u4").tobytes(), True, "truncated"),
    "payload shorter than header says": (
        IMAGES,
        lambda d: idx_bytes(2051, np.zeros((100, 28, 28)))[:-1],
        True,
        "header announces 100 x 28 x 28 = 78400 bytes of data but the file holds 78399",
    ),
    "payload longer than header says": (
        LABELS,
        lambda d: idx_bytes(2049, np.zeros(100)) + b"\0",
        True,
        "header announces 100 = 100 bytes of data but the file holds 101",
    ),
    "label count differs": (LABELS, lambda d: idx_bytes(2049, np.zeros(99)), True, "holds 99 labels but .* holds 100 images"),
    "label not a digit": (LABELS, lambda d: idx_bytes(2049, np.r_[np.zeros(50), 12, np.zeros(49)]), True, "label 12 at position 50"),
    "other image size": (IMAGES, lambda d: idx_bytes(2051, np.zeros((100, 32, 32))), True, "images are 32x32 pixels"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_gives_one_clear_error_naming_it(small_data, closed_port_url, case):
    directory, _ = small_data
    name, content, compress, message = BAD_FILES[case]
    path = replace_file(directory, name, content(directory), compress)
    before = snapshot(directory)
    with pytest.raises(input_data.MnistDataError, match=message) as raised:
        input_data.read_data_sets(directory, validation_size=10, source_url=closed_port_url)
    text = str(raised.value)
    assert text.startswith(path + ": ") and "\n" not in text
    assert snapshot(directory) == before


# --- Kaggle's archive: a directory named like each file, the file in it, a dotted copy beside ---


def unpack_like_kaggle(directory, arrays, dotted_copies=True, inner_name=None):
    """Write the four data sets' arrays as Kaggle's MNIST zip unpacks them: for each file X.gz, a
    directory X holding X uncompressed (or inner_name(X.gz), gzipped if it ends in .gz) and, with
    dotted_copies, X with a dot before "idx" beside it. Returns, for each MNIST file name, the
    paths written, the dotted copy first."""
    written = {}
    for name in input_data.MNIST_FILES:
        magic = input_data.IMAGE_MAGIC if "images" in name else input_data.LABEL_MAGIC
        content = idx_bytes(magic, arrays[name])
        uncompressed = name.removesuffix(".gz")
        folder = directory / uncompressed
        folder.mkdir()
        inside = folder / (inner_name(name) if inner_name else uncompressed)
        inside.write_bytes(gzip.compress(content) if inside.suffix == ".gz" else content)
        written[name] = [inside]
        if dotted_copies:
            dotted = directory / uncompressed.replace("-idx", ".idx")
            dotted.write_bytes(content)
            written[name].insert(0, dotted)
    return written


@pytest.fixture
def kaggle_arrays(tmp_path):
    """The arrays of a small data set in MNIST's format, whose files are written aside in tmp_path/source."""
    (tmp_path / "source").mkdir()
    return write_mnist_like(tmp_path / "source")


def extracted(capsys):
    return [line.removeprefix("Extracting ") for line in capsys.readouterr().out.splitlines() if line.startswith("Extracting ")]


def test_kaggles_archive_is_read_from_the_dotted_copy_beside_each_directory(tmp_path, kaggle_arrays, closed_port_url, capsys):
    kaggle = tmp_path / "kaggle"
    kaggle.mkdir()
    written = unpack_like_kaggle(kaggle, kaggle_arrays)
    before = snapshot(kaggle)
    data = input_data.read_data_sets(kaggle, dtype=np.uint8, validation_size=10, source_url=closed_port_url)
    np.testing.assert_array_equal(data.test.images, kaggle_arrays[input_data.TEST_IMAGES].reshape(-1, 784))
    np.testing.assert_array_equal(data.train.labels, kaggle_arrays[LABELS][10:])
    assert extracted(capsys) == [str(written[name][0]) for name in input_data.MNIST_FILES]
    assert snapshot(kaggle) == before


@pytest.mark.parametrize(
    "inner_name",
    [None, lambda name: name, lambda name: name.removesuffix(".gz").replace("-idx", ".idx")],
    ids=["X/X", "X/X.gz", "X/X with a dot"],
)
def test_the_file_inside_each_directory_is_read_when_no_copy_is_beside_it(tmp_path, kaggle_arrays, closed_port_url, capsys, inner_name):
    kaggle = tmp_path / "kaggle"
    kaggle.mkdir()
    written = unpack_like_kaggle(kaggle, kaggle_arrays, dotted_copies=False, inner_name=inner_name)
    before = snapshot(kaggle)
    data = input_data.read_data_sets(kaggle, dtype=np.uint8, validation_size=10, source_url=closed_port_url)
    np.testing.assert_array_equal(data.validation.images, kaggle_arrays[IMAGES][:10].reshape(10, 784))
    np.testing.assert_array_equal(data.test.labels, kaggle_arrays[input_data.TEST_LABELS])
    assert extracted(capsys) == [str(written[name][0]) for name in input_data.MNIST_FILES]
    assert snapshot(kaggle) == before


@pytest.mark.parametrize("folder_name", [LABELS, LABELS.removesuffix(".gz")])
@pytest.mark.parametrize("content", ["nothing", "another file", "a directory of the same name"])
def test_a_directory_with_no_data_file_in_it_is_reported(small_data, closed_port_url, folder_name, content):
    directory, _ = small_data
    os.remove(directory / LABELS)
    folder = directory / folder_name
    folder.mkdir()
    if content == "another file":
        (folder / "readme.txt").write_text("the labels")
    elif content == "a directory of the same name":
        (folder / folder_name).mkdir()
    before = snapshot(directory)
    with pytest.raises(input_data.MnistDataError) as raised:
        input_data.read_data_sets(directory, validation_size=10, source_url=closed_port_url)
    names = "train-labels-idx1-ubyte.gz, train-labels-idx1-ubyte, train-labels.idx1-ubyte"
    assert str(raised.value) == (
        f"{folder}: is a directory, not a data file, and holds none of {names}; put the file in it or in its place"
    )
    assert snapshot(directory) == before and (folder / folder_name).is_dir() == (content == "a directory of the same name")


def test_missing_file_with_no_working_mirror_is_reported_and_nothing_written(small_data, closed_port_url):
    directory, _ = small_data
    os.remove(directory / input_data.TEST_LABELS)
    before = snapshot(directory)
    with pytest.raises(input_data.MnistDataError, match="is missing and could not be downloaded: .*refused"):
        input_data.read_data_sets(directory, validation_size=10, source_url=closed_port_url)
    assert snapshot(directory) == before

