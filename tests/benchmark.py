"""Speed and memory of train.py against baselines measured in the same run.

    python tests/benchmark.py [--repeat N]

Not a test (pytest does not collect it): timings on a shared machine are noisy, so each figure
is the median of N alternated repetitions (3N for the reader and the training loop, which take
a second each), and each verdict is a paired ratio: the median of each round's own ratio, as a
round's measures are taken one after the other and mostly share the machine's slow or fast spell.

The whole `python train.py`, in fresh processes, against:
1. a plain port of the tutorial, written below: its code with only the tensorflow.compat.v1
   changes, and a straightforward reader (wall time and peak memory);
2. Keras 3's model.fit of the same model (Dense(10, softmax), zero init, SGD(0.001), summed
   cross-entropy, 2000 steps of 64, the loss printed every 10 steps), on the same reader;
3. a bare `import tensorflow.compat.v1` that exits at once: the floor of any TensorFlow program.
And `python train.py --logdir DIR`: its template pictures cost at most 10% of a --logdir run
without them (their op replaced by an empty summary); for information, against the default run.
For information, with no target: train.py's 2,000-step training loop against its floor, 2,000
sess.run([train, loss]) on one fixed batch (the two take turns every 100 steps, on fresh graphs
in one process), and read_data_sets(..., one_hot=True) against the plain reader.
"""
import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK_REPEATS = 3  # the reader and the loop take a second a round: more rounds, steadier medians
CHUNK_STEPS = 100  # the training loop and its floor take turns this often
DATA = os.path.join(REPO, "data_set")

PLAIN_READER = """
import gzip
import numpy as np

class DataSet:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels
        self.num_examples = len(images)
        self.index = 0
        self.epochs_completed = 0

    def shuffle(self):
        order = np.random.permutation(self.num_examples)
        self.images, self.labels = self.images[order], self.labels[order]

    def next_batch(self, batch_size):
        if self.epochs_completed == 0 and self.index == 0:
            self.shuffle()
        start = self.index
        if start + batch_size > self.num_examples:
            self.epochs_completed += 1
            rest_images, rest_labels = self.images[start:], self.labels[start:]
            self.shuffle()
            self.index = batch_size - len(rest_images)
            return (np.concatenate([rest_images, self.images[: self.index]]),
                    np.concatenate([rest_labels, self.labels[: self.index]]))
        self.index += batch_size
        return self.images[start:self.index], self.labels[start:self.index]

def read(path, header_size):
    with gzip.open(path) as file:
        return np.frombuffer(file.read(), np.uint8, offset=header_size)

class Datasets:
    def __init__(self, directory, validation_size=5000):
        images = read(directory + "/train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
        labels = np.eye(10)[read(directory + "/train-labels-idx1-ubyte.gz", 8)]
        self.validation = DataSet(images[:validation_size], labels[:validation_size])
        self.train = DataSet(images[validation_size:], labels[validation_size:])
        self.test = DataSet(
            read(directory + "/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255,
            np.eye(10)[read(directory + "/t10k-labels-idx1-ubyte.gz", 8)],
        )
"""

PLAIN_MODEL = """
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()

class Network:
    def __init__(self):
        self.learning_rate = 0.001
        self.x = tf.placeholder(tf.float32, [None, 784])
        self.label = tf.placeholder(tf.float32, [None, 10])
        self.w = tf.Variable(tf.zeros([784, 10]))
        self.b = tf.Variable(tf.zeros([10]))
        self.y = tf.nn.softmax(tf.matmul(self.x, self.w) + self.b)
        self.loss = -tf.reduce_sum(self.label * tf.log(self.y + 1e-10))
        self.train = tf.train.GradientDescentOptimizer(self.learning_rate).minimize(self.loss)
        predict = tf.equal(tf.argmax(self.label, 1), tf.argmax(self.y, 1))
        self.accuracy = tf.reduce_mean(tf.cast(predict, "float"))
"""

PLAIN_TRAIN = """
import sys
import tensorflow.compat.v1 as tf
from plain_model import Network
from plain_reader import Datasets

class Train:
    def __init__(self):
        self.net = Network()
        self.sess = tf.Session()
        self.sess.run(tf.global_variables_initializer())
        self.data = Datasets(sys.argv[1])

    def train(self):
        for i in range(2000):
            x, label = self.data.train.next_batch(64)
            _, loss = self.sess.run([self.net.train, self.net.loss], feed_dict={self.net.x: x, self.net.label: label})
            if (i + 1) % 10 == 0:
                print("第%5d步，当前loss：%.2f" % (i + 1, loss))

    def calculate_accuracy(self):
        accuracy = self.sess.run(self.net.accuracy, feed_dict={self.net.x: self.data.test.images, self.net.label: self.data.test.labels})
        print("准确率: %.2f，共测试了%d张图片 " % (accuracy, len(self.data.test.labels)))

if __name__ == "__main__":
    app = Train()
    app.train()
    app.calculate_accuracy()
"""

KERAS_FIT = """
import sys
import keras
import tensorflow as tf
from plain_reader import Datasets

class PrintLoss(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % 10 == 0:
            print("第%5d步，当前loss：%.2f" % (batch + 1, logs["loss"]))

data = Datasets(sys.argv[1])
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros")])
model.compile(
    optimizer=keras.optimizers.SGD(0.001),
    loss=keras.losses.CategoricalCrossentropy(reduction="sum"),
    metrics=["accuracy"],
)
batches = tf.data.Dataset.from_tensor_slices((data.train.images, data.train.labels)).shuffle(55000).repeat().batch(64)
model.fit(batches, epochs=1, steps_per_epoch=2000, callbacks=[PrintLoss()], verbose=0)
_, accuracy = model.evaluate(data.test.images, data.test.labels, verbose=0)
print("准确率: %.2f，共测试了%d张图片 " % (accuracy, len(data.test.labels)))
"""

BARE_IMPORT = "import tensorflow.compat.v1"

# train.py --logdir DIR run from code (argv: repo, DIR, "pictures" or "none"), with lesson 3's
# template pictures or with an empty summary in their place. Both exit at once, as train.py
# does when it is the process's own program.
LOGDIR_RUN = """
import os, runpy, sys
repo, logdir, pictures = sys.argv[1:]
sys.path.insert(0, repo)
import tensorflow.compat.v1 as tf
from data_set import summary_pictures
if pictures == "none":
    summary_pictures.templates = lambda w: tf.constant(b"")  # an empty Summary
sys.argv = ["train.py", "--logdir", logdir]
runpy.run_path(os.path.join(repo, "train.py"), run_name="__main__")
sys.stdout.flush()
os._exit(0)
"""

# Prints how long one read of all four files took, in a fresh interpreter.
TIME_READ = """
import sys, time
sys.path.insert(0, sys.argv[1])
{imports}
start = time.perf_counter()
{read}
print(time.perf_counter() - start)
"""


def run_child(command, cwd):
    """Wall seconds and peak resident memory (MiB) of one child process, its stdout and its stderr."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=stderr, env=quiet_env())
        stdout = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory, unlike getrusage()
        wall = time.perf_counter() - start
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed with exit status {os.waitstatus_to_exitcode(status)}:\n{errors}")
    return wall, usage.ru_maxrss / 1024, stdout.decode(), errors


def quiet_env():
    """The user's environment without TF_* settings, as in a fresh shell."""
    return {name: value for name, value in os.environ.items() if not name.startswith("TF_")}


def alternated(repeat, *measures):
    """Run each measure once per round, in turn, reversing the order every other round."""
    results = [[] for _ in measures]
    for round_number in range(repeat):
        order = list(enumerate(measures))
        for index, measure in order if round_number % 2 == 0 else reversed(order):
            results[index].append(measure())
    return results


def whole_runs(repeat, plain_dir):
    """train.py, the plain port, Keras's fit, the bare import, and train.py --logdir with and
    without the template pictures, each run once a round."""
    logs = os.path.join(plain_dir, "logs")
    return alternated(
        repeat,
        lambda: run_child([sys.executable, os.path.join(REPO, "train.py")], plain_dir),
        lambda: run_child([sys.executable, "-c", LOGDIR_RUN, REPO, logs, "pictures"], plain_dir),
        lambda: run_child([sys.executable, "-c", LOGDIR_RUN, REPO, logs, "none"], plain_dir),
        lambda: run_child([sys.executable, "plain_train.py", DATA], plain_dir),
        lambda: run_child([sys.executable, "keras_fit.py", DATA], plain_dir),
        lambda: run_child([sys.executable, "-c", BARE_IMPORT], plain_dir),
    )


def reader_times(repeat, plain_dir):
    ours = TIME_READ.format(
        imports="from data_set import input_data",
        read=f"input_data.read_data_sets({DATA!r}, one_hot=True)",
    )
    plain = TIME_READ.format(imports="from plain_reader import Datasets", read=f"Datasets({DATA!r})")
    return alternated(
        repeat,
        lambda: float(run_child([sys.executable, "-c", ours, REPO], plain_dir)[2].split()[-1]),
        lambda: float(run_child([sys.executable, "-c", plain, plain_dir], plain_dir)[2]),
    )


def training_loop_times(repeat):
    """Seconds for train.py's 2,000-step loop and for its floor, in each of repeat rounds.

    A round runs the two on fresh graphs in this process, taking turns every CHUNK_STEPS steps,
    so that they see the same slow and fast spells of the machine.
    """
    sys.path.insert(0, REPO)
    import tensorflow.compat.v1 as tf

    import train

    args = train.parser.parse_args([])

    def fresh_app():
        with tf.Graph().as_default():
            return train.Train(argparse.Namespace(**vars(args)))

    loops, floors = [], []
    for _ in range(repeat):
        with contextlib.redirect_stdout(io.StringIO()):
            looping, flooring = fresh_app(), fresh_app()
            x, label = flooring.data.train.next_batch(args.batch_size)
            floor_feed = {flooring.net.x: x, flooring.net.label: label}

            def loop_chunk():
                # train() goes on from the step reached, up to args.steps
                looping.args.steps = looping.sess.run(looping.net.global_step) + CHUNK_STEPS
                start = time.perf_counter()
                looping.train()
                return time.perf_counter() - start

            def floor_chunk():
                start = time.perf_counter()
                for _ in range(CHUNK_STEPS):
                    flooring.sess.run([flooring.net.train, flooring.net.loss], feed_dict=floor_feed)
                return time.perf_counter() - start

            loop_chunks, floor_chunks = alternated(args.steps // CHUNK_STEPS, loop_chunk, floor_chunk)
            for app in (looping, flooring):
                app.sess.close()  # sessions left open would hold their memory to the end
        loops.append(sum(loop_chunks))
        floors.append(sum(floor_chunks))
    return loops, floors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7, help="alternated repetitions of each measure (default: 7)")
    repeat = max(5, parser.parse_args().repeat)
    with tempfile.TemporaryDirectory() as plain_dir:
        for name, source in (
            ("plain_reader", PLAIN_READER), ("plain_model", PLAIN_MODEL), ("plain_train", PLAIN_TRAIN), ("keras_fit", KERAS_FIT)
        ):
            with open(os.path.join(plain_dir, name + ".py"), "w") as file:
                file.write(textwrap.dedent(source))
        ours, logdir, logdir_plain, plain, keras, bare = whole_runs(repeat, plain_dir)
        reader_ours, reader_plain = reader_times(QUICK_REPEATS * repeat, plain_dir)
    loop, floor = training_loop_times(QUICK_REPEATS * repeat)

    wall, rss = [r[0] for r in ours], [r[1] for r in ours]
    rows = [
        ("whole run, wall (s)", wall, "plain port", [r[0] for r in plain], 0.65),
        ("whole run, wall (s)", wall, "Keras fit", [r[0] for r in keras], 0.50),
        ("whole run, wall (s)", wall, "bare import", [r[0] for r in bare], 1.40),
        ("whole run, peak RSS (MiB)", rss, "plain port", [r[1] for r in plain], 0.75),
        # Lesson 3's pictures: at most 10% more than a --logdir run without them.
        ("--logdir run, wall (s)", [r[0] for r in logdir], "no pictures", [r[0] for r in logdir_plain], 1.10),
        ("--logdir run, wall (s)", [r[0] for r in logdir], "default run", wall, None),
        ("training loop, 2000 steps (s)", loop, "floor", floor, None),
        ("read_data_sets, one_hot (s)", reader_ours, "plain reader", reader_plain, None),
    ]
    print(
        f"medians of {repeat} alternated runs ({QUICK_REPEATS * repeat} for the reader and the loop), "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    print("paired ratio: the median of each round's ratio, which this machine's slow and fast spells affect least")
    print(
        f"{'measure':30} {'train.py':>9} {'baseline':>12} {'':>9} {'ratio of medians':>17} "
        f"{'paired ratio':>13} {'rounds ranged':>14} {'target':>8}"
    )
    missed = 0
    median = statistics.median
    for name, values, baseline_name, baselines, target in rows:
        ratios = [value / baseline for value, baseline in zip(values, baselines)]
        paired = median(ratios)
        if target is None:
            limit, verdict = "none", ""
        else:
            missed += paired > target
            limit, verdict = f"<= {target}", "ok" if paired <= target else "MISSED"
        print(
            f"{name:30} {median(values):9.3f} {baseline_name:>12} {median(baselines):9.3f} "
            f"{median(values) / median(baselines):17.2f} {paired:13.3f} {min(ratios):7.2f}-{max(ratios):.2f} "
            f"{limit:>8} {verdict}"
        )
    stderr_bytes = [len(r[3]) for r in ours]
    missed += any(stderr_bytes)
    print(f"train.py's stderr, bytes per run: {stderr_bytes} {'ok' if not any(stderr_bytes) else 'MISSED (target: empty)'}")
    print("train.py's last lines:", " | ".join(r[2].splitlines()[-1] for r in ours))
    print("Keras fit's last lines:", " | ".join(r[2].splitlines()[-1] for r in keras))
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
