"""The safety net around train.py, so that train.py can stay the lesson.

This module is not about data. It lives in data_set/ because the project's top level is fixed
(model.py, train.py, data_set/, tests/), and it is train.py's alone. train.py uses it in a few
places:

- `from data_set import safety_net`, its first import, loads TensorFlow with the ten lines its
  C++ writes while loading kept aside (--verbose shows them), and gives the main thread a stack
  of its own for signal handlers (train.py's session runs TensorFlow's kernels in that thread).
- `safety_net.run(main, parser)` parses the flags and runs main() with the net around it:
  - stop signals (Ctrl-C, kill, a closed terminal, Windows' Ctrl-Break) stop the run with one
    line and exit status 128 + the signal's number; the lesson's train() saves the steps done;
  - each output line shows at once, and the Chinese lines are written even where the
    console's or the file's encoding lacks them;
  - --save-dir is locked against a second run and checked before training, --logdir gets a new
    run directory, and a run that fails leaves no directory or partial file behind;
  - whatever goes wrong becomes one `error:` line naming the file or flag, with the operating
    system's own reason, and what to do;
  - TensorFlow's slow interpreter shutdown is skipped when train.py is the process's own
    program, not a guest of IPython, Jupyter, IDLE or a debugger, which must live on.
- `checkpoint_to_restore()` finds the checkpoint to continue from, even in a directory copied
  from another machine or a `checkpoint` file edited by hand, and checks it fits the model.
- `prepared_digits()` prepares the user's own images, one error line for each bad one.
- `positive_int`, `count`, `learning_rate` and `directory` are argparse types that check a
  flag's value.
"""
import argparse
import contextlib
import errno
import faulthandler
import os
import re
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

STOP_SIGNALS = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK") if hasattr(signal, name)]
# The timer's signal by which a stop signal that came at an unsafe moment is looked at again.
RECHECK = getattr(signal, "SIGALRM", None)
CHECKPOINT = re.compile(r"model-(\d+)\.index")
# What TensorFlow's Saver leaves when a save fails: its temporary files, never a user's.
SAVER_LITTER = re.compile(r"(model-\d+\..*\.tempstate\d+|(model-\d+\.meta|checkpoint)\.tmp[0-9a-f]{32})")
# The longest name a save writes (TensorFlow's temporary data file): probed before training.
LONGEST_NAME = "model-%d.data-00000-of-00001.tempstate%019d"
LOCK_NAME = "train.py.lock"  # on Windows, in --save-dir while a run trains there
COPY_WHOLE = "copy each checkpoint's .index and .data-* files together, or delete that checkpoint's files"


class RunError(Exception):
    """A problem the user can fix, reported as one line: 'error: ' and the message."""


class Stopped(BaseException):
    """A stop signal ended the run. Like KeyboardInterrupt, no `except Exception` catches it."""


class _State:
    """The run in progress: what the stop-signal handler and the error boundary need to know."""

    received = None  # the number of the first stop signal received
    unraised = False  # True until Stopped is raised for it
    holding = True  # True while a stop signal is only remembered: before run() starts, and once it ends
    original_handlers = {}  # the stop-signal handlers a host had before ours, given back after a run
    start_up_lines = ""  # what TensorFlow wrote while it loaded
    step_at_start = None  # the newest checkpoint's step in --save-dir when the run began
    created = []  # directories this run created, removed again if they are empty when it fails
    lock = None
    events_failure = None  # what ended TensorFlow's events-writer thread
    status = 0


def _on_stop_signal(number, frame):
    # Only the first signal stops the run: pressed again, Ctrl-C must not cut short the saving
    # that the first one started. RECHECK is no stop signal: the timer below.
    if _State.received is None and number != RECHECK:
        _State.received, _State.unraised = number, True
    if not _State.unraised or _State.holding:
        return
    if _in_unsafe_code(frame):
        # Raised here, it could leave one of TensorFlow's locks taken for good (the save that
        # follows then hangs) or a module half imported. Look again in a millisecond, when the
        # code has moved on: a timer's signal on Unix; on Windows, which has none, the same signal.
        if RECHECK:
            signal.setitimer(signal.ITIMER_REAL, 0.001)
        else:
            signal.raise_signal(number)
        return
    _raise_if_stopped()


def _in_unsafe_code(frame):
    """Whether frame, or any frame that called it, is TensorFlow's, the threading module's or
    the import machinery's: code that an exception raised at any instruction can leave broken."""
    while frame:
        name = frame.f_code.co_filename
        if f"{os.sep}tensorflow{os.sep}" in name or name == threading.__file__ or name.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _install_stop_handlers():
    """Handle the stop signals in this process (only the main thread can), remembering a host's own."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number in STOP_SIGNALS + [RECHECK] * bool(RECHECK):
        previous = signal.signal(number, _on_stop_signal)
        if previous is not _on_stop_signal:
            _State.original_handlers[number] = previous


def _is_own_program():
    """Whether the interpreter was started to run train.py itself (python [options] train.py ...)
    rather than a host that lives on after it: IPython's %run, Jupyter, IDLE, exec(), runpy,
    python -m pdb or cProfile. sys.orig_argv is the interpreter's own command line."""
    arguments = len(sys.argv)
    options = sys.orig_argv[1:-arguments]
    return (
        not sys.flags.interactive
        and sys.orig_argv[-arguments:] == sys.argv
        # -m and -c (alone or combined, as in -um) run other code first
        and not any(re.fullmatch(r"-[^-]*[mc]\w*", option) for option in options)
    )


def _give_back_stop_handlers():
    if RECHECK:
        signal.setitimer(signal.ITIMER_REAL, 0)  # a pending look again: its handler is going
    for number, handler in _State.original_handlers.items():
        signal.signal(number, handler)
    _State.original_handlers = {}


def _load_tensorflow():
    """Import TensorFlow with what it writes while loading kept aside, shown if loading fails.

    It writes from C++, before its logging is set up, so only redirecting file descriptor 2
    holds it back. A missing or broken TensorFlow ends the program with one line.
    """
    # Its C++ notices, unless the user chose a level. TensorFlow reads the level once, as it
    # loads, before the flags are parsed: so --verbose is looked for here already.
    if "--verbose" not in sys.argv[1:]:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryFile() as start_up:
        try:
            sys.stderr.flush()
            real_stderr = os.dup(2)
        except (AttributeError, OSError, ValueError):  # no stderr to quiet (pythonw, some hosts)
            real_stderr = None
        else:
            os.dup2(start_up.fileno(), 2)
        try:
            import tensorflow.compat.v1 as tensorflow
        except ImportError as error:
            message = _import_failed(error)
        else:
            message = None
        finally:
            if real_stderr is not None:
                os.dup2(real_stderr, 2)
                os.close(real_stderr)
        start_up.seek(0)
        _State.start_up_lines = start_up.read().decode("utf-8", "replace")
    if message:
        sys.stderr.write(_State.start_up_lines)
        print("error: " + message, file=sys.stderr)
        raise SystemExit(1)
    # Its Python logger's warnings (deprecations) and errors, which the error line says better:
    # --verbose shows them.
    tensorflow.get_logger().setLevel("CRITICAL")
    return tensorflow


def _import_failed(error):
    package = error.name if isinstance(error, ModuleNotFoundError) and error.name else "tensorflow"
    python = f"this Python ({sys.executable}, {sys.version.split()[0]})"
    if isinstance(error, ModuleNotFoundError) and "." not in package:
        return (
            f"{python} has no {package}; set it up as README.md says (pip install -r requirements.txt), "
            "on a Python that TensorFlow supports"
        )
    return (
        f"tensorflow is installed in {python} but cannot be loaded ({' '.join(str(error).split())}); "
        "reinstall it: pip install --force-reinstall -r requirements.txt"
    )


# train.py's session runs TensorFlow's kernels in the main thread, where signal handlers run too:
# on a kernel's stack, repeated Ctrl-C corrupts memory. faulthandler gives the thread a stack of
# its own for them.
with contextlib.suppress(AttributeError, ValueError, OSError, RuntimeError):  # hosts without a real stderr
    faulthandler.enable(sys.__stderr__)
# A stop signal from here until run() starts is held (remembered, not raised) and reported when
# the run starts: raised inside the import, it would leave TensorFlow half loaded.
_install_stop_handlers()
tf = _load_tensorflow()
# Imported once TensorFlow is: a missing numpy is then reported in one line, by _load_tensorflow.
from data_set import digit_image, input_data  # noqa: E402
if not _State.received and not _is_own_program():
    _give_back_stop_handlers()  # a host keeps its own between runs; run() takes them again


# --- the run ----------------------------------------------------------------------------------


def run(main, parser, argv=None):
    """Parse the flags with parser, run main(args) with the safety net around it, and end the
    run: exit the process when train.py is its own program; otherwise give the host back its
    signal handlers and return, raising SystemExit only for a failure (exit status not 0)."""
    _install_stop_handlers()
    # A stop signal received before now (TensorFlow loading, train.py's module code) was held:
    # _run raises it first.
    _State.holding, _State.status = False, 0
    status = _run(main, parser, argv)
    if _is_own_program():
        with contextlib.suppress(OSError, ValueError, AttributeError):  # a closed or broken stdout
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)  # everything is written: TensorFlow's shutdown would take longer than training
    _give_back_stop_handlers()
    _State.received = None
    if status:
        raise SystemExit(status)


def _run(main, parser, argv):
    """main(args) inside the error boundary; returns the exit status."""
    _show_lines_as_they_come()
    args = _State.step_at_start = None
    host_thread_hook = threading.excepthook
    threading.excepthook = _quiet_events_writer(host_thread_hook)
    try:
        _raise_if_stopped()
        args = _parse(parser, argv)
        _prepare_directories(args)
        main(args)
        _check_events_written(args)
        _raise_if_stopped()  # a signal held back while the run was ending
        return _State.status
    except SystemExit as exit:  # argparse's usage errors and --help
        return exit.code if isinstance(exit.code, int) else 1
    except BaseException as error:
        _State.holding = True  # the run has ended: nothing is left for a stop signal to stop
        if args and args.save_dir and _trains(args):
            _remove_saver_litter(args.save_dir)
        return _report(error, parser, args)
    finally:
        _State.holding = True
        threading.excepthook = host_thread_hook
        _release_save_dir()
        for directory in reversed(_State.created):  # removed if still empty: the run failed before writing there
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        _State.created = []


def _quiet_events_writer(host_hook):
    """A threading.excepthook that keeps the error of TensorFlow's events-writer thread (a full
    disk under --logdir) for the main thread to report in one line, instead of a traceback. The
    writer itself does not always pass it on: when its thread dies first, it drops the events."""
    _State.events_failure = None

    def hook(failure):
        if failure.thread is not None and failure.thread.name == "EventLoggerThread":
            _State.events_failure = failure.exc_value
        else:
            host_hook(failure)

    return hook


def _check_events_written(args):
    """Raise what kept TensorBoard's events from being written under --logdir: the writer's
    thread's error, or else the system's reason for a probe written there now (the writer can
    drop events on a full disk without a word)."""
    if not args.logdir:
        return
    for thread in threading.enumerate():
        if thread.name == "EventLoggerThread":
            thread.join(timeout=10)  # closed by now: it is only reporting how it ended
    if _State.events_failure:
        raise _State.events_failure
    _probe(args.logdir, f"probe-{os.getpid()}", size=4096)


def _raise_if_stopped():
    if _State.received:
        _State.unraised = False
        raise Stopped(_State.received)


def _parse(parser, argv):
    if argv is None:
        # Jupyter and Colab run a cell's exec(open("train.py").read()) with the kernel's own
        # command line in sys.argv: those are not train.py's flags.
        argv = [] if "ipykernel" in os.path.basename(sys.argv[0]) else sys.argv[1:]
    args = parser.parse_args(argv)
    if args.verbose:
        sys.stderr.write(_State.start_up_lines)
        tf.get_logger().setLevel("WARNING")
    needs_save_dir = [flag for flag in ("eval_only", "predict", "save_every") if getattr(args, flag)]
    if needs_save_dir and not args.save_dir:
        parser.error(f"{_flag(needs_save_dir[0])} needs --save-dir, the directory of the checkpoints")
    if args.predict and (args.eval_only or args.logdir):
        parser.error("--predict only predicts: it takes no --eval-only or --logdir")
    if args.show and not args.predict:
        parser.error("--show shows what --predict saw: give --predict IMAGE too")
    if args.logdir and args.validation_size == 0:
        parser.error("--logdir reports the validation accuracy: --validation-size must be more than 0")
    return args


def _trains(args):
    """Whether this run trains: --eval-only and --predict only read a checkpoint."""
    return not (args.eval_only or args.predict)


# --- errors: each one line -------------------------------------------------------------------


def _report(error, parser, args):
    """Say in one line on stderr what ended the run; return the exit status."""
    if _State.received or isinstance(error, (Stopped, KeyboardInterrupt)):
        number = _State.received or signal.SIGINT  # KeyboardInterrupt: a host's own Ctrl-C handler
        return _say(_stopped_message(number, args), 128 + number)
    if isinstance(error, OSError) and error.errno in (errno.EPIPE, errno.EIO) and error.filename is None:
        return 128 + getattr(signal, "SIGPIPE", 13)  # whoever read the output has gone (| head): quietly
    if isinstance(error, input_data.ValidationSizeError):
        return _usage_error(parser, f"--validation-size {args.validation_size}: {error}")
    if isinstance(error, input_data.BatchSizeError):
        if error.num_examples == 0:
            return _usage_error(parser, f"--validation-size {args.validation_size} leaves no training images")
        return _usage_error(parser, f"--batch-size {args.batch_size} is more than the {error.num_examples} training images")
    if isinstance(error, (RunError, input_data.MnistDataError, digit_image.DigitImageError)):
        return _say(f"error: {error}", 1)
    if isinstance(error, MemoryError):
        return _say("error: out of memory; close other programs and run it again" + _saved_note(args), 1)
    # TensorFlow's errors on writing files: OpError from the Saver, ValueError when --save-dir was
    # removed meanwhile, RuntimeError from the events writer.
    if isinstance(error, (OSError, tf.errors.OpError, ValueError, RuntimeError)) and (message := _output_failed(error, args)):
        return _say("error: " + message + _saved_note(args), 1)
    raise error  # a bug of ours: its traceback is what a bug report needs


def _usage_error(parser, message):
    """What parser.error() does, returning the exit status instead of raising SystemExit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        parser.print_usage(sys.stderr)
    return _say(f"{parser.prog}: error: {message}", 2)


def _say(message, status):
    with contextlib.suppress(OSError, ValueError, AttributeError):  # a closed terminal has nowhere to show it
        print(message, file=sys.stderr, flush=True)
    return status


def _stopped_message(number, args):
    name = "Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name
    if args is None or not _trains(args):
        return f"Stopped by {name}"
    if not args.save_dir:
        return f"Stopped by {name}; nothing is kept without --save-dir"
    newest = _newest_complete(args.save_dir)
    if newest in (None, _State.step_at_start):
        return f"Stopped by {name}"
    return f"Stopped by {name} after step {newest}; saved {_checkpoint_path(args.save_dir, newest)}"


def _output_failed(error, args):
    """The message for a file or stream that could not be written, naming it with the system's
    reason; None for an error that is none of these (then it is a bug of ours)."""
    text = _text(error) if not isinstance(error, OSError) else str(error.filename or "")
    if args and args.save_dir and _is_under(text, args.save_dir):
        return (
            f"{args.save_dir}: a checkpoint cannot be saved there ({_reason(error, args.save_dir)}); "
            "make room or give write access there, or choose another --save-dir"
        )
    if args and args.logdir and _is_under(text, args.logdir):
        reason = _reason(error, args.logdir)
        _remove_events(args.logdir)
        return (
            f"{args.logdir}: the TensorBoard events cannot be written there ({reason}), and this run's "
            "were removed; make room there, or choose another --logdir"
        )
    if isinstance(error, OSError):
        if error.filename is None:
            return f"the standard output cannot be written ({error.strerror or error}); check where it is redirected to"
        return f"{error.filename}: {error.strerror or error}"
    if isinstance(error, tf.errors.OpError):
        return " ".join(text.split())
    return None


def _text(error):
    return getattr(error, "message", None) or str(error)


def _is_under(text, directory):
    return os.path.abspath(directory) in text or directory in text


def _reason(error, directory):
    """The operating system's own words for why directory failed: its strerror."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    # TensorFlow's message holds the strerror somewhere among its lines of graph detail.
    reasons = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS, errno.EACCES, errno.EPERM)
    for number in reasons + (errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.EIO):
        if os.strerror(number) in _text(error):
            return os.strerror(number)
    try:  # else ask the system directly, writing a file of a checkpoint's size
        _probe(directory, f"probe-{os.getpid()}", size=1 << 16)
    except OSError as probe_error:
        return probe_error.strerror
    return _text(error).splitlines()[0]


def _saved_note(args):
    """What became of the steps done, for a training run with --save-dir that failed."""
    if args is None or not args.save_dir or _State.step_at_start is None:
        return ""
    newest = _newest_complete(args.save_dir)
    if newest is None:
        return "; no checkpoint is there"
    if newest == _State.step_at_start:
        return f"; the newest checkpoint, {_checkpoint_path(args.save_dir, newest)}, is as it was"
    return f"; the steps done are saved in {_checkpoint_path(args.save_dir, newest)}"


def _show_lines_as_they_come():
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
    except (OSError, ValueError):  # a closed stdout: nothing will be shown anyway
        pass


def _flag(name):
    return "--" + name.replace("_", "-")


def _quoted(*arguments):
    """arguments as the user can paste them into their own shell: quoted where they need it."""
    if os.name == "nt":
        return subprocess.list2cmdline(arguments)
    return shlex.join(arguments)


# --- the flags' values -----------------------------------------------------------------------


def positive_int(text):
    """An argparse type: an integer greater than 0."""
    return _integer(text, least=1)


def count(text):
    """An argparse type: an integer, 0 or more."""
    return _integer(text, least=0)


def _integer(text, least):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r} must be {'greater than 0' if least else '0 or more'}")
    return value


def learning_rate(text):
    """An argparse type: a number greater than 0 that the model's float32 holds as one: 1e39
    would be infinite there (every loss nan), 1e-50 zero (nothing learnt)."""
    try:
        value = float(text)
        as_float32 = struct.unpack("f", struct.pack("f", value))[0]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    except OverflowError:
        as_float32 = float("inf")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    if not 1.2e-38 < as_float32 < float("inf"):  # float32's smallest normal number, and its largest
        raise argparse.ArgumentTypeError(f"{text!r} is outside what float32 holds (1.2e-38 to 3.4e38)")
    return value


def directory(text):
    """An argparse type: a directory's path, with ~ expanded as a shell would have (a quoted ~ or
    --flag=~/x is not), so that no directory named ~ is made by mistake."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path; give a directory")
    # A trailing / names the same directory; without it, DIR/model-20/ is seen as a checkpoint's name.
    return os.path.expanduser(text.rstrip("/" + os.sep) or text)


# --- directories -----------------------------------------------------------------------------


def _prepare_directories(args):
    """Check the directory flags, lock and probe --save-dir and make --logdir's run directory,
    before any training: a problem then costs nothing and leaves nothing behind."""
    for flag in ("data_dir", "save_dir", "logdir"):
        path = getattr(args, flag)
        if path and os.path.exists(path) and not os.path.isdir(path) and not _is_checkpoint_prefix(path):
            raise RunError(f"{path}: is a file, not a directory; choose another {_flag(flag)}")
    if not os.path.exists(args.data_dir):  # where a missing file would be downloaded to
        existing = os.path.abspath(args.data_dir)
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            raise RunError(f"{args.data_dir}: cannot be written (Not a directory); choose another --data-dir")
    if args.save_dir:
        if _is_checkpoint_prefix(args.save_dir) and _trains(args):
            parent = os.path.dirname(args.save_dir) or "."
            raise RunError(
                f"{args.save_dir}: is a checkpoint, not a directory; to train on from the newest "
                f"checkpoint beside it, give {_quoted('--save-dir', parent)}"
            )
        if _trains(args):
            _make_directory(args.save_dir, "--save-dir")
            _lock_save_dir(args.save_dir)
            _probe(args.save_dir, LONGEST_NAME % (args.steps, 0), "--save-dir")
            _State.step_at_start = _newest_complete(args.save_dir) or 0
        elif not os.path.isdir(args.save_dir) and not _is_checkpoint_prefix(args.save_dir):
            parent = os.path.dirname(args.save_dir) or "."
            saved = _complete_checkpoints(parent)
            if CHECKPOINT.fullmatch(os.path.basename(args.save_dir) + ".index") and saved:
                names = ", ".join(f"model-{step}" for step in sorted(saved))
                raise RunError(f"{args.save_dir}: no such checkpoint; {parent} holds {names}")
            raise RunError(f"{args.save_dir}: no such directory; {_train_first(args.save_dir)}")
    if args.logdir:
        # Each run writes a directory of its own, so that TensorBoard shows runs side by side.
        run = stamped = os.path.join(args.logdir, time.strftime("run-%Y%m%d-%H%M%S"))
        suffix = 1
        while os.path.exists(run):  # another run started in the same second
            suffix += 1
            run = f"{stamped}-{suffix}"
        _make_directory(run, "--logdir", shown=args.logdir)
        _probe(run, "events.out.tfevents.probe", "--logdir")
        args.logdir = run
        print(f"TensorBoard events go to {run}")


def _make_directory(path, flag, shown=None):
    """os.makedirs, recording each directory made, so that a failed run can remove it again.
    shown: the path the user gave, named in the error (default: path)."""
    missing = []
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    try:
        for directory in reversed(missing):
            os.mkdir(directory)
            _State.created.append(directory)
    except OSError as error:
        raise RunError(f"{shown or path}: cannot be written ({error.strerror}); choose another {flag}") from None


def _probe(path, name, flag=None, size=0):
    """Write and remove a file of this name and size in path: the work a run will do there, tried
    before it, so that a read-only or full disk or a name too long is found at once."""
    probe = os.path.join(path, name)
    try:
        with open(probe, "xb") as file:
            file.write(bytes(size))
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        if flag is None:
            raise OSError(error.errno, error.strerror, probe) from None  # named: a failed flush names no file
        reason = error.strerror
        if os.name == "nt" and len(os.path.abspath(probe)) >= 260:  # MAX_PATH, unless long paths are enabled
            reason = f"its files' paths would be longer than the {260} characters Windows allows"
        raise RunError(f"{path}: cannot be written ({reason}); choose another {flag}") from None
    finally:
        with contextlib.suppress(OSError):
            os.remove(probe)


def _lock_save_dir(directory):
    """Lock --save-dir for this run, or raise RunError if another run holds it. The lock creates
    no file, and the system releases it when its process ends, so a crashed run cannot leave it
    stuck: a lock on the directory itself, or on Windows a file it deletes as its last handle
    closes, which a second run cannot create while the first has it open."""
    try:
        if os.name == "nt":
            lock = os.open(os.path.join(directory, LOCK_NAME), os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_TEMPORARY)
        else:
            import fcntl

            lock = os.open(directory, os.O_RDONLY)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(lock)
                raise
    except (BlockingIOError, FileExistsError, PermissionError) as error:
        if isinstance(error, PermissionError) and os.name != "nt":
            raise RunError(f"{directory}: cannot be read ({error.strerror}); choose another --save-dir") from None
        raise RunError(
            f"{directory}: is in use by another training run; wait for it to finish, or choose another --save-dir"
        ) from None
    _State.lock = lock


def _release_save_dir():
    if _State.lock is not None:
        os.close(_State.lock)  # closing releases the lock
        _State.lock = None


# --- checkpoints -----------------------------------------------------------------------------


def checkpoint_to_restore(args, saver):
    """The path of the checkpoint to continue from or evaluate, checked against this model; None
    if --save-dir holds none and this run trains.

    It is the one the `checkpoint` file names (read even after Notepad added a BOM and CRLF line
    ends), looked for in --save-dir itself whatever directory that file names, so a directory
    copied from another machine keeps working. If that file is missing or unreadable, it is the
    newest complete model-N, with a note saying so. --save-dir may also name one checkpoint
    (DIR/model-N) to evaluate or predict with. saver learns the checkpoints already there, so
    that it keeps the newest 5 in all.

    Raises RunError if the checkpoint is damaged, saved by a different model, or holds nan or
    inf, or if --eval-only or --predict finds none.
    """
    directory = args.save_dir
    if _is_checkpoint_prefix(directory):
        path = directory
    else:
        complete = _complete_checkpoints(directory)
        listed, everything = _read_state_file(directory)
        if listed and listed not in complete.values():
            if os.path.exists(listed + ".index"):
                raise RunError(f"{directory}: checkpoint {os.path.basename(listed)} is missing files or damaged; {COPY_WHOLE}")
            problem = f"its 'checkpoint' file names {os.path.basename(listed)}, which is not there"
            listed = None
        else:
            problem = "it has no readable 'checkpoint' file"
        if listed is None and complete:
            listed = complete[max(complete)]
            everything = [complete[step] for step in sorted(complete)]
            print(f"Note: {directory}: {problem}; using the newest complete checkpoint there, {listed}")
        if listed is None:
            if _trains(args):
                return None
            raise RunError(f"{directory}: holds no checkpoint to use; {_train_first(directory)}")
        path = listed
        newer = [f"model-{step}" for step in sorted(complete) if complete[step] != path and step > _step(path)]
        if newer and _trains(args):
            print(f"Note: {directory}: going on from {os.path.basename(path)}, which its 'checkpoint' file "
                  f"names; this run replaces {', '.join(newer)} as it reaches their steps")
        # So that the newest 5 are kept in all, those saved before this run included.
        saver.recover_last_checkpoints([p for p in everything if os.path.exists(p + ".index")])
    _check_fits_model(path, directory)
    return path


def _check_fits_model(path, directory):
    import numpy as np  # loaded with TensorFlow

    name = os.path.basename(path)
    try:
        reader = tf.train.load_checkpoint(path)
        saved_shapes = reader.get_variable_to_shape_map()
        values = {name: reader.get_tensor(name) for name in saved_shapes}
    except (tf.errors.OpError, ValueError, IndexError):  # IndexError: a data file cut short
        raise RunError(f"{directory}: checkpoint {name} is missing files or damaged; {COPY_WHOLE}") from None
    for variable in tf.global_variables():
        variable_name, shape = variable.op.name, variable.shape.as_list()
        if saved_shapes.get(variable_name) != shape:
            found = f"{saved_shapes[variable_name]} there" if variable_name in saved_shapes else "missing there"
            raise RunError(
                f"{directory}: checkpoint {name} was saved by a different model ({variable_name} is {found}, "
                f"{shape} here); choose another --save-dir"
            )
        if not np.isfinite(values[variable_name]).all():
            raise RunError(
                f"{directory}: checkpoint {name} holds nan or inf in {variable_name}: its training diverged "
                "(a learning rate too large); delete its files, or choose another --save-dir"
            )


def _read_state_file(directory):
    """The checkpoint the `checkpoint` file names and all it lists, as paths in directory;
    (None, []) if it is missing, unreadable or names none."""
    try:
        with open(os.path.join(directory, "checkpoint"), "rb") as file:
            text = file.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None, []
    newest, everything = None, []
    for key, value in re.findall(r'^\s*(\w+)\s*:\s*"(.*)"\s*$', text, re.M):
        # Only the name: the directory is this one, whatever machine or system wrote the path.
        name = re.split(r"[\\/]+", value.replace("\\\\", "\\"))[-1]
        if not name:
            continue
        path = os.path.join(directory, name)
        if key == "model_checkpoint_path":
            newest = path
        elif key == "all_model_checkpoint_paths":
            everything.append(path)
    return newest, everything


def _complete_checkpoints(directory):
    """{step: path} of the checkpoints model-<step> in directory whose index and data files are all there."""
    try:
        names = set(os.listdir(directory))
    except OSError:
        return {}
    complete = {}
    for name in names:
        if match := CHECKPOINT.fullmatch(name):
            prefix = name[: -len(".index")]
            shards = [n for n in names if n.startswith(prefix + ".data-")]
            total = re.search(r"-of-(\d+)$", shards[0]) if shards else None
            if total and len(shards) == int(total[1]):
                complete[int(match[1])] = os.path.join(directory, prefix)
    return complete


def _newest_complete(directory):
    return max(_complete_checkpoints(directory), default=None)


def _is_checkpoint_prefix(path):
    return not os.path.isdir(path) and os.path.isfile(path + ".index")


def _step(path):
    return int(path.rsplit("-", 1)[1])


def _checkpoint_path(directory, step):
    return os.path.join(directory, f"model-{step}")


def _remove_events(run_directory):
    """Remove a run directory of this run's whose events could not all be written: its events
    files (TensorBoard's own names, nothing else), then the directory if that leaves it empty."""
    with contextlib.suppress(OSError):
        for name in os.listdir(run_directory):
            if ".tfevents." in name:
                os.remove(os.path.join(run_directory, name))
        os.rmdir(run_directory)


def _remove_saver_litter(directory):
    """Remove what a failed save of TensorFlow's Saver left in directory: its temporary files only."""
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            if SAVER_LITTER.fullmatch(name):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(directory, name))


def _train_first(directory):
    program = sys.argv[0] if os.path.basename(sys.argv[0]) == "train.py" else "train.py"
    return f"to train into it first: {_quoted('python', program, '--save-dir', directory)}"




# --- your own digit --------------------------------------------------------------------------


def prepared_digits(paths):
    """(path, x) for each image in paths that can be prepared as MNIST's digits were (x: float32
    (784,), see digit_image.prepare_digit); one error line for each that cannot, and the run
    then ends with exit status 1."""
    for path in paths:
        try:
            yield path, digit_image.prepare_digit(path)
        except digit_image.DigitImageError as error:
            _say(f"error: {error}", 1)
            _State.status = 1
