"""Trains the tutorial's softmax regression on MNIST and prints the loss and the test accuracy.

With no flags it does exactly what the tutorial's train.py did; every extra is a flag.
"""
import argparse
import concurrent.futures
import contextlib
import faulthandler
import logging
import math
import os
import signal
import sys
import tempfile

from data_set import input_data


@contextlib.contextmanager
def tensorflow_quieted(verbose):
    """Unless verbose, hide what TensorFlow writes to stderr while it loads (replayed if loading
    fails, but not after Ctrl-C), and its later notices and warnings; errors and exceptions still show.

    The start-up lines come from C++ before its logging is set up, so only redirecting file
    descriptor 2 stops them.
    """
    if verbose:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ notices, unless the user chose a level
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # Python warnings, such as deprecations
    sys.stderr.flush()
    real_stderr = os.dup(2)
    with tempfile.TemporaryFile() as start_up_log:
        os.dup2(start_up_log.fileno(), 2)
        try:
            yield
        except Exception:
            sys.stderr.flush()
            start_up_log.seek(0)
            os.write(real_stderr, start_up_log.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(real_stderr, 2)
            os.close(real_stderr)


@contextlib.contextmanager
def ctrl_c_kept():
    """Make sure that Ctrl-C ends in a KeyboardInterrupt, whatever TensorFlow does with it.

    Raised inside Python code that TensorFlow's C++ calls, the KeyboardInterrupt comes out as
    another error: "ImportError: initialization failed" while a module initialises, an
    AttributeError while the graph is built; and once in a while it is lost altogether. So a
    press is also remembered, and raised again as the block ends.
    """
    pressed = False

    def press(signal_number, frame):
        nonlocal pressed
        pressed = True
        raise KeyboardInterrupt

    previous_handler = signal.signal(signal.SIGINT, press)
    try:
        yield
    except Exception:
        if not pressed:
            raise
        # else the error is the mangled Ctrl-C: the KeyboardInterrupt below takes its place
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    if pressed:
        raise KeyboardInterrupt


def load_tensorflow(verbose=False):
    """Import TensorFlow, and the model built with it, for the code below (tf and Network)."""
    global tf, Network
    # ctrl_c_kept() inside the quieting: a Ctrl-C the import mangled is not a failed load, whose
    # start-up messages would be shown.
    with tensorflow_quieted(verbose), ctrl_c_kept():
        import tensorflow.compat.v1 as tf

        from model import Network


DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data_set")
CHECKPOINT_PREFIX = "model"  # checkpoints are model-<step>, as in the tutorial's second lesson
CHECKPOINTS_KEPT = 5
INTERRUPTED = 130  # the exit status of a program stopped by Ctrl-C (128 + SIGINT)


class RunError(Exception):
    """A problem with --save-dir or --logdir, reported as one line."""


class Train:
    def __init__(self, args, data):
        self.args = args
        self.data = data
        if args.seed is not None:
            tf.set_random_seed(args.seed)
        self.net = Network(args.learning_rate)
        # A graph this small runs fastest in this one thread (-1: no pool): handing its ops to other
        # threads costs more than it saves, and the other core is left to next_batch's conversions.
        self.sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=-1))
        # Ctrl-C's handler must not run on the stack of a TensorFlow kernel running in this thread:
        # that corrupts memory. faulthandler gives this thread a stack of its own for signals.
        faulthandler.enable()
        self.sess.run(tf.global_variables_initializer())
        self.step = self.saved_step = 0
        self.restored = self.stop_requested = False
        self.saver = self.writer = None
        if args.save_dir:
            self.saver = tf.train.Saver(max_to_keep=CHECKPOINTS_KEPT, save_relative_paths=True)
            self.restore()
        if args.logdir:
            # Raw ops keep the tags exactly "w" and "b": tf.summary would rename them beside the variables.
            self.validation_summary = tf.summary.merge(
                [
                    tf.summary.scalar("accuracy", self.net.accuracy),
                    tf.raw_ops.HistogramSummary(tag="w", values=self.net.w),
                    tf.raw_ops.HistogramSummary(tag="b", values=self.net.b),
                ]
            )
            self.writer = tf.summary.FileWriter(args.logdir, self.sess.graph)

    def train(self):
        # Ctrl-C asks the loop to stop after the current step, so that its work can be saved.
        previous_handler = signal.signal(signal.SIGINT, self.request_stop)
        try:
            for i in range(self.step, self.args.steps):
                x, label = self.data.train.next_batch(self.args.batch_size)
                _, loss = self.sess.run([self.net.train, self.net.loss], feed_dict={self.net.x: x, self.net.label: label})
                self.step = i + 1
                if (i + 1) % self.args.log_every == 0:
                    print("第%5d步，当前loss：%.2f" % (i + 1, loss))
                    self.write_summaries(loss)
                if self.stop_requested:
                    break
                if self.args.save_every and (i + 1) % self.args.save_every == 0:
                    self.save()
            self.save()
        finally:
            signal.signal(signal.SIGINT, previous_handler)

    def request_stop(self, signal_number, frame):
        self.stop_requested = True

    def calculate_accuracy(self):
        test_x = self.data.test.images
        test_label = self.data.test.labels
        accuracy = self.sess.run(self.net.accuracy, feed_dict={self.net.x: test_x, self.net.label: test_label})
        print("准确率: %.2f，共测试了%d张图片 " % (accuracy, len(test_label)))

    def write_summaries(self, loss):
        """TensorBoard: the loss just printed, and the validation accuracy and the weights now."""
        if not self.writer:
            return
        validation = {self.net.x: self.data.validation.images, self.net.label: self.data.validation.labels}
        self.writer.add_summary(self.sess.run(self.validation_summary, feed_dict=validation), self.step)
        self.writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="loss", simple_value=loss)]), self.step)

    def checkpoint_path(self):
        return os.path.join(self.args.save_dir, f"{CHECKPOINT_PREFIX}-{self.saved_step}")

    def save(self):
        if not self.saver or self.saved_step == self.step:
            return
        try:
            self.saver.save(self.sess, os.path.join(self.args.save_dir, CHECKPOINT_PREFIX), global_step=self.step)
        except tf.errors.OpError as error:
            raise RunError(f"{self.args.save_dir}: cannot save a checkpoint there ({error.message.splitlines()[0]})") from None
        self.saved_step = self.step

    def restore(self):
        """Continue from the newest checkpoint in --save-dir, after checking that it fits this model."""
        directory = self.args.save_dir

        def unusable(problem):
            return RunError(f"{directory}: {problem}; choose another --save-dir")

        state = tf.train.get_checkpoint_state(directory)
        if state is None:
            if os.path.exists(os.path.join(directory, "checkpoint")):
                raise unusable("its 'checkpoint' file is damaged (repair or remove it)")
            if any(name.startswith(CHECKPOINT_PREFIX + "-") for name in os.listdir(directory)):
                raise unusable(f"it holds {CHECKPOINT_PREFIX}-* files but no 'checkpoint' file naming the newest")
            return
        path = state.model_checkpoint_path
        name = os.path.basename(path)
        try:
            saved_shapes = tf.train.load_checkpoint(path).get_variable_to_shape_map()
        except tf.errors.OpError:
            raise unusable(f"checkpoint {name} is missing files or damaged") from None
        for variable in tf.global_variables():
            variable_name, shape = variable.op.name, variable.shape.as_list()
            if saved_shapes.get(variable_name) != shape:
                found = f"{saved_shapes[variable_name]} there" if variable_name in saved_shapes else "missing there"
                raise unusable(f"checkpoint {name} was saved by a different model ({variable_name} is {found}, {shape} here)")
        try:
            self.saver.restore(self.sess, path)
        except tf.errors.OpError:
            raise unusable(f"checkpoint {name} is damaged and cannot be read") from None
        self.saver.recover_last_checkpoints(state.all_model_checkpoint_paths)  # so that only 5 are kept
        self.step = self.saved_step = self.sess.run(self.net.global_step)
        self.restored = True
        print(f"Restored step {self.step} from {path}")

    def close(self):
        if self.writer:
            self.writer.close()


def ensure_writable(directory, flag):
    """Create directory if needed and check that a file can be written in it, before any training."""
    try:
        os.makedirs(directory, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as error:
        raise RunError(f"{directory}: cannot be written ({error.strerror}); choose another {flag}") from None


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
    # allow_abbrev=False: a shortened flag is a mistake to report, not a guess to make (--step is not --steps).
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
    lessons = parser.add_argument_group("checkpoints and TensorBoard (the tutorial's next lessons)")
    lessons.add_argument(
        "--save-dir",
        metavar="DIR",
        help="save checkpoints model-<step> in DIR, and continue from the newest one found there; "
        "--steps is then the total to reach",
    )
    lessons.add_argument(
        "--save-every", type=number(int), metavar="N", help="also save every N steps (default: only at the end)"
    )
    lessons.add_argument(
        "--eval-only", action="store_true", help="only print the accuracy of the newest checkpoint in --save-dir"
    )
    lessons.add_argument(
        "--logdir", metavar="DIR", help="write TensorBoard events to DIR: loss, validation accuracy, w and b"
    )
    args = parser.parse_args(argv)
    if args.eval_only and not args.save_dir:
        parser.error("--eval-only needs --save-dir, the directory holding the checkpoint")
    if args.logdir and args.validation_size == 0:
        parser.error("--logdir reports the validation accuracy: --validation-size must be more than 0")
    if args.save_every and not args.save_dir:
        parser.error("--save-every needs --save-dir")
    return parser, args


def main():
    parser, args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # show each line as it comes, even through a pipe
    try:
        # Found out now rather than when the first checkpoint or event is written, after training.
        if args.save_dir and not args.eval_only:
            ensure_writable(args.save_dir, "--save-dir")
        if args.logdir:
            ensure_writable(args.logdir, "--logdir")
        data = read_data_while_tensorflow_loads(parser, args)
        app = Train(args, data)
    except (input_data.MnistDataError, RunError) as error:
        return fail(error)
    try:
        if args.eval_only and not app.restored:
            raise RunError(f"{args.save_dir}: holds no checkpoint to evaluate; train with --save-dir {args.save_dir} first")
        if not args.eval_only:
            app.train()
    except RunError as error:
        return fail(error)
    finally:
        app.close()
    if app.stop_requested:
        saved = f"saved {app.checkpoint_path()}" if app.saver else "nothing saved (use --save-dir to keep progress)"
        print(f"Stopped by Ctrl-C after step {app.step}; {saved}", file=sys.stderr)
        return INTERRUPTED
    app.calculate_accuracy()
    return 0


def read_data_while_tensorflow_loads(parser, args):
    """MNIST, read while TensorFlow loads: loading takes seconds, and reading needs only numpy."""
    for name in input_data.MNIST_FILES:  # downloads stay in this thread, where Ctrl-C stops them cleanly
        input_data.maybe_download(name, args.data_dir, args.source_url)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    reading = pool.submit(
        input_data.read_data_sets,
        args.data_dir,
        one_hot=True,
        validation_size=args.validation_size,
        seed=args.seed,
        source_url=args.source_url,
    )
    try:
        load_tensorflow(args.verbose)
        data = reading.result()
    except input_data.ValidationSizeError as error:
        parser.error(str(error))
    finally:
        # Not waited for: after Ctrl-C the reading may never end. An import that Ctrl-C broke off
        # can leave its module locked, and the reading then waits for that module forever.
        pool.shutdown(wait=False)
    if args.batch_size > data.train.num_examples:
        parser.error(f"--batch-size {args.batch_size} is larger than the training set ({data.train.num_examples} images)")
    return data


def fail(error):
    print(f"error: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    try:
        with ctrl_c_kept():  # training itself stops at the end of a step instead (Train.train)
            status = main()
    except KeyboardInterrupt:
        print("Stopped by Ctrl-C", file=sys.stderr)
        status = INTERRUPTED
    # Everything is written and closed; skip TensorFlow's slow interpreter shutdown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
