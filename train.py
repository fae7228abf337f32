"""Trains the tutorial's softmax regression on MNIST and prints the loss and the test accuracy.

With no flags it does what the tutorial's train.py did: 2000 steps of 64 images, the loss every
10 steps, then the accuracy on the 10,000 test images. The tutorial's next lessons (checkpoints,
TensorBoard, your own digit) are flags. The plumbing that keeps it working wherever learners run
it (a quiet start-up, stop signals, checks of the flags) comes after main(), at the end.
"""
import argparse
import contextlib
import errno
import faulthandler
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time

from data_set import download


class Train:
    """The tutorial's class: the network, a session to run it in, and the data to train it on."""

    def __init__(self, args, data):
        # Not imported at the top as in the tutorial: main() loads TensorFlow once the data is read,
        # hiding its start-up messages, and these imports just find it loaded.
        import tensorflow.compat.v1 as tf

        from model import Network

        self.args = args
        self.data = data  # MNIST's train, validation and test sets (None when only predicting)
        if args.seed is not None:
            tf.set_random_seed(args.seed)
        self.net = Network(args.learning_rate)
        # One thread and no pool (-1): this graph is too small to gain from handing its ops around.
        self.sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=-1))
        # The weights start at zero, as the tutorial's tf.zeros says; this runs those initial values.
        self.sess.run(tf.global_variables_initializer())
        self.step = self.saved_step = 0
        # Lesson 2: checkpoints, the newest 5 kept, named model-<step>.
        self.saver = tf.train.Saver(max_to_keep=5, save_relative_paths=True) if args.save_dir else None
        # Lesson 3: TensorBoard, which draws what the FileWriter writes.
        self.writer = None
        if args.logdir:
            from data_set import summary_pictures

            # Raw ops keep the tags exactly "w" and "b": tf.summary would rename them beside the variables.
            self.summaries = tf.summary.merge(
                [
                    tf.summary.scalar("accuracy", self.net.accuracy),
                    tf.raw_ops.HistogramSummary(tag="w", values=self.net.w),
                    tf.raw_ops.HistogramSummary(tag="b", values=self.net.b),
                    summary_pictures.templates(self.net.w),
                ]
            )
            self.writer = tf.summary.FileWriter(args.logdir, self.sess.graph)

    def train(self, stop=None):
        """Gradient descent, one batch at a time: each step shows the network a batch of images and
        their one-hot labels, and moves w and b a little in the direction that lowers the loss.
        stop: if it has received a stop signal (Ctrl-C, kill), training ends after the step."""
        for i in range(self.step, self.args.steps):
            # A batch: 64 images and their one-hot labels; each epoch visits all 55,000 in a new order.
            x, label = self.data.train.next_batch(self.args.batch_size)
            # Running the train op makes one gradient-descent step; the loss is this batch's, before the step.
            _, loss = self.sess.run([self.net.train, self.net.loss], feed_dict={self.net.x: x, self.net.label: label})
            self.step = i + 1
            if (i + 1) % self.args.log_every == 0:
                print("第%5d步，当前loss：%.2f" % (i + 1, loss))
                self.write_summaries(loss)
            if stop and stop.received:
                break
            if self.args.save_every and (i + 1) % self.args.save_every == 0:
                self.save()
        self.save()

    def calculate_accuracy(self):
        """The share of test images whose digit the network gets right. It only runs the network
        forward: test images are never trained on, so they measure how well it generalises."""
        test_x = self.data.test.images
        test_label = self.data.test.labels
        # Only the accuracy op is run, not train: w and b stay as they are.
        accuracy = self.sess.run(self.net.accuracy, feed_dict={self.net.x: test_x, self.net.label: test_label})
        print("准确率: %.2f，共测试了%d张图片 " % (accuracy, len(test_label)))
        self.write_test_summaries()

    def save(self):
        """Lesson 2: save w, b and the step reached as the checkpoint model-<step> in --save-dir."""
        if self.saver and self.saved_step != self.step:
            self.saver.save(self.sess, os.path.join(self.args.save_dir, "model"), global_step=self.step)
            self.saved_step = self.step

    def write_summaries(self, loss):
        """Lesson 3: the loss just printed, and the validation accuracy and the weights now, as
        histograms and as the ten digits' templates."""
        if self.writer:
            import tensorflow.compat.v1 as tf

            validation = {self.net.x: self.data.validation.images, self.net.label: self.data.validation.labels}
            self.writer.add_summary(self.sess.run(self.summaries, feed_dict=validation), self.step)
            self.writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="loss", simple_value=loss)]), self.step)

    def write_test_summaries(self):
        """Lesson 3, at the end: the test digits the network gets wrong, and its accuracy on each
        digit. The test set, as for the accuracy just printed: these are the mistakes behind it."""
        if self.writer:
            from data_set import summary_pictures

            test = self.data.test
            predictions = self.sess.run(self.net.y, feed_dict={self.net.x: test.images}).argmax(1)
            labels = test.labels.argmax(1)
            self.writer.add_summary(summary_pictures.mistakes(test.images, labels, predictions), self.step)
            self.writer.add_summary(summary_pictures.per_digit_accuracy(labels, predictions), self.step)

    def predict(self, image_path):
        """Lesson 2's last step: the digit the network sees in an image of the user's own.
        Raises DigitImageError if the image cannot be used."""
        from data_set.digit_image import prepare_digit

        x = prepare_digit(image_path)  # 784 values in [0, 1], prepared the way MNIST's digits were
        y = self.sess.run(self.net.y, feed_dict={self.net.x: [x]})[0]  # ten probabilities
        print(image_path)
        print("        -> Predict digit %d (probability %.2f)" % (y.argmax(), y.max()))


def main(argv=None):
    """Run train.py with the command-line flags argv (default: sys.argv); return the exit status."""
    parser, args = parse_args(argv)
    show_lines_as_they_come()
    stop = StopSignals()
    app = None
    # Stop signals are remembered throughout, so that the end of a run (saving, its last line) is
    # never cut short; only while nothing but Python runs do they stop the run at once.
    with stop.remembered():
        try:
            with stop.raising():
                check_directories(args)
                data = None if args.predict else read_data(parser, args)
            load_tensorflow(args.verbose)
            stop.check()
            prepare_output_directories(args)
            app = Train(args, data)
            restored = restore_newest_checkpoint(app) if args.save_dir else False
            stop.check()
            if args.predict:
                return predict_each(app, args.predict, restored, stop)
            if args.eval_only and not restored:
                raise RunError(f"{args.save_dir}: holds no checkpoint to evaluate; train with --save-dir {args.save_dir} first")
            if not args.eval_only:
                train_and_save(app, stop)
            stop.check()
            app.calculate_accuracy()
            return 0
        except (Stopped, KeyboardInterrupt) as stopped:
            if app:
                save_quietly(app)  # after a KeyboardInterrupt (a host's own handler) mid-training
            return report_stop(getattr(stopped, "number", signal.SIGINT), app)
        except OSError as error:  # the output could not be written: keep the work
            if app:
                save_quietly(app)
            if stop.received:  # a closed terminal: SIGHUP, then the output fails
                return report_stop(stop.received, app)
            if error.errno in (errno.EPIPE, errno.EIO):  # whoever read it has gone (| head)
                return 128 + getattr(signal, "SIGPIPE", 13)
            saved = f"; the steps done are saved in {checkpoint_path(app)}" if app and app.saved_step else ""
            print(f"error: the output cannot be written ({error.strerror or error}){saved}", file=sys.stderr)
            return 1
        except RunError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        finally:
            if app and app.writer:
                app.writer.close()


# ---------------------------------------------------------------------------------------------
# Plumbing: everything below keeps the lesson above working wherever learners run it.

CHECKPOINT_PREFIX = "model"
DEFAULT_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data_set")


class RunError(Exception):
    """A problem with a flag's file or directory, reported as one line."""


def read_data(parser, args):
    """MNIST, read before TensorFlow loads: a data problem is then reported at once."""
    try:
        from data_set import input_data
    except ImportError as error:
        raise import_failed("numpy", error) from None
    try:
        data = input_data.read_data_sets(
            args.data_dir, one_hot=True, validation_size=args.validation_size, seed=args.seed, source_url=args.source_url
        )
    except input_data.ValidationSizeError as error:
        parser.error(str(error))
    except input_data.MnistDataError as error:
        raise RunError(error) from None
    if data.train.num_examples == 0:
        parser.error(f"--validation-size {args.validation_size} leaves no training images")
    if args.batch_size > data.train.num_examples:
        parser.error(f"--batch-size {args.batch_size} is larger than the training set ({data.train.num_examples} images)")
    return data


def load_tensorflow(verbose):
    """Import TensorFlow (the lesson's own imports then find it loaded), quietly unless verbose."""
    try:
        with contextlib.nullcontext() if verbose else start_up_messages_hidden():
            import tensorflow.compat.v1 as tf
    except ImportError as error:
        raise import_failed("tensorflow", error) from None
    if not verbose:
        tf.get_logger().setLevel("ERROR")  # Python warnings, such as deprecations


@contextlib.contextmanager
def start_up_messages_hidden():
    """Hide what TensorFlow writes while it loads, and show it if loading fails. It comes from C++
    before TensorFlow's logging is set up, so only redirecting file descriptor 2 stops it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # later C++ notices, unless the user chose a level
    try:
        sys.stderr.flush()
        real_stderr = os.dup(2)
    except (AttributeError, OSError):  # no stderr to quiet (pythonw, some hosts)
        yield
        return
    with tempfile.TemporaryFile() as start_up_log:
        os.dup2(start_up_log.fileno(), 2)
        try:
            yield
        except Exception:
            start_up_log.seek(0)
            os.write(real_stderr, start_up_log.read())
            raise
        finally:
            os.dup2(real_stderr, 2)
            os.close(real_stderr)


def import_failed(package, error):
    """The RunError for a package that cannot be imported: missing, or installed but broken."""
    python = f"this Python ({sys.executable}, {sys.version.split()[0]})"
    if isinstance(error, ModuleNotFoundError) and error.name == package:
        return RunError(
            f"{python} has no {package}; set it up as README.md says (pip install -r requirements.txt), "
            "on a Python that TensorFlow supports"
        )
    return RunError(
        f"{package} is installed in {python} but cannot be loaded ({' '.join(str(error).split())}); "
        "reinstall it: pip install --force-reinstall -r requirements.txt"
    )


class Stopped(BaseException):
    """A stop signal ended the run; like KeyboardInterrupt, no `except Exception` catches it."""

    @property
    def number(self):
        return self.args[0]


def report_stop(number, app):
    """Say on stderr why and where the run stopped; return the exit status, 128 + the signal's number."""
    name = "Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name
    if app is None or app.step == 0 or not trains(app.args):  # nothing trained here
        message = f"Stopped by {name}"
    elif app.saver:
        message = f"Stopped by {name} after step {app.step}; saved {checkpoint_path(app)}"
    else:
        message = f"Stopped by {name} after step {app.step}; nothing saved (use --save-dir to keep progress)"
    with contextlib.suppress(OSError):  # a closed terminal has nowhere to show it
        print(message, file=sys.stderr)
    return 128 + number


class StopSignals:
    """Ctrl-C (SIGINT), kill (SIGTERM), a closed terminal (SIGHUP, which Windows lacks) and
    Windows' Ctrl-Break (SIGBREAK): raised at once while only Python runs, remembered while
    TensorFlow does. A handler raising inside TensorFlow's C++ would leave a mangled exception,
    or a half-done step, behind."""

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")  # those this platform has

    def __init__(self):
        self.received = None

    def raising(self):
        def handler(number, frame):
            raise Stopped(number)

        return self._handled_by(handler)

    def remembered(self):
        # TensorFlow runs its steps in this thread: faulthandler gives the thread a stack of its
        # own for signal handlers, which must not run on the stack of a kernel running here.
        with contextlib.suppress(AttributeError, ValueError, OSError, RuntimeError):  # hosts without a real stderr
            faulthandler.enable(sys.__stderr__)
        return self._handled_by(self.remember)

    def remember(self, number, frame):
        self.received = number

    def check(self):
        if self.received:
            raise Stopped(self.received)

    @contextlib.contextmanager
    def _handled_by(self, handler):
        """Install handler for the stop signals, and give them back to whoever had them after
        (IPython and Jupyter rely on their own Ctrl-C). Only the main thread can handle signals."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        numbers = [getattr(signal, name) for name in self.NAMES if hasattr(signal, name)]
        previous = {number: signal.signal(number, handler) for number in numbers}
        try:
            yield
        finally:
            for number, old in previous.items():
                signal.signal(number, old)


def train_and_save(app, stop):
    """app.train(stop), with a checkpoint that cannot be written (a full disk, a directory removed
    meanwhile) reported as one line."""
    import tensorflow.compat.v1 as tf

    try:
        app.train(stop)
    except tf.errors.OpError as error:
        # The reason (such as "No space left on device") is the message's last line that says one.
        reason = [line for line in error.message.splitlines() if line.strip()][-1].strip()
        raise RunError(f"{app.args.save_dir}: cannot save a checkpoint there ({reason})") from None


def save_quietly(app):
    """Save the steps done when the run is stopped (a save that fails then has no one to tell)."""
    with contextlib.suppress(Exception):
        app.save()


def checkpoint_path(app):
    return os.path.join(app.args.save_dir, f"{CHECKPOINT_PREFIX}-{app.saved_step}")


def restore_newest_checkpoint(app):
    """Continue from the newest checkpoint in --save-dir, after checking that it fits this model.

    The files are looked for in --save-dir itself, whatever directory the 'checkpoint' file names:
    a checkpoint directory copied from another machine, or moved, keeps working.
    Returns whether one was restored; raises RunError if the one there cannot be used.
    """
    import tensorflow.compat.v1 as tf

    directory = app.args.save_dir

    def unusable(problem):
        return RunError(f"{directory}: {problem}; choose another --save-dir")

    try:
        state = tf.train.get_checkpoint_state(directory)
    except (tf.errors.OpError, ValueError):  # ValueError: not a checkpoint state, or not text
        state = None
    if state is None:
        if os.path.exists(os.path.join(directory, "checkpoint")):
            raise unusable("its 'checkpoint' file is damaged (repair or remove it)")
        if any(re.match(rf"{CHECKPOINT_PREFIX}-\d+\.index$", name) for name in os.listdir(directory)):
            raise unusable(f"it holds {CHECKPOINT_PREFIX}-* files but no 'checkpoint' file naming the newest")
        return False

    def here(path):  # the file name alone: the directory may be another machine's, even Windows'
        return os.path.join(directory, re.split(r"[\\/]", path)[-1])

    path = here(state.model_checkpoint_path)
    name = os.path.basename(path)
    try:
        saved_shapes = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError):
        raise unusable(f"checkpoint {name} is missing files or damaged") from None
    for variable in tf.global_variables():
        variable_name, shape = variable.op.name, variable.shape.as_list()
        if saved_shapes.get(variable_name) != shape:
            found = f"{saved_shapes[variable_name]} there" if variable_name in saved_shapes else "missing there"
            raise unusable(f"checkpoint {name} was saved by a different model ({variable_name} is {found}, {shape} here)")
    try:
        app.saver.restore(app.sess, path)
    except tf.errors.OpError:
        raise unusable(f"checkpoint {name} is damaged and cannot be read") from None
    app.saver.recover_last_checkpoints([here(p) for p in state.all_model_checkpoint_paths])  # so that 5 are kept
    app.step = app.saved_step = app.sess.run(app.net.global_step)
    if not app.args.predict:
        print(f"Restored step {app.step} from {path}")
    return True


def predict_each(app, image_paths, restored, stop):
    """Predict each image's digit; one error line for each that cannot be used, and a stop signal
    ends the run before the next image. Returns the exit status."""
    from data_set.digit_image import DigitImageError

    if not restored:
        raise RunError(f"{app.args.save_dir}: holds no checkpoint to predict with; train with --save-dir {app.args.save_dir} first")
    status = 0
    for path in image_paths:
        stop.check()
        try:
            app.predict(path)
        except DigitImageError as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
    return status


def check_directories(args):
    """Report a --data-dir, --save-dir or --logdir that cannot be what its flag needs, before any
    work. Nothing is created here: see prepare_output_directories."""
    for directory, flag, written in (
        (args.data_dir, "--data-dir", False),  # written only if a file is missing: download.py checks
        (args.save_dir, "--save-dir", trains(args)),
        (args.logdir, "--logdir", True),
    ):
        if directory is None:
            continue
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise RunError(f"{directory}: is a file, not a directory; choose another {flag}")
        if flag == "--save-dir" and not written and not os.path.isdir(directory):
            raise RunError(f"{directory}: no such directory; train with --save-dir {directory} first")
        if os.path.isdir(directory) and not os.access(directory, os.R_OK | os.X_OK):
            raise RunError(f"{directory}: cannot be read (Permission denied); choose another {flag}")
        existing = nearest_existing(directory)
        if not os.path.isdir(existing):  # a path under a file
            raise RunError(f"{directory}: cannot be written (Not a directory); choose another {flag}")
        if written and not os.access(existing, os.W_OK | os.X_OK):
            raise RunError(f"{directory}: cannot be written (Permission denied); choose another {flag}")


def trains(args):
    """Whether this run trains: --eval-only and --predict only read a checkpoint."""
    return not (args.eval_only or args.predict)


def nearest_existing(path):
    """path itself if it exists, else its closest ancestor that does."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def prepare_output_directories(args):
    """Create --save-dir and a new run directory under --logdir, once nothing else can fail first,
    and check that a file can be written in each. Raises RunError naming the one that cannot."""
    if args.save_dir and trains(args):
        writable_directory(args.save_dir, "--save-dir")
    if args.logdir:
        # Each run writes its own directory, so that TensorBoard shows runs side by side, not mixed.
        run = stamped = os.path.join(args.logdir, time.strftime("run-%Y%m%d-%H%M%S"))
        suffix = 1
        while os.path.exists(run):  # another run started in the same second
            suffix += 1
            run = f"{stamped}-{suffix}"
        args.logdir = writable_directory(run, "--logdir")
        print(f"TensorBoard events go to {args.logdir}")


def writable_directory(directory, flag):
    try:
        os.makedirs(directory, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as error:
        raise RunError(f"{directory}: cannot be written ({error.strerror}); choose another {flag}") from None
    return directory


def show_lines_as_they_come():
    """Line-buffer stdout, so that each line shows at once even through a pipe, and make sure it
    can write the lesson's Chinese lines: into a file or a pipe as UTF-8 (what editors read), on a
    console whose code page lacks them with a '?' each. Hosts such as IDLE and Jupyter give a
    stdout object of their own that already does both and cannot be reconfigured."""
    stdout = sys.stdout
    if not hasattr(stdout, "reconfigure"):
        return
    try:
        "第步当前准确率共测试了张图片".encode(stdout.encoding)
        # A path the encoding cannot hold (an emoji, bytes of another code page) prints escaped.
        stdout.reconfigure(line_buffering=True, errors="backslashreplace")
    except (UnicodeEncodeError, LookupError):
        if stdout.isatty():
            stdout.reconfigure(line_buffering=True, errors="replace")
        else:
            stdout.reconfigure(line_buffering=True, encoding="utf-8", errors="backslashreplace")


def directory(text):
    """An argparse type: a directory's path, with ~ expanded as a shell would have (a quoted ~ or
    --flag=~/x is not), so that no directory named ~ is made by mistake."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path; give a directory")
    return os.path.expanduser(text)


def number(kind, zero_allowed=False):
    """An argparse type: a finite number of the given kind, greater than zero (or at least zero)."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if math.isinf(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if math.isnan(value) or value < 0 or (value == 0 and not zero_allowed):
            raise argparse.ArgumentTypeError(f"{text!r} must be {'0 or more' if zero_allowed else 'greater than 0'}")
        return value

    return parse


def parse_args(argv=None):
    # allow_abbrev=False: a shortened flag is a mistake to report, not a guess to make (--step is not --steps).
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--steps", type=number(int), default=2000, metavar="N", help="training steps (default: %(default)s)")
    parser.add_argument(
        "--batch-size", type=number(int), default=64, metavar="N", help="images per step (default: %(default)s)"
    )
    parser.add_argument(
        "--learning-rate",
        type=number(float),
        default=0.001,
        metavar="R",
        help="gradient descent step size (default: %(default)s)",
    )
    parser.add_argument(
        "--log-every", type=number(int), default=10, metavar="N", help="print the loss every N steps (default: %(default)s)"
    )
    parser.add_argument(
        "--data-dir",
        type=directory,
        default=DEFAULT_DATA_DIR,
        metavar="DIR",
        help="where the four MNIST files are (default: %(default)s)",
    )
    parser.add_argument(
        "--validation-size",
        type=number(int, zero_allowed=True),
        default=5000,
        metavar="N",
        help="training images held out for validation (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=number(int, zero_allowed=True),
        metavar="N",
        help="seeds the shuffling and TensorFlow: same seed, same output (default: none, runs vary)",
    )
    parser.add_argument(
        "--source-url",
        action="append",
        metavar="URL",
        help="mirror to download a missing file from; repeat to try several in order "
        f"(default: {' then '.join(download.DEFAULT_SOURCE_URLS)})",
    )
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up messages and notices")
    lessons = parser.add_argument_group("checkpoints, TensorBoard and your own digit (the tutorial's next lessons)")
    lessons.add_argument(
        "--save-dir",
        type=directory,
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
        "--logdir",
        type=directory,
        metavar="DIR",
        help="write TensorBoard events (loss, validation accuracy, w and b, the digits' templates, the "
        "mistakes, per-digit accuracy) to a new run directory in DIR",
    )
    lessons.add_argument(
        "--predict",
        nargs="+",
        metavar="IMAGE",
        help="print the digit the newest checkpoint in --save-dir sees in each image (PNG, JPEG, GIF or BMP)",
    )
    args = parser.parse_args(argv)
    if args.eval_only and not args.save_dir:
        parser.error("--eval-only needs --save-dir, the directory holding the checkpoint")
    if args.predict and not args.save_dir:
        parser.error("--predict needs --save-dir, the directory holding the checkpoint")
    if args.predict and (args.eval_only or args.logdir):
        parser.error("--predict only predicts: it takes no --eval-only or --logdir")
    if args.logdir and args.validation_size == 0:
        parser.error("--logdir reports the validation accuracy: --validation-size must be more than 0")
    if args.save_every and not args.save_dir:
        parser.error("--save-every needs --save-dir")
    return parser, args


if __name__ == "__main__":
    status = main()
    # Nothing called this file's code: the interpreter was started to run it (python train.py),
    # not a host that must live on after it (IPython's %run, Jupyter, IDLE, Spyder, a debugger).
    if sys._getframe().f_back is None and not sys.flags.interactive:
        # Everything is written and closed: skip TensorFlow's interpreter shutdown, which takes
        # longer than the training itself.
        with contextlib.suppress(OSError, AttributeError):  # AttributeError: a closed stdout is None
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)
    elif status:
        sys.exit(status)
