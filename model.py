"""The tutorial's network: softmax regression on 28x28 images, y = softmax(x·w + b).

Written in TensorFlow 1 style, which TensorFlow 2 still runs as tensorflow.compat.v1.
"""
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()  # graph mode: placeholders, sessions and tf.train optimizers


class Network:
    def __init__(self, learning_rate=0.001):
        self.learning_rate = learning_rate
        self.x = tf.placeholder(tf.float32, [None, 784])
        self.label = tf.placeholder(tf.float32, [None, 10])
        self.w = tf.Variable(tf.zeros([784, 10]), name="w")
        self.b = tf.Variable(tf.zeros([10]), name="b")
        self.y = tf.nn.softmax(tf.matmul(self.x, self.w) + self.b)
        self.loss = -tf.reduce_sum(self.label * tf.log(self.y + 1e-10))
        # Counts the training steps, so that a checkpoint knows where training stopped.
        self.global_step = tf.Variable(0, trainable=False, name="global_step")
        self.train = tf.train.GradientDescentOptimizer(self.learning_rate).minimize(
            self.loss, global_step=self.global_step
        )
        predict = tf.equal(tf.argmax(self.label, 1), tf.argmax(self.y, 1))
        self.accuracy = tf.reduce_mean(tf.cast(predict, "float"))
