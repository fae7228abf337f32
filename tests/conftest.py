import gzip
import os
import re
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

from data_set import input_data

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_DATA = os.path.join(REPO, "data_set")


def idx_bytes(magic, array):
    """An idx file's bytes: magic, then each dimension, as big-endian uint32, then the uint8 data."""
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_gz(path, content):
    with open(path, "wb") as file:
        file.write(gzip.compress(content))


def write_mnist_like(directory, train_count=100, test_count=30, seed=0):
    """Write the four files for a small, random data set in MNIST's format; return its arrays."""
    random = np.random.default_rng(seed)
    arrays = {}
    for images_name, labels_name, count in (
        (input_data.TRAIN_IMAGES, input_data.TRAIN_LABELS, train_count),
        (input_data.TEST_IMAGES, input_data.TEST_LABELS, test_count),
    ):
        arrays[images_name] = random.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        arrays[labels_name] = random.integers(0, 10, count, dtype=np.uint8)
        write_gz(os.path.join(directory, images_name), idx_bytes(input_data.IMAGE_MAGIC, arrays[images_name]))
        write_gz(os.path.join(directory, labels_name), idx_bytes(input_data.LABEL_MAGIC, arrays[labels_name]))
    return arrays


def snapshot(directory):
    """Every file under directory with its bytes, to show that a failed run changed nothing."""
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                files[os.path.relpath(path, directory)] = file.read()
    return files


def fresh_shell_env(**extra):
    """This environment as a fresh shell has it: no TF_* settings and no PYTHONUNBUFFERED."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TF_")}
    env.pop("PYTHONUNBUFFERED", None)
    return {**env, **extra}


def checkpoints(directory):
    """The steps of the checkpoints model-<step> saved in directory, in order."""
    return sorted(int(name[len("model-") : -len(".index")]) for name in os.listdir(directory) if name.endswith(".index"))


def train_command(*args):
    return [sys.executable, os.path.join(REPO, "train.py"), *map(str, args)]


def run_train(*args, cwd=REPO, timeout=300, env=None):
    return subprocess.run(
        train_command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env or fresh_shell_env()
    )


LOSS_LINE = re.compile(r"第([ \d]{5})步，当前loss：(\d+\.\d\d)")
ACCURACY_LINE = re.compile(r"准确率: (\d\.\d\d)，共测试了(\d+)张图片 ")


def loss_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("第")]


def accuracy_of(stdout):
    match = ACCURACY_LINE.fullmatch(stdout.splitlines()[-1])
    assert match, stdout.splitlines()[-1]
    return float(match[1]), int(match[2])


def steps_printed(stdout):
    return [int(LOSS_LINE.fullmatch(line)[1]) for line in loss_lines(stdout)]


@pytest.fixture
def small_data(tmp_path):
    """A directory with a small MNIST-format data set, and its arrays."""
    return tmp_path, write_mnist_like(tmp_path)


@pytest.fixture
def mnist_copy(tmp_path):
    """A writable copy of the shipped MNIST files."""
    directory = tmp_path / "mnist"
    directory.mkdir()
    for name in input_data.MNIST_FILES:
        shutil.copy(os.path.join(SHIPPED_DATA, name), directory)
    return directory


@pytest.fixture
def closed_port_url():
    """A mirror URL on 127.0.0.1 where nothing listens: a download from it fails at once, with no network."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"
