"""Accuracy of --predict's preparation on each kind of own digit, against a plain resize-and-invert.

    python tests/benchmark_own_digits.py [--checkpoint DIR] [--per-kind N] [--out FILE]

Not a test (pytest does not collect it): it draws N images of each kind of tests/own_digits.py
(seeds from 10,000, apart from the tests' own), predicts them with the newest checkpoint in DIR
(or trains the default run into a temporary directory), and prints, for each kind, how many were
right and refused, and how many a plain resize to 28x28 and inversion gets right. Then the time
to prepare one 12 MP phone photo, and train.py --predict's time and peak memory for 1 and 100
images and for a decompression bomb. Everything printed is also written to FILE (default
benchmark_own_digits.txt), as a long table scrolls out of a console.
"""
import argparse
import builtins
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image, ImageOps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from data_set.digit_image import DigitImageError, prepare_digit  # noqa: E402
from tests.own_digits import KINDS, gray_file, photo, write_kind  # noqa: E402
from tests.test_predict import png_bomb  # noqa: E402

FIRST_SEED = 10_000  # the tests use seeds below 10


def plain(path):
    """The baseline: the image resized to 28x28 and inverted, dark ink on light paper assumed."""
    with Image.open(path) as image:
        gray = ImageOps.exif_transpose(image).convert("L").resize((28, 28), Image.Resampling.BILINEAR)
    return (1 - np.asarray(gray, np.float32) / 255).reshape(-1)


def classifier(checkpoint):
    import tensorflow.compat.v1 as tf

    import model

    with tf.Graph().as_default():
        net = model.Network()
        sess = tf.Session()
        tf.train.Saver().restore(sess, tf.train.latest_checkpoint(checkpoint))
    return lambda images: sess.run(net.y, {net.x: np.reshape(images, (-1, 784))}).argmax(axis=1)


def accuracy_table(classify, directory, per_kind, print=print):
    print(f"{'kind':28} {'right':>7} {'refused':>8} {'plain':>7}")
    totals = np.zeros(3, int)
    for kind in KINDS:
        right = refused = plain_right = 0
        for i in range(per_kind):
            digit = i % 10
            path = write_kind(directory, kind, digit, FIRST_SEED + i)
            plain_right += classify(plain(path))[0] == digit
            try:
                right += classify(prepare_digit(path))[0] == digit
            except DigitImageError:
                refused += 1
            os.remove(path)
        totals += right, refused, plain_right
        print(f"{kind:28} {right:3}/{per_kind:<3} {refused:8} {plain_right:3}/{per_kind:<3}")
    count = per_kind * len(KINDS)
    print(f"{'overall':28} {totals[0] / count:7.1%} {totals[1]:8} {totals[2] / count:7.1%}")


def run_measured(*args):
    """train.py with args in a process of its own: (seconds, peak memory in MB, stdout lines, stderr)."""
    measure = (
        "import resource, subprocess, sys, time; start = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
        "len(r.stdout.splitlines()), repr(r.stderr))"
    )
    result = subprocess.run(
        [sys.executable, "-c", measure, sys.executable, os.path.join(REPO, "train.py"), *map(str, args)],
        capture_output=True, text=True, check=True,
    )
    return result.stdout.rstrip("\n").split(maxsplit=3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", metavar="DIR", help="a --save-dir of train.py (default: train one)")
    parser.add_argument("--per-kind", type=int, default=100, metavar="N")
    parser.add_argument("--out", default="benchmark_own_digits.txt", metavar="FILE")
    args = parser.parse_args()
    with open(args.out, "w") as out, tempfile.TemporaryDirectory() as scratch:

        def print(*text):
            builtins.print(*text, flush=True)
            builtins.print(*text, file=out, flush=True)

        measure(args, pathlib.Path(scratch), print)
    builtins.print(f"(written to {args.out})")


def measure(args, scratch, print):
    """The accuracy table and the timings, printed with print."""
    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = scratch / "checkpoint"
        subprocess.run([sys.executable, os.path.join(REPO, "train.py"), "--save-dir", checkpoint, "--seed", "1"],
                       check=True, capture_output=True)
    accuracy_table(classifier(checkpoint), scratch, args.per_kind, print)
    print()
    twelve_mp = np.kron(photo(np.random.default_rng(0), 4), np.ones((5, 5)))  # 4000x3000
    for fmt, suffix in (("JPEG", ".jpg"), ("PNG", ".png")):
        phone = scratch / f"phone{suffix}"
        phone.write_bytes(gray_file(twelve_mp, fmt))
        start = time.perf_counter()
        prepare_digit(phone)
        print(f"prepare_digit of a 12 MP phone photo, {fmt}: {time.perf_counter() - start:.2f} s")
    one = write_kind(scratch, "gradient photo", 3, FIRST_SEED)
    for label, paths in (("1 image", [one]), ("100 images", [one] * 100), ("a 20000x20000 PNG bomb", [png_bomb(scratch / "bomb.png")])):
        seconds, megabytes, lines, stderr = run_measured("--save-dir", checkpoint, "--predict", *paths)
        print(f"train.py --predict, {label}: {float(seconds):.1f} s, peak {float(megabytes):.0f} MB, stderr {stderr}")
    print(f"(this process's peak: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
