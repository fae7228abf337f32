"""The tutorial's loss, accuracy and training step, on inputs whose results are worked out by hand."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from model import Network


@pytest.fixture
def net_and_session():
    with tf.Graph().as_default():
        net = Network()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            yield net, sess


def one_hot(*digits):
    return np.eye(10, dtype=np.float32)[list(digits)]


def outputs(*rows):
    """Probability rows padded with zeros to the ten classes."""
    return np.array([row + [0.0] * (10 - len(row)) for row in rows], dtype=np.float32)


def test_graph_has_the_tutorials_shapes_and_learning_rate(net_and_session):
    net, _ = net_and_session
    assert net.x.shape.as_list() == [None, 784]
    assert net.label.shape.as_list() == [None, 10]
    assert net.w.shape.as_list() == [784, 10]
    assert net.b.shape.as_list() == [10]
    assert net.learning_rate == 0.001


def test_cross_entropy_matches_the_tutorials_examples(net_and_session):
    net, sess = net_and_session
    # The tutorial: [0, 0, 1] against [0.1, 0.3, 0.6] and [0.2, 0.2, 0.6] gives 0.51, against [0.1, 0, 0.9] 0.10.
    for y, expected in (([0.1, 0.3, 0.6], 0.51), ([0.2, 0.2, 0.6], 0.51), ([0.1, 0.0, 0.9], 0.10)):
        loss = sess.run(net.loss, {net.y: outputs(y), net.label: one_hot(2)})
        assert loss == pytest.approx(expected, abs=0.01)
    # The loss is summed over the batch, and a zero output costs -log(1e-10), not infinity.
    loss = sess.run(net.loss, {net.y: outputs([0.1, 0.3, 0.6], [1.0]), net.label: one_hot(2, 0)})
    assert loss == pytest.approx(-np.log(0.6), rel=1e-5)
    loss = sess.run(net.loss, {net.y: outputs([1.0]), net.label: one_hot(2)})
    assert loss == pytest.approx(-np.log(1e-10), rel=1e-5)


def test_zero_weights_give_uniform_output(net_and_session):
    net, sess = net_and_session
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    y, loss = sess.run([net.y, net.loss], {net.x: x, net.label: one_hot(*np.arange(64) % 10)})
    np.testing.assert_allclose(y, 0.1, rtol=1e-6)
    assert loss == pytest.approx(64 * np.log(10), rel=1e-5)


def test_accuracy_is_the_share_of_argmax_matches(net_and_session):
    net, sess = net_and_session
    y = outputs([0.1, 0.2, 0.7], [0.0, 0.9, 0.1], [0.5, 0.4, 0.1], [0.3, 0.3, 0.4])
    accuracy = sess.run(net.accuracy, {net.y: y, net.label: one_hot(2, 1, 1, 0)})
    assert accuracy == pytest.approx(0.5)


def test_one_step_is_gradient_descent_on_the_summed_cross_entropy(net_and_session):
    net, sess = net_and_session
    random = np.random.default_rng(1)
    x = random.random((8, 784), dtype=np.float32)
    label = one_hot(*random.integers(0, 10, 8))
    sess.run(net.train, {net.x: x, net.label: label})
    # From zero weights y is 0.1 everywhere; d loss / d logits = y - label (the 1e-10 is negligible).
    expected_w = -0.001 * x.T @ (0.1 - label)
    expected_b = -0.001 * (0.1 - label).sum(axis=0)
    w, b = sess.run([net.w, net.b])
    np.testing.assert_allclose(w, expected_w, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(b, expected_b, rtol=1e-4, atol=1e-8)
