"""Trains the tutorial's softmax regression on MNIST and prints the loss and the test accuracy.

With no flags it does exactly what the tutorial's train.py did; every extra is a flag.
"""
import argparse
import contextlib
import math
import os
import sys
import tempfile

from data_set import input_data


@contextlib.contextmanager
def tensorflow_start_up_hidden(verbose):
    """Hide what TensorFlow writes to stderr while it loads, unless verbose; replay it if loading fails.

    Those lines come from C++ before its logging is set up, so only redirecting file descriptor 2 stops them.
    """
    if verbose:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # quiets later C++ notices, unless the user chose a level
    sys.stderr.flush()
    real_stderr = os.dup(2)
    with tempfile.TemporaryFile() as start_up_log:
        os.dup2(start_up_log.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            start_up_log.seek(0)
            os.write(real_stderr, start_up_log.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(real_stderr, 2)
            os.close(real_stderr)


# TensorFlow must know how quiet to be before it loads, which is before main() parses the flags.
with tensorflow_start_up_hidden(verbose="--verbose" in sys.argv[1:]):
    import tensorflow.compat.v1 as tf

    from model import Network

DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data_set")


class Train:
    def __init__(self, args, data):
        self.args = args
        self.data = data
        if args.seed is not None:
            tf.set_random_seed(args.seed)
        self.net = Network(args.learning_rate)
        # One thread each: for a graph this small, handing work between threads costs more than it saves.
        self.sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1))
        self.sess.run(tf.global_variables_initializer())

    def train(self):
        for i in range(self.args.steps):
            x, label = self.data.train.next_batch(self.args.batch_size)
            _, loss = self.sess.run([self.net.train, self.net.loss], feed_dict={self.net.x: x, self.net.label: label})
            if (i + 1) % self.args.log_every == 0:
                print("第%5d步，当前loss：%.2f" % (i + 1, loss))

    def calculate_accuracy(self):
        test_x = self.data.test.images
        test_label = self.data.test.labels
        accuracy = self.sess.run(self.net.accuracy, feed_dict={self.net.x: test_x, self.net.label: test_label})
        print("准确率: %.2f，共测试了%d张图片 " % (accuracy, len(test_label)))


def number(kind, zero_allowed=False):
    """An argparse type: a finite number of the given kind, greater than zero (or at least zero)."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_allowed):
            raise argparse.ArgumentTypeError(f"{text!r} must be {'0 or more' if zero_allowed else 'greater than 0'}")
        return value

    return parse


def parse_args(argv=None):
    # allow_abbrev=False: "--verbose" must be typed in full, as it is read before parsing (see above).
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--steps", type=number(int), default=2000, help="training steps (default: %(default)s)")
    parser.add_argument("--batch-size", type=number(int), default=64, help="images per step (default: %(default)s)")
    parser.add_argument(
        "--learning-rate", type=number(float), default=0.001, help="gradient descent step size (default: %(default)s)"
    )
    parser.add_argument(
        "--log-every", type=number(int), default=10, help="print the loss every N steps (default: %(default)s)"
    )
    parser.add_argument(
        "--data-dir", default=DEFAULT_DATA_DIR, help="where the four MNIST .gz files are (default: %(default)s)"
    )
    parser.add_argument(
        "--validation-size",
        type=number(int, zero_allowed=True),
        default=5000,
        help="training images held out for validation (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, help="seeds the shuffling and TensorFlow: same seed, same output (default: none, runs vary)"
    )
    parser.add_argument(
        "--source-url",
        action="append",
        metavar="URL",
        help="mirror to download a missing file from; repeat to try several in order "
        f"(default: {' then '.join(input_data.DEFAULT_SOURCE_URLS)})",
    )
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up messages and notices")
    return parser, parser.parse_args(argv)


def main():
    parser, args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # show each line as it comes, even through a pipe
    try:
        data = input_data.read_data_sets(
            args.data_dir,
            one_hot=True,
            validation_size=args.validation_size,
            seed=args.seed,
            source_url=args.source_url,
        )
    except input_data.MnistDataError as error:
        sys.exit(f"error: {error}")
    except ValueError as error:  # the validation set asked for is larger than the training files
        parser.error(str(error))
    if args.batch_size > data.train.num_examples:
        parser.error(f"--batch-size {args.batch_size} is larger than the training set ({data.train.num_examples} images)")
    app = Train(args, data)
    app.train()
    app.calculate_accuracy()


if __name__ == "__main__":
    main()
    # Everything is written and closed; skip TensorFlow's slow interpreter shutdown.
    sys.stdout.flush()
    os._exit(0)
