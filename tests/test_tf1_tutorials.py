"""TensorFlow 1 MNIST tutorials run on this reader: small scripts of our own in their style,
each call form's result against what TensorFlow 1 documented, and MNIST files as people have
them on disk (uncompressed, or with the dot that browsers and Kaggle put in their names)."""
import gzip
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from data_set import input_data
from tests.conftest import REPO, SHIPPED_DATA, fresh_shell_env, snapshot, write_mnist_like

# Softmax regression as the TensorFlow 1 tutorials wrote it, to which each script below adds
# how it gets its data; each script prints the test accuracy last.
SOFTMAX = """
import sys
import tensorflow.compat.v1 as tf
from data_set import input_data
tf.disable_v2_behavior()

def trained(next_batch, steps=300):
    '''Train on steps batches from next_batch(); return accuracy(images, labels).'''
    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.float32, [None, 10])
    w, b = tf.Variable(tf.zeros([784, 10])), tf.Variable(tf.zeros([10]))
    y = tf.matmul(x, w) + b
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=y))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    correct = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1)), tf.float32))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for _ in range(steps):
        batch_xs, batch_ys = next_batch()
        sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})
    return lambda images, labels: sess.run(correct, feed_dict={x: images, y_: labels})
"""

SCRIPTS = {
    # read_data_sets(dir, False, True): fake_data=False, one_hot=True
    "positional read_data_sets": """
mnist = input_data.read_data_sets(sys.argv[1], False, True)
accuracy = trained(lambda: mnist.train.next_batch(100))
print(accuracy(mnist.test.images, mnist.test.labels))
""",
    # Sets made by hand from the extracted arrays; next_batch(100, False) means fake_data=False.
    "hand-built DataSets": """
import os
def extracted(name, one_hot=False):
    with open(os.path.join(sys.argv[1], name), 'rb') as f:
        return input_data.extract_images(f) if 'images' in name else input_data.extract_labels(f, one_hot=one_hot)
train = input_data.DataSet(extracted('train-images-idx3-ubyte.gz'), extracted('train-labels-idx1-ubyte.gz', True), dtype=tf.float32)
test = input_data.DataSet(extracted('t10k-images-idx3-ubyte.gz'), extracted('t10k-labels-idx1-ubyte.gz', True))
accuracy = trained(lambda: train.next_batch(100, False))
print(accuracy(test.images, test.labels))
""",
    # A --fake_data run: read_data_sets(dir, True, True) reads nothing, and batches are fake.
    "fake data": """
mnist = input_data.read_data_sets(sys.argv[1], True, True)
accuracy = trained(lambda: mnist.train.next_batch(100, True), steps=20)
print(accuracy(*mnist.test.next_batch(100, True)))
""",
}


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_tensorflow_1_style_script_trains_on_the_reader(script, tmp_path):
    data_dir = tmp_path / "not-there" if script == "fake data" else SHIPPED_DATA
    result = subprocess.run(
        [sys.executable, "-c", SOFTMAX + SCRIPTS[script], str(data_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=fresh_shell_env(TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert float(lines[-1]) > 0.85
    assert len([line for line in lines if line.startswith("Extracting ")]) == (0 if script == "fake data" else 4)
    assert os.path.exists(data_dir) == (script != "fake data")  # fake data creates no directory


# --- each call form's result, against TensorFlow 1's documented behaviour ---


@pytest.fixture(scope="module")
def shipped_test_files():
    """The shipped test split as extract_images and extract_labels give it: uint8 (10000, 28, 28, 1) and (10000,)."""
    with open(os.path.join(SHIPPED_DATA, input_data.TEST_IMAGES), "rb") as f:
        images = input_data.extract_images(f)
    with open(os.path.join(SHIPPED_DATA, input_data.TEST_LABELS), "rb") as f:
        labels = input_data.extract_labels(f)
    return images, labels


def test_positional_arguments_keep_tensorflow_1s_order(tmp_path):
    arrays = write_mnist_like(tmp_path)
    # train_dir, fake_data, one_hot, dtype, reshape, validation_size, seed
    data = input_data.read_data_sets(tmp_path, False, True, np.uint8, False, 10, 1)
    assert data.train.images.dtype == np.uint8 and data.train.images.shape == (90, 28, 28, 1)
    assert data.validation.num_examples == 10
    assert data.train.labels.dtype == np.float64 and data.train.labels.shape == (90, 10)
    np.testing.assert_array_equal(data.train.labels.argmax(axis=1), arrays[input_data.TRAIN_LABELS][10:])


def test_extract_functions_give_tensorflow_1s_arrays(shipped_test_files, capsys):
    images, labels = shipped_test_files
    assert images.dtype == np.uint8 and images.shape == (10000, 28, 28, 1)
    assert labels.dtype == np.uint8 and labels.shape == (10000,)
    with open(os.path.join(SHIPPED_DATA, input_data.TEST_LABELS), "rb") as f:
        one_hot = input_data.extract_labels(f, one_hot=True)
    assert one_hot.dtype == np.float64 and one_hot.shape == (10000, 10)
    np.testing.assert_array_equal(one_hot, input_data.dense_to_one_hot(labels, 10))
    np.testing.assert_array_equal(one_hot.argmax(axis=1), labels)
    assert capsys.readouterr().out == f"Extracting {os.path.join(SHIPPED_DATA, input_data.TEST_LABELS)}\n"


def test_dense_to_one_hot_is_float64_rows():
    one_hot = input_data.dense_to_one_hot(np.array([2, 0], np.uint8), 3)
    assert one_hot.dtype == np.float64
    np.testing.assert_array_equal(one_hot, [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize("extract, wrong_file", [
    (input_data.extract_images, input_data.TEST_LABELS),
    (input_data.extract_labels, input_data.TEST_IMAGES),
])
def test_extracting_the_wrong_kind_of_file_is_a_value_error(extract, wrong_file):
    with open(os.path.join(SHIPPED_DATA, wrong_file), "rb") as f:
        with pytest.raises(ValueError, match="check that the files are not swapped"):
            extract(f)


def test_a_hand_built_data_set_is_in_file_order_until_shuffled(shipped_test_files):
    images, labels = shipped_test_files
    test = input_data.DataSet(images, labels)
    assert test.num_examples == 10000 and test.epochs_completed == 0
    np.testing.assert_array_equal(test.images, images.reshape(10000, 784) * input_data.PIXEL_SCALE)
    assert test.images.dtype == np.float32 and test.labels.dtype == np.uint8
    np.testing.assert_array_equal(test.labels, labels)
    assert input_data.DataSet(images, labels, reshape=False).images.shape == (10000, 28, 28, 1)
    assert input_data.DataSet(images, labels, dtype=np.uint8).images.dtype == np.uint8


def test_images_and_labels_follow_the_shuffled_order(shipped_test_files):
    images, labels = shipped_test_files
    test = input_data.DataSet(images, labels, seed=1)
    batch_images, batch_labels = test.next_batch(100, False)  # fake_data=False: a real batch, shuffled
    assert batch_images.shape == (100, 784) and batch_labels.shape == (100,)
    assert not np.array_equal(batch_labels, labels[:100])
    np.testing.assert_array_equal(test.images[:100], batch_images)
    np.testing.assert_array_equal(test.labels[:100], batch_labels)
    np.testing.assert_array_equal(np.sort(test.labels), np.sort(labels))  # the same examples, reordered


def test_the_batch_that_ends_an_epoch_is_topped_up_from_the_next(shipped_test_files):
    images, labels = shipped_test_files
    small = input_data.DataSet(images[:25], labels[:25], dtype=np.uint8, seed=2)
    first, _ = small.next_batch(20)
    first_epoch = small.images.copy()
    wrapped, _ = small.next_batch(10)
    assert small.epochs_completed == 1
    np.testing.assert_array_equal(first, first_epoch[:20])
    np.testing.assert_array_equal(wrapped[:5], first_epoch[20:])  # the rest of the first epoch
    np.testing.assert_array_equal(wrapped[5:], small.images[:5])  # the start of the second, reshuffled
    assert not np.array_equal(small.images, first_epoch)


def test_shuffle_false_reads_in_file_order(shipped_test_files):
    images, labels = shipped_test_files
    test = input_data.DataSet(images, labels)
    _, batch_labels = test.next_batch(30, shuffle=False)
    np.testing.assert_array_equal(batch_labels, labels[:30])
    np.testing.assert_array_equal(test.labels, labels)


@pytest.mark.parametrize("one_hot, label", [(False, 0), (True, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0])])
def test_fake_data_sets_give_tensorflow_1s_fake_batches_and_read_nothing(tmp_path, capsys, one_hot, label):
    data_dir = tmp_path / "not-there"
    data = input_data.read_data_sets(data_dir, fake_data=True, one_hot=one_hot)
    for split in data:
        assert split.num_examples == 10000
        assert split.next_batch(3, fake_data=True) == ([[1] * 784] * 3, [label] * 3)
        with pytest.raises(ValueError, match="fake_data=True"):
            split.next_batch(3)
    assert not data_dir.exists() and capsys.readouterr().out == ""


def test_hand_built_data_sets_check_their_arrays(shipped_test_files):
    images, labels = shipped_test_files
    with pytest.raises(ValueError, match="differ in number"):
        input_data.DataSet(images, labels[:-1])
    with pytest.raises(ValueError, match=r"reshape needs images of shape \(n, rows, cols, 1\)"):
        input_data.DataSet(images[..., 0], labels)
    with pytest.raises(TypeError, match="expected uint8 or float32"):
        input_data.DataSet(images, labels, dtype=np.float64)


# --- MNIST as people have it on disk ---

ON_DISK = {
    "uncompressed": lambda name: name.removesuffix(".gz"),
    "uncompressed, dotted": lambda name: name.removesuffix(".gz").replace("-idx", ".idx"),
    "uncompressed under the .gz name": lambda name: name,
}


@pytest.mark.parametrize("kind", ON_DISK)
def test_uncompressed_copies_are_read_as_they_are(tmp_path, capsys, closed_port_url, kind):
    arrays = write_mnist_like(tmp_path)
    paths = []
    for name in input_data.MNIST_FILES:
        data = gzip.decompress((tmp_path / name).read_bytes())
        os.remove(tmp_path / name)
        paths.append(tmp_path / ON_DISK[kind](name))
        paths[-1].write_bytes(data)
    before = snapshot(tmp_path)
    # A download, which the closed port would refuse, is never tried.
    data = input_data.read_data_sets(tmp_path, dtype=np.uint8, validation_size=10, source_url=closed_port_url)
    assert capsys.readouterr().out.splitlines() == [f"Extracting {path}" for path in paths]
    np.testing.assert_array_equal(data.train.images, arrays[input_data.TRAIN_IMAGES][10:].reshape(-1, 784))
    np.testing.assert_array_equal(data.test.labels, arrays[input_data.TEST_LABELS])
    assert snapshot(tmp_path) == before


def test_the_gz_file_comes_before_an_uncompressed_copy(tmp_path, capsys):
    arrays = write_mnist_like(tmp_path)
    (tmp_path / input_data.TEST_LABELS.removesuffix(".gz")).write_bytes(b"not read")
    data = input_data.read_data_sets(tmp_path, validation_size=10)
    np.testing.assert_array_equal(data.test.labels, arrays[input_data.TEST_LABELS])
    assert f"Extracting {tmp_path / input_data.TEST_LABELS}" in capsys.readouterr().out.splitlines()


def test_a_damaged_uncompressed_copy_is_named_in_the_error(tmp_path, closed_port_url):
    write_mnist_like(tmp_path)
    name = input_data.TRAIN_LABELS
    plain = tmp_path / name.removesuffix(".gz").replace("-idx", ".idx")
    plain.write_bytes(gzip.decompress((tmp_path / name).read_bytes())[:-1])
    os.remove(tmp_path / name)
    with pytest.raises(input_data.MnistDataError, match=f"^{re.escape(str(plain))}: header announces 100 = 100 bytes of data but the file holds 99"):
        input_data.read_data_sets(tmp_path, source_url=closed_port_url)
