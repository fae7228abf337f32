# -*- coding: utf-8 -*-
"""The tutorial's train.py: trains the softmax regression of model.py on MNIST, then tests it.

With no flags it runs as the tutorial did: 2000 steps of 64 images, the loss every 10 steps,
then the accuracy on the 10,000 test images. The tutorial's next lessons are flags: --save-dir
(checkpoints), --logdir (TensorBoard) and --predict (your own digit); see --help. What keeps a
run safe wherever it is started lives in data_set/safety_net.py, so that this file stays the lesson.
"""
from data_set import safety_net  # first: it checks the Python, and loads TensorFlow quietly

import argparse
import os

import tensorflow.compat.v1 as tf

from data_set import digit_image, input_data, summary_pictures
from model import Network


class Train:
    """The tutorial's class: the network, a session to run it in, and the data to train it on."""

    def __init__(self, args):
        self.args = args
        self.net = Network(args.learning_rate)
        # A graph this small runs fastest in this thread alone: one thread per op, and -1 for
        # "no pool of threads to hand the ops to".
        config = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=-1)
        self.sess = tf.Session(config=config)
        # The weights start at zero, as model.py's tf.zeros says: this runs those initial values.
        self.sess.run(tf.global_variables_initializer())
        if not args.predict:
            # MNIST: 55,000 training, 5,000 validation and 10,000 test images, labels one-hot.
            self.data = input_data.read_data_sets(
                args.data_dir,
                one_hot=True,
                validation_size=args.validation_size,
                seed=args.seed,
                source_url=args.source_url,
            )
        # Lesson 2: checkpoints, named model-<step>, the newest 5 kept.
        self.saver = tf.train.Saver(max_to_keep=5)
        self.saved_step = 0
        if args.save_dir:
            self.restore()
        # Lesson 3: TensorBoard draws what the FileWriter writes: the graph, then the summaries.
        if args.logdir:
            self.writer = tf.summary.FileWriter(args.logdir, self.sess.graph)
            self.summaries = tf.summary.merge(
                [
                    tf.summary.scalar("accuracy", self.net.accuracy),
                    # Raw ops keep the tags "w" and "b": tf.summary.histogram would rename them.
                    tf.raw_ops.HistogramSummary(tag="w", values=self.net.w),
                    tf.raw_ops.HistogramSummary(tag="b", values=self.net.b),
                    # The ten columns of w as pictures: each digit's template, forming as it trains.
                    summary_pictures.templates(self.net.w),
                ]
            )

    def train(self):
        """Gradient descent, one batch at a time: each step shows the network a batch of images and
        their one-hot labels, and moves w and b a little in the direction that lowers the loss."""
        try:
            # From 0, or from the step a restored checkpoint had reached.
            for i in range(self.sess.run(self.net.global_step), self.args.steps):
                # A batch: 64 images and their labels; each epoch visits all 55,000 in a new order.
                x, label = self.data.train.next_batch(self.args.batch_size)
                # One gradient-descent step; the loss is this batch's, from before the step.
                feed = {self.net.x: x, self.net.label: label}
                _, loss = self.sess.run([self.net.train, self.net.loss], feed_dict=feed)
                if (i + 1) % self.args.log_every == 0:
                    print("第%5d步，当前loss：%.2f" % (i + 1, loss))
                    self.write_summaries(loss)
                if self.args.save_every and (i + 1) % self.args.save_every == 0:
                    self.save()
        finally:
            # However training ends (done, Ctrl-C, kill, a closed terminal), the steps are kept.
            self.save()

    def calculate_accuracy(self):
        """The share of test images whose digit the network gets right. It only runs the network
        forward: test images are never trained on, so they measure how well it generalises."""
        test_x = self.data.test.images
        test_label = self.data.test.labels
        # Only the accuracy op is run, not train: w and b stay as they are.
        feed = {self.net.x: test_x, self.net.label: test_label}
        accuracy = self.sess.run(self.net.accuracy, feed_dict=feed)
        print("准确率: %.2f，共测试了%d张图片 " % (accuracy, len(test_label)))

    def save(self):
        """Lesson 2: save w, b and the step reached as the checkpoint model-<step> in --save-dir."""
        step = self.sess.run(self.net.global_step)
        if self.args.save_dir and step != self.saved_step:
            self.saver.save(self.sess, os.path.join(self.args.save_dir, "model"), global_step=step)
            self.saved_step = step

    def restore(self):
        """Lesson 2: continue from the newest checkpoint in --save-dir, if it holds one. The safety
        net finds it, even in a copied or hand-edited directory, and checks it fits this model."""
        path = safety_net.checkpoint_to_restore(self.args, self.saver)
        if path:
            self.saver.restore(self.sess, path)
            self.saved_step = self.sess.run(self.net.global_step)
            if not self.args.predict:
                print("Restored step %d from %s" % (self.saved_step, path))

    def write_summaries(self, loss):
        """Lesson 3: the loss just printed, and the validation accuracy and the weights now, as
        histograms and as the ten digits' templates."""
        if self.args.logdir:
            step = self.sess.run(self.net.global_step)
            validation = self.data.validation
            feed = {self.net.x: validation.images, self.net.label: validation.labels}
            self.writer.add_summary(self.sess.run(self.summaries, feed_dict=feed), step)
            self.writer.add_summary(scalar("loss", loss), step)

    def write_test_summaries(self):
        """Lesson 3, at the end: the test accuracy, the test digits the network gets wrong (the
        mistakes behind that accuracy), and its accuracy on each digit."""
        test = self.data.test
        feed = {self.net.x: test.images, self.net.label: test.labels}
        fetches = [self.net.y, self.net.accuracy, self.net.global_step]
        y, accuracy, step = self.sess.run(fetches, feed_dict=feed)
        predictions, labels = y.argmax(1), test.labels.argmax(1)
        self.writer.add_summary(scalar("test_accuracy", accuracy), step)
        self.writer.add_summary(summary_pictures.mistakes(test.images, labels, predictions), step)
        self.writer.add_summary(summary_pictures.per_digit_accuracy(labels, predictions), step)
        self.writer.close()

    def predict(self, image_paths):
        """Lesson 2's last step: the digit the network sees in each of the user's own images."""
        # x: 784 values in [0, 1], the image prepared the way MNIST's digits were.
        for path, x in safety_net.prepared_digits(image_paths):
            y = self.sess.run(self.net.y, feed_dict={self.net.x: [x]})[0]  # ten probabilities
            print(path)
            print("        -> Predict digit %d (probability %.2f)" % (y.argmax(), y.max()))
            if self.args.show:  # what the model saw, to tell why it misread a digit
                second = y.argsort()[-2]
                print("           next most likely %d (probability %.2f); " % (second, y[second])
                      + "the image as the model saw it:")
                print(digit_image.text_picture(x))


def scalar(tag, value):
    """A summary of one number, such as the loss, for TensorBoard's Scalars tab."""
    return tf.Summary(value=[tf.Summary.Value(tag=tag, simple_value=value)])


def main(args):
    """The tutorial's main (app = Train(), app.train(), app.calculate_accuracy()), with the
    lessons' flags."""
    with tf.Graph().as_default():  # a graph of its own: a notebook may run this file twice
        app = Train(args)
        if args.predict:
            app.predict(args.predict)
            return
        if not args.eval_only:
            app.train()
        app.calculate_accuracy()
        if args.logdir:
            app.write_test_summaries()


# The flags, each defaulting to the tutorial's value. Their types check each value.
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
parser.add_argument("--steps", type=safety_net.positive_int, default=2000, metavar="N",
                    help="training steps (default: %(default)s)")
parser.add_argument("--batch-size", type=safety_net.positive_int, default=64, metavar="N",
                    help="images per step (default: %(default)s)")
parser.add_argument("--learning-rate", type=safety_net.learning_rate, default=0.001, metavar="R",
                    help="gradient descent step size (default: %(default)s)")
parser.add_argument("--log-every", type=safety_net.positive_int, default=10, metavar="N",
                    help="print the loss every N steps (default: %(default)s)")
parser.add_argument("--data-dir", type=safety_net.directory, default=input_data.SHIPPED_DIR,
                    metavar="DIR", help="where the four MNIST files are (default: %(default)s)")
parser.add_argument("--validation-size", type=safety_net.count, default=5000, metavar="N",
                    help="training images held out for validation (default: %(default)s)")
parser.add_argument("--seed", type=safety_net.count, metavar="N",
                    help="seeds the shuffling: same seed, same output (default: none, runs vary)")
parser.add_argument("--source-url", action="append", metavar="URL",
                    help="a mirror to download a missing file from; repeat to try several in "
                    "order (default: %s)" % " then ".join(input_data.DEFAULT_SOURCE_URLS))
parser.add_argument("--verbose", action="store_true",
                    help="show TensorFlow's start-up messages and warnings")
lessons = parser.add_argument_group("the tutorial's next lessons")
lessons.add_argument("--save-dir", type=safety_net.directory, metavar="DIR",
                     help="save checkpoints in DIR and continue from the newest; "
                     "--steps is then the total to reach")
lessons.add_argument("--save-every", type=safety_net.positive_int, metavar="N",
                     help="also save every N steps (default: only at the end)")
lessons.add_argument("--eval-only", action="store_true",
                     help="only print the accuracy of the newest checkpoint in --save-dir")
lessons.add_argument("--logdir", type=safety_net.directory, metavar="DIR",
                     help="write TensorBoard events (curves, histograms, pictures) "
                     "to a new run directory in DIR")
lessons.add_argument("--predict", nargs="+", metavar="IMAGE",
                     help="print the digit the checkpoint in --save-dir sees in each image")
lessons.add_argument("--show", action="store_true",
                     help="with --predict, also show each image as the model saw it")

if __name__ == "__main__":
    safety_net.run(main, parser)
