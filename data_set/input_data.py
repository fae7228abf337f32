"""Reads MNIST into train, validation and test sets, as TensorFlow 1's
tensorflow.examples.tutorials.mnist.input_data did before TensorFlow 2 removed it.

Only numpy is needed: reading the data does not load TensorFlow.
"""
import collections
import concurrent.futures
import copy
import hashlib
import math
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from functools import cached_property

import numpy as np

DEFAULT_SOURCE_URLS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
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
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
IMAGE_SIZE = 28
NUM_CLASSES = 10
DOWNLOAD_TIMEOUT_SECONDS = 30
# TensorFlow 1 scaled pixels by multiplying with 1/255, which is not always x/255 in float32.
PIXEL_SCALE = np.float32(1.0 / 255.0)
# TensorFlow copies a fed array unless its data starts on a 64-byte boundary; numpy promises only 16.
FEED_ALIGNMENT = 64

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])
# Examples start to end (exclusive) of an epoch's shuffled order, converted for next_batch, and
# cut into batches of batch_size.
Block = collections.namedtuple("Block", ["start", "end", "images", "labels", "batch_size", "batches"])
BATCHES_PER_BLOCK = 32


def _start_block_converter():
    """The thread that converts next_batch's blocks ahead. A child made by fork() needs one of its
    own: it has none of its parent's threads, and work handed to theirs would never be done."""
    global _block_converter
    _block_converter = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="next_batch")


_start_block_converter()
if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork()
    os.register_at_fork(after_in_child=_start_block_converter)


class MnistDataError(ValueError):
    """A data file is missing, unreadable or not MNIST's idx format; the message names it."""


class ValidationSizeError(ValueError):
    """validation_size asks for more examples than the training files hold."""


class DataSet:
    """One split of MNIST: its images, its labels and batches drawn in shuffled order."""

    def __init__(self, pixels, labels, dtype=np.float32, reshape=True, seed=None):
        """pixels: uint8 array (n, 28, 28); labels: class ids (n,) or one-hot rows (n, 10)."""
        dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))  # tf.float32 works too
        if dtype not in (np.float32, np.uint8):
            raise TypeError(f"Invalid image dtype {dtype}, expected uint8 or float32")
        # Pixels stay uint8 (a quarter of float32's memory); batches are converted as drawn.
        self._pixels = pixels.reshape(len(pixels), math.prod(pixels.shape[1:])) if reshape else pixels[..., np.newaxis]
        self._as_float32 = dtype == np.float32
        self.labels = labels
        self.num_examples = len(pixels)
        self.epochs_completed = 0
        self._random = np.random.default_rng(seed)
        self._order = None
        self._index_in_epoch = 0
        self._block = self._next_block = self._next_epoch = None
        self._ready_batches, self._ready_size = [], None

    @cached_property
    def images(self):
        return self._convert(self._pixels)

    def _convert(self, pixels):
        if not self._as_float32:
            return pixels
        images = _aligned_float32(pixels.shape)
        # One pass, each pixel cast and scaled as it is written; dtype keeps the arithmetic in float32.
        np.multiply(pixels, PIXEL_SCALE, out=images, dtype=np.float32)
        return images

    def _new_epoch_order(self, shuffle):
        return self._random.permutation(self.num_examples) if shuffle else np.arange(self.num_examples)

    def next_batch(self, batch_size, shuffle=True):
        """The next batch_size examples; an epoch's last batch is topped up from the next epoch."""
        if self._ready_batches and batch_size == self._ready_size:  # most calls: kept short, as it runs every step
            self._index_in_epoch += batch_size
            return self._ready_batches.pop()
        if not 0 < batch_size <= self.num_examples:
            raise ValueError(f"batch_size must be between 1 and {self.num_examples}, got {batch_size}")
        if self._order is None:
            self._order = self._new_epoch_order(shuffle)
        start = self._index_in_epoch
        if start + batch_size <= self.num_examples:
            self._index_in_epoch += batch_size
            return self._from_blocks(start, batch_size)
        rest_of_epoch = self._order[start:]
        self.epochs_completed += 1
        self._index_in_epoch = batch_size - len(rest_of_epoch)
        self._start_epoch(shuffle, batch_size)
        return self._examples(np.concatenate([rest_of_epoch, self._order[: self._index_in_epoch]]))

    def _start_epoch(self, shuffle, batch_size):
        """The new epoch's order, and its first block if the one made ahead starts where this
        epoch's batches now do; the blocks of the epoch that just ended are dropped."""
        process, drawing = self._next_epoch or (None, None)
        self._block = self._next_block = self._next_epoch = None
        self._ready_batches = []
        if not shuffle or process != os.getpid():
            self._order = self._new_epoch_order(shuffle)
            return
        self._random, self._order, block = drawing.result()
        if block.start == self._index_in_epoch:
            self._block = block
            self._convert_ahead(block, batch_size)

    def _from_blocks(self, start, batch_size):
        """Examples start to start + batch_size of this epoch, sliced from a block of converted ones.

        A block holds BATCHES_PER_BLOCK batches, and the block after it is converted on another
        thread meanwhile: a training step lets go of the GIL, so it need not wait for its data.
        The block's batches come cut, for this call and the next ones to take; only a batch size
        that changes inside a block has them cut here.
        """
        block = self._block  # it starts at or before start: batches only move forward in an epoch
        if block is None or start + batch_size > block.end:
            block = self._block = self._following_block(start, batch_size)
        if start == block.start and batch_size == block.batch_size:
            batches = block.batches
        else:
            batches = _cut(block.images, block.labels, start - block.start, batch_size)
        self._ready_batches, self._ready_size = batches, batch_size
        return batches.pop()

    def _following_block(self, start, batch_size):
        """The block from start, and the conversion of the block after it set going."""
        process, converted_start, converting = self._next_block or (None, None, None)
        if converted_start == start and process == os.getpid():
            block = converting.result()
        else:  # the first batch of a run or of an unshuffled epoch, a new batch size, or a forked child's
            block = self._block_at(self._order, start, batch_size)
        self._convert_ahead(block, batch_size)
        return block

    def _convert_ahead(self, block, batch_size):
        """Set the block after this one converting on the other thread; after an epoch's last block,
        the next epoch's shuffled order and first block, drawn from a copy of the generator that
        replaces it only if the next epoch is shuffled."""
        self._next_block = None
        if block.end < self.num_examples:
            converting = _block_converter.submit(self._block_at, self._order, block.end, batch_size)
            self._next_block = os.getpid(), block.end, converting
            return
        # The next epoch's first batch tops up this epoch's last one, so its blocks start further on.
        first_start = batch_size - (self.num_examples - block.start) % batch_size
        drawing = _block_converter.submit(self._epoch_ahead, copy.deepcopy(self._random), first_start, batch_size)
        self._next_epoch = os.getpid(), drawing

    def _epoch_ahead(self, random, start, batch_size):
        order = random.permutation(self.num_examples)
        return random, order, self._block_at(order, start, batch_size)

    def _block_at(self, order, start, batch_size):
        """The block from start, converted and cut, mostly on the converting thread: cut in the
        training thread, right after a step has filled the caches, its batches cost more."""
        chosen = order[start : start + batch_size * BATCHES_PER_BLOCK]
        images, labels = self._examples(chosen)
        return Block(start, start + len(chosen), images, labels, batch_size, _cut(images, labels, 0, batch_size))

    def _examples(self, chosen):
        """The images and labels of the examples at the indices chosen."""
        # take() is the quickest gather numpy has.
        return self._convert(self._pixels.take(chosen, axis=0)), self.labels.take(chosen, axis=0)


def _cut(images, labels, first, batch_size):
    """The batches of a block from offset first, last first: pop() hands them out in order."""
    offsets = range(first, len(images) - batch_size + 1, batch_size)
    return [(images[i : i + batch_size], labels[i : i + batch_size]) for i in reversed(offsets)]


def _aligned_float32(shape):
    """An empty float32 array that TensorFlow can feed without copying it. An image is 3136 bytes,
    a multiple of 64, so every batch sliced from it is aligned too."""
    size = math.prod(shape) * np.dtype(np.float32).itemsize
    memory = np.empty(size + FEED_ALIGNMENT, np.uint8)
    offset = -memory.ctypes.data % FEED_ALIGNMENT
    return memory[offset : offset + size].view(np.float32).reshape(shape)


def read_data_sets(
    train_dir,
    one_hot=False,
    dtype=np.float32,
    reshape=True,
    validation_size=5000,
    seed=None,
    source_url=None,
):
    """Read the four MNIST files in train_dir, downloading any that are missing.

    Validation is the first validation_size training examples and train the rest.
    source_url is one mirror URL or a list of them, tried in order.
    """
    paths = []
    for name in MNIST_FILES:
        paths.append(maybe_download(name, train_dir, source_url))
        print("Extracting", paths[-1])
    # Inflating is most of the work, and zlib lets go of the GIL: the files inflate side by side.
    with concurrent.futures.ThreadPoolExecutor() as pool:
        arrays = list(pool.map(_read_idx, paths, [IMAGE_MAGIC, LABEL_MAGIC] * 2))
    train_pixels, train_labels = _checked_pair(paths[0], arrays[0], paths[1], arrays[1])
    test_pixels, test_labels = _checked_pair(paths[2], arrays[2], paths[3], arrays[3])
    if not 0 <= validation_size <= len(train_pixels):
        raise ValidationSizeError(
            f"validation size must be between 0 and {len(train_pixels)} "
            f"(the number of training images), got {validation_size}"
        )
    if one_hot:
        train_labels, test_labels = _one_hot(train_labels), _one_hot(test_labels)

    def split(pixels, labels):
        return DataSet(pixels, labels, dtype=dtype, reshape=reshape, seed=seed)

    return Datasets(
        train=split(train_pixels[validation_size:], train_labels[validation_size:]),
        validation=split(train_pixels[:validation_size], train_labels[:validation_size]),
        test=split(test_pixels, test_labels),
    )


def maybe_download(filename, work_directory, source_url=None):
    """The path of filename in work_directory, downloaded there first if it is missing."""
    path = os.path.join(work_directory, filename)
    if not os.path.lexists(path):
        _download(path, _mirror_list(source_url))
    return path


def _mirror_list(source_url):
    urls = DEFAULT_SOURCE_URLS if source_url is None else source_url
    urls = [urls] if isinstance(urls, str) else list(urls)
    return [url if url.endswith("/") else url + "/" for url in urls]


def _one_hot(labels):
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]


def _checked_pair(images_path, pixels, labels_path, labels):
    """The pixels and labels of one split, after checking them against each other."""
    if pixels.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise MnistDataError(
            f"{images_path}: images are {pixels.shape[1]}x{pixels.shape[2]} pixels, "
            f"MNIST's are {IMAGE_SIZE}x{IMAGE_SIZE}; use data in MNIST's format"
        )
    if len(labels) != len(pixels):
        raise MnistDataError(
            f"{labels_path}: holds {len(labels)} labels but {images_path} holds "
            f"{len(pixels)} images; the two files must come from the same data set"
        )
    if len(labels) and labels.max() >= NUM_CLASSES:
        index = int(np.argmax(labels >= NUM_CLASSES))
        raise MnistDataError(
            f"{labels_path}: label {labels[index]} at position {index} is not a digit "
            f"0-{NUM_CLASSES - 1}; the file is damaged or not an MNIST label file"
        )
    return pixels, labels


def _read_idx(path, magic):
    """The uint8 array in one gzipped idx file, after checking its header against its length."""
    data = _gunzip(path)
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header_size = 4 * (1 + ndim)
    header = np.frombuffer(data, ">u4", count=min(len(data) // 4, 1 + ndim))
    if len(header) == 0 or header[0] not in (IMAGE_MAGIC, LABEL_MAGIC):
        raise MnistDataError(f"{path}: is not an MNIST idx file (no idx header); replace it with one")
    if header[0] != magic:
        holds, expected = ("labels", "images") if magic == IMAGE_MAGIC else ("images", "labels")
        raise MnistDataError(
            f"{path}: holds {holds}, not {expected}; check that the files are not swapped or misnamed"
        )
    if len(data) < header_size:
        raise MnistDataError(f"{path}: ends inside its idx header; the file is truncated, replace it")
    shape = tuple(int(size) for size in header[1:])
    payload = len(data) - header_size
    if payload != math.prod(shape):
        raise MnistDataError(
            f"{path}: header announces {' x '.join(map(str, shape))} = {math.prod(shape)} bytes "
            f"of data but the file holds {payload}; the file is damaged, replace it"
        )
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def _gunzip(path):
    try:
        with open(path, "rb") as file:
            compressed = file.read()
    except OSError as error:
        raise MnistDataError(f"{path}: cannot be read ({error.strerror}); check the path and its permissions") from None
    if not compressed:
        raise MnistDataError(f"{path}: is empty; delete it to download it again, or replace it")
    if compressed[:2] != b"\x1f\x8b":
        raise MnistDataError(f"{path}: is not a gzip file; MNIST files are gzipped idx files, replace it")
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


def _download(path, mirrors):
    """Fetch path's file from the first mirror whose bytes match the published SHA-256.

    Each attempt writes to a temporary file beside path that is renamed into place only
    when complete and verified, so no half-written file is ever left under the real name.
    """
    directory, name = os.path.split(path)
    try:
        os.makedirs(directory or ".", exist_ok=True)
        partial = tempfile.NamedTemporaryFile(dir=directory or ".", prefix=name + ".", suffix=".part", delete=False)
    except OSError as error:
        raise MnistDataError(
            f"{path}: is missing and cannot be downloaded into {directory or '.'} ({error.strerror}); "
            "make the directory writable, or copy the file there by hand"
        ) from None
    failures = []
    try:
        with partial:
            for mirror in mirrors:
                url = mirror + name
                try:
                    _fetch(url, partial, SHA256[name])
                except (OSError, ValueError) as error:
                    failures.append(f"{url} ({_reason(error)})")
                    continue
                partial.close()
                try:
                    os.replace(partial.name, path)
                except OSError as error:
                    raise MnistDataError(f"{path}: was downloaded but could not be put in place ({error.strerror})") from None
                print(f"Successfully downloaded {name} {os.path.getsize(path)} bytes.")
                return
    finally:
        if os.path.exists(partial.name):
            os.remove(partial.name)
    raise MnistDataError(
        f"{path}: is missing and could not be downloaded: {'; '.join(failures) or 'no mirror given'}; "
        "copy the file there by hand, or name a working mirror with --source-url"
    )


def _fetch(url, file, sha256):
    """Write url's bytes to file, raising ValueError if they do not hash to sha256."""
    file.seek(0)
    file.truncate()
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            file.write(chunk)
    if digest.hexdigest() != sha256:
        raise ValueError("the bytes do not match the published SHA-256")


def _reason(error):
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error)
