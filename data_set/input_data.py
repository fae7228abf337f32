"""Reads MNIST into train, validation and test sets, as TensorFlow 1's
tensorflow.examples.tutorials.mnist.input_data did before TensorFlow 2 removed it.

The same names, signatures and behaviour: read_data_sets, DataSet, Datasets, extract_images,
extract_labels, dense_to_one_hot and maybe_download. Only numpy is needed: reading the data does
not load TensorFlow.
"""
import collections
import math
import os
import zlib

import numpy as np

from data_set import download
from data_set.download import DEFAULT_SOURCE_URLS
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
MNIST_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
# The published files' SHA-256: a download is kept only if it matches.
SHA256 = {
    TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# Where this project ships the four files: the directory of this module.
SHIPPED_DIR = os.path.dirname(os.path.abspath(__file__))
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
GZIP_MAGIC = b"\x1f\x8b"
IMAGE_SIZE = 28
NUM_CLASSES = 10
FAKE_NUM_EXAMPLES = 10000  # what TensorFlow 1's fake data sets claimed to hold
# TensorFlow 1 scaled pixels by multiplying with 1/255, which is not always x/255 in float32.
PIXEL_SCALE = np.float32(1.0 / 255.0)

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])


class MnistDataError(ValueError):
    """A data file is missing, unreadable or not MNIST's idx format; the message names it."""


class ValidationSizeError(ValueError):
    """validation_size asks for more examples than the training files hold."""


class BatchSizeError(ValueError):
    """next_batch was asked for a batch_size outside 1 to the DataSet's num_examples."""

    def __init__(self, batch_size, num_examples):
        super().__init__(f"batch_size must be between 1 and {num_examples} (the DataSet's examples), got {batch_size}")
        self.num_examples = num_examples


class DataSet:
    """One split of MNIST: its images, its labels, and batches drawn in an order shuffled anew
    each epoch. The images are kept as given (uint8 from the files, a quarter of float32's
    memory) and converted to dtype as they are handed out."""

    def __init__(self, images, labels, fake_data=False, one_hot=False, dtype=np.float32, reshape=True, seed=None):
        """images: array (n, rows, cols, 1), pixels 0-255 (uint8 from the files).
        labels: array (n,) of class ids, or (n, classes) one-hot rows.
        fake_data: images and labels are ignored; the set claims 10,000 examples and hands out
            only fake batches, whose labels are one-hot if one_hot (which is used only here).
        dtype: uint8 (numpy's or TensorFlow's) keeps images 0-255; float32 scales them to [0, 1].
        reshape: images become (n, rows * cols); otherwise they stay (n, rows, cols, 1).
        seed: seeds this set's shuffling; the same seed gives the same batches.

        Raises TypeError for another dtype; ValueError if images and labels differ in number,
        or if reshape is asked of images that are not (n, rows, cols, 1).
        """
        dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))  # tf.float32 works too
        if dtype not in (np.float32, np.uint8):
            raise TypeError(f"Invalid image dtype {dtype}, expected uint8 or float32")
        self.one_hot = one_hot
        self._fake = fake_data
        self._as_float32 = dtype == np.float32
        self._epochs_completed = 0
        self._index_in_epoch = 0
        self._random = np.random.default_rng(seed)
        self._order = None  # example indices in the current order; None until the first shuffle: file order
        self._current = None  # images and labels in the current order, made when first asked for
        if fake_data:
            self._num_examples = FAKE_NUM_EXAMPLES
            self._current = images, labels
            return
        if len(images) != len(labels):
            raise ValueError(f"images and labels differ in number: shapes {images.shape} and {labels.shape}")
        if reshape:
            if images.ndim != 4 or images.shape[3] != 1:
                raise ValueError(f"reshape needs images of shape (n, rows, cols, 1), got {images.shape}")
            images = images.reshape(len(images), images.shape[1] * images.shape[2])
        self._num_examples = len(images)
        self._pixels, self._labels = images, labels

    @property
    def images(self):
        """The images in the current order: file order until a shuffling next_batch, as in
        TensorFlow 1. float32 in [0, 1] or uint8 0-255; (n, rows * cols), or (n, rows, cols, 1)."""
        return self._in_current_order()[0]

    @property
    def labels(self):
        """The labels in the current order, as given: uint8 (n,) or one-hot float64 (n, 10) from read_data_sets."""
        return self._in_current_order()[1]

    @property
    def num_examples(self):
        return self._num_examples

    @property
    def epochs_completed(self):
        return self._epochs_completed

    def next_batch(self, batch_size, fake_data=False, shuffle=True):
        """The next batch_size images and labels, in the shapes and dtypes of images and labels.

        The data is shuffled before the first batch and again at the end of each epoch, unless
        shuffle is False; a batch that runs past the end of an epoch is topped up from the start
        of the next. With fake_data, two lists: batch_size images of 784 ones, and as many labels
        0, or [1, 0, ..., 0] if the set was made with one_hot.

        Raises BatchSizeError (a ValueError) if batch_size is not between 1 and num_examples,
        ValueError if a set made with fake_data is asked for real data.
        """
        if fake_data:
            image = [1] * IMAGE_SIZE * IMAGE_SIZE
            label = [1] + [0] * (NUM_CLASSES - 1) if self.one_hot else 0
            return [image] * batch_size, [label] * batch_size
        if self._fake:
            raise ValueError("this DataSet holds fake data: ask for its batches with next_batch(batch_size, fake_data=True)")
        if not 0 < batch_size <= self._num_examples:
            raise BatchSizeError(batch_size, self._num_examples)
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._shuffle()
        if start + batch_size <= self._num_examples:
            self._index_in_epoch += batch_size
            return self._examples(self._positions(start, start + batch_size))
        rest_of_epoch = self._positions(start, self._num_examples)
        self._epochs_completed += 1
        if shuffle:
            self._shuffle()
        self._index_in_epoch = batch_size - len(rest_of_epoch)
        return self._examples(np.concatenate([rest_of_epoch, self._positions(0, self._index_in_epoch)]))

    def _shuffle(self):
        """Permute the current order, as TensorFlow 1 permuted its arrays; images and labels follow it."""
        permutation = self._random.permutation(self._num_examples)
        self._order = permutation if self._order is None else self._order[permutation]
        self._current = None

    def _positions(self, start, stop):
        """The indices of the examples at positions start to stop of the current order."""
        return np.arange(start, stop) if self._order is None else self._order[start:stop]

    def _in_current_order(self):
        if self._current is None:
            self._current = self._examples(self._order)
        return self._current

    def _examples(self, chosen):
        """The images, converted to the set's dtype, and labels at the indices chosen (None: all, in file order)."""
        pixels, labels = self._pixels, self._labels
        if chosen is not None:
            # take() is the quickest gather numpy has.
            pixels, labels = pixels.take(chosen, axis=0), labels.take(chosen, axis=0)
        if self._as_float32:
            # One pass, each pixel cast and scaled as it is written; dtype keeps the arithmetic in float32.
            pixels = np.multiply(pixels, PIXEL_SCALE, dtype=np.float32)
        return pixels, labels


def read_data_sets(
    train_dir,
    fake_data=False,
    one_hot=False,
    dtype=np.float32,
    reshape=True,
    validation_size=5000,
    seed=None,
    source_url=DEFAULT_SOURCE_URLS,
):
    """Datasets(train, validation, test) read from the four MNIST files in train_dir; a missing
    file is downloaded first (see maybe_download, which also says which file names are read).

    Validation is the first validation_size training examples, train the rest. Labels are uint8
    (n,), or one-hot float64 (n, 10) with one_hot; images as DataSet makes them with dtype and
    reshape, and seed seeds each set's shuffling. With fake_data, three fake DataSets, and no
    file is touched. source_url: one mirror URL or a list of them, tried in order; empty means
    DEFAULT_SOURCE_URLS.

    Raises MnistDataError (a ValueError) naming the file if a file cannot be had or is not
    MNIST's, ValidationSizeError (a ValueError) if validation_size is outside 0 to the number
    of training examples, TypeError for a dtype other than uint8 or float32.
    """
    if fake_data:
        return Datasets(*(DataSet([], [], fake_data=True, one_hot=one_hot, dtype=dtype, seed=seed) for _ in range(3)))
    paths, arrays = [], []
    for name, magic in zip(MNIST_FILES, [IMAGE_MAGIC, LABEL_MAGIC] * 2):
        paths.append(maybe_download(name, train_dir, source_url))
        print("Extracting", paths[-1])  # as TensorFlow 1 did, as each file is read
        arrays.append(_read_idx(paths[-1], magic))
    train_images, train_labels, test_images, test_labels = arrays
    _check_pair(paths[0], train_images, paths[1], train_labels)
    _check_pair(paths[2], test_images, paths[3], test_labels)
    if not 0 <= validation_size <= len(train_images):
        raise ValidationSizeError(
            f"validation size must be between 0 and {len(train_images)} "
            f"(the number of training images), got {validation_size}"
        )
    if one_hot:
        train_labels, test_labels = dense_to_one_hot(train_labels, NUM_CLASSES), dense_to_one_hot(test_labels, NUM_CLASSES)
    options = dict(dtype=dtype, reshape=reshape, seed=seed)
    return Datasets(
        train=DataSet(train_images[validation_size:], train_labels[validation_size:], **options),
        validation=DataSet(train_images[:validation_size], train_labels[:validation_size], **options),
        test=DataSet(test_images, test_labels, **options),
    )


def extract_images(f):
    """The images in an open idx image file, gzipped or not, as uint8 (n, rows, cols, 1);
    prints "Extracting <f.name>". Raises MnistDataError (a ValueError) if it holds no images."""
    print("Extracting", f.name)
    return _parse_idx(f.read(), f.name, IMAGE_MAGIC)


def extract_labels(f, one_hot=False, num_classes=10):
    """The labels in an open idx label file, gzipped or not, as uint8 (n,), or with one_hot as
    dense_to_one_hot makes them; prints "Extracting <f.name>". Raises MnistDataError (a
    ValueError) if it holds no labels."""
    print("Extracting", f.name)
    labels = _parse_idx(f.read(), f.name, LABEL_MAGIC)
    return dense_to_one_hot(labels, num_classes) if one_hot else labels


def dense_to_one_hot(labels_dense, num_classes):
    """Class ids (n,) as one-hot rows: float64 (n, num_classes). Raises IndexError for an id
    of num_classes or more."""
    return np.eye(num_classes)[labels_dense]


def maybe_download(filename, work_directory, source_url=None):
    """The path of filename's data in work_directory, downloaded there first if it is missing.

    For a name ending in .gz, an uncompressed copy is looked for too: "X.gz", then "X", then X
    with a dot before "idx" ("train-images.idx3-ubyte", as browsers and Kaggle leave it), then
    the same names inside a directory named one of them (Kaggle's archive unpacks to "X/X"); the
    first file present is used as it is, never changed. Only if none is there is X.gz downloaded.

    source_url, as in TensorFlow 1, may be the file's own URL; here it may also be a mirror
    (a URL ending in "/", or any URL not ending in filename), or a list of either, tried in
    order. Empty or None means DEFAULT_SOURCE_URLS. A file MNIST publishes a SHA-256 for must
    match it when it comes from a default mirror; from a mirror of the user's, a file that does
    not match is kept only if it is a well-formed idx file. Raises MnistDataError if every
    mirror fails or the file cannot be put in place, or if a directory holds none of the names.
    """
    present = _file_on_disk(filename, work_directory)
    if present:
        return present
    path = os.path.join(work_directory, filename)
    urls = [url if url.rstrip("/").endswith("/" + filename) else url.rstrip("/") + "/" + filename for url in _mirror_list(source_url)]
    try:
        download.fetch(path, urls, SHA256.get(filename), DEFAULT_SOURCE_URLS, check=_check_served)
    except download.DownloadError as error:
        raise MnistDataError(
            f"{path}: is missing and could not be downloaded: {error}; copy the four MNIST files "
            f"into {work_directory} (this project ships them in {SHIPPED_DIR}), or name a working "
            "mirror (train.py's --source-url, read_data_sets' source_url)"
        ) from None
    except OSError as error:
        raise MnistDataError(
            f"{path}: is missing and cannot be downloaded into {work_directory} ({error.strerror}); "
            "make the directory writable, or copy the file there by hand"
        ) from None
    return path


def _check_served(data):
    """Raise ValueError saying what is wrong if downloaded bytes are not a well-formed idx file."""
    try:
        _parse_idx(data, "")
    except MnistDataError as error:
        # The problem alone: the advice that follows it is for files already on disk.
        raise ValueError("the file served " + str(error).removeprefix(": ").split("; ")[0]) from None


def _file_on_disk(filename, work_directory):
    """The path of the first file in work_directory holding filename's data, or None if there is
    none: each of its names on disk, then each of them inside a directory of one of those names.
    Raises MnistDataError naming the directory if such a directory holds none of them."""
    names = _names_on_disk(filename)
    beside = [os.path.join(work_directory, name) for name in names]
    folders = [path for path in beside if os.path.isdir(path)]
    for path in beside + [os.path.join(folder, name) for folder in folders for name in names]:
        if os.path.lexists(path) and not os.path.isdir(path):
            return path
    if folders:
        raise MnistDataError(
            f"{folders[0]}: is a directory, not a data file, and holds none of {', '.join(names)}; "
            "put the file in it or in its place"
        )
    return None


def _names_on_disk(filename):
    """The names filename's data may have on disk, in the order they are looked for."""
    if not filename.endswith(".gz"):
        return [filename]
    uncompressed = filename.removesuffix(".gz")
    return list(dict.fromkeys([filename, uncompressed, uncompressed.replace("-idx", ".idx")]))


def _mirror_list(source_url):
    urls = source_url or DEFAULT_SOURCE_URLS
    return [urls] if isinstance(urls, str) else list(urls)


def _check_pair(images_path, images, labels_path, labels):
    """Check one split's images and labels against MNIST's format and each other."""
    if images.shape[1:3] != (IMAGE_SIZE, IMAGE_SIZE):
        raise MnistDataError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]} pixels, "
            f"MNIST's are {IMAGE_SIZE}x{IMAGE_SIZE}; use data in MNIST's format"
        )
    if len(labels) != len(images):
        raise MnistDataError(
            f"{labels_path}: holds {len(labels)} labels but {images_path} holds "
            f"{len(images)} images; the two files must come from the same data set"
        )
    if len(labels) and labels.max() >= NUM_CLASSES:
        index = int(np.argmax(labels >= NUM_CLASSES))
        raise MnistDataError(
            f"{labels_path}: label {labels[index]} at position {index} is not a digit "
            f"0-{NUM_CLASSES - 1}; the file is damaged or not an MNIST label file"
        )


def _read_idx(path, magic):
    """The array in one idx file, gzipped or not (see _parse_idx)."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise MnistDataError(f"{path}: cannot be read ({error.strerror}); check the path and its permissions") from None
    return _parse_idx(data, path, magic)


def _parse_idx(data, path, magic=None):
    """The uint8 array in idx bytes, inflated first if gzipped, after checking its header against
    its length: images (n, rows, cols, 1), labels (n,). magic, if given, is the kind the file must
    hold. Raises MnistDataError naming path for anything that is not such a file."""
    if not data:
        raise MnistDataError(f"{path}: is empty; delete it to download it again, or replace it")
    gzipped = data[:2] == GZIP_MAGIC
    if gzipped:
        data = _gunzip(data, path)
    header = np.frombuffer(data, ">u4", count=min(len(data) // 4, 4))
    if len(header) == 0 or header[0] not in (IMAGE_MAGIC, LABEL_MAGIC):
        kind = "an MNIST idx file" if gzipped else "a gzip file, nor an MNIST idx file"
        raise MnistDataError(f"{path}: is not {kind} (no idx header); replace it with one")
    magic = magic or int(header[0])
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header_size = 4 * (1 + ndim)
    if header[0] != magic:
        holds, expected = ("labels", "images") if magic == IMAGE_MAGIC else ("images", "labels")
        raise MnistDataError(
            f"{path}: holds {holds}, not {expected}; check that the files are not swapped or misnamed"
        )
    if len(data) < header_size:
        raise MnistDataError(f"{path}: ends inside its idx header; the file is truncated, replace it")
    shape = tuple(int(size) for size in header[1 : 1 + ndim])
    payload = len(data) - header_size
    if payload != math.prod(shape):
        raise MnistDataError(
            f"{path}: header announces {' x '.join(map(str, shape))} = {math.prod(shape)} bytes "
            f"of data but the file holds {payload}; the file is damaged, replace it"
        )
    array = np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)
    return array[..., np.newaxis] if magic == IMAGE_MAGIC else array  # TensorFlow 1's depth axis


def _gunzip(compressed, path):
    try:
        # One zlib call is much faster than reading through gzip.open; 16 selects the gzip wrapper.
        return zlib.decompress(compressed, wbits=16 + zlib.MAX_WBITS, bufsize=_inflated_size(compressed))
    except zlib.error as error:
        raise MnistDataError(
            f"{path}: is a truncated or damaged gzip file ({error}); delete it to download it again, or replace it"
        ) from None


def _inflated_size(compressed):
    """The size a gzip file's last 4 bytes give for its content, so that zlib inflates into one
    buffer instead of growing one step by step; deflate expands at most 1032-fold, which bounds
    what a damaged file can claim."""
    return min(int.from_bytes(compressed[-4:], "little"), 1032 * len(compressed))
