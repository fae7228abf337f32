"""The tutorial's network: softmax regression on 28x28 images, y = softmax(x·w + b).

Written in TensorFlow 1 style, which TensorFlow 2 still runs as tensorflow.compat.v1.
"""
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()  # graph mode: placeholders, sessions and tf.train optimizers


class Network:
    def __init__(self, learning_rate=0.001):
        self.learning_rate = learning_rate
        # Placeholders are the graph's inputs, filled in at each sess.run: a batch of images, each
        # 28x28 pixels flattened to 784 values in [0, 1], and their labels, one-hot: digit 3 is
        # [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]. None leaves the batch size open.
        self.x = tf.placeholder(tf.float32, [None, 784])
        self.label = tf.placeholder(tf.float32, [None, 10])
        # The parameters that training learns: a weight from every pixel to every digit, and a
        # bias per digit. They start at zero, so at first every digit is equally likely.
        self.w = tf.Variable(tf.zeros([784, 10]), name="w")
        self.b = tf.Variable(tf.zeros([10]), name="b")
        # x·w + b gives each digit a score (the logits); softmax turns the ten scores into
        # probabilities that are positive and add up to 1. y[i] is the model's belief in digit i.
        self.y = tf.nn.softmax(tf.matmul(self.x, self.w) + self.b)
        # Cross-entropy, summed over the batch: -log of the probability given to the right digit
        # (the one-hot label picks it out). It is 0 for a sure, right answer and grows without
        # bound for a sure, wrong one; the 1e-10 keeps log(0) from making it infinite.
        self.loss = -tf.reduce_sum(self.label * tf.log(self.y + 1e-10))
        # Counts the training steps, so that a checkpoint knows where training stopped.
        self.global_step = tf.Variable(0, trainable=False, name="global_step")
        # One gradient-descent step: move w and b a small way (the learning rate) against the
        # gradient of the loss, the direction in which the loss grows fastest.
        self.train = tf.train.GradientDescentOptimizer(self.learning_rate).minimize(
            self.loss, global_step=self.global_step
        )
        # Accuracy: the share of images whose most probable digit (argmax) is the labelled one.
        predict = tf.equal(tf.argmax(self.label, 1), tf.argmax(self.y, 1))
        self.accuracy = tf.reduce_mean(tf.cast(predict, "float"))
