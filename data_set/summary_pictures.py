"""Lesson 3's pictures for TensorBoard: what the model learned, and which digits it gets wrong.

Softmax regression gives each digit a score that is a weighted sum of the 784 pixels, so each of
w's ten columns, laid out as 28x28, is a picture: the template the model holds images against.
train.py --logdir writes, beside the loss curve and the histograms:

- weights/image/0 ... weights/image/9 (Images tab), at every logged step: each digit's template,
  red where ink raises the digit's score, blue where ink lowers it, white where a pixel does not
  matter. templates() makes them in the graph, so the summaries train.py already runs at each
  logged step draw them too, in TensorFlow's C++, with no extra sess.run.
- mistakes/... (Images tab), once at the end: digits the model reads wrong, each tagged with
  its true and its predicted digit.
- per_digit_accuracy (Text tab), once at the end: each digit's accuracy and what it is most
  often mistaken for.
These two are protos built here from the test predictions that train.py fetches once; Pillow
writes the mistakes' PNGs.

The module is in data_set/, beside the other helpers of the lessons, because the project's top
level is the tutorial's own layout and stays as it is.
"""
import io

import numpy as np
import tensorflow.compat.v1 as tf
from PIL import Image

SIDE = 28  # MNIST's images are 28x28
PIXELS = SIDE * SIDE
DIGITS = 10
# A diverging colour map: white at zero, going to red for positive and blue for negative values
# (the ends of ColorBrewer's RdBu, which also reads for the commonest colour blindness).
WHITE, RED, BLUE = [255, 255, 255], [178, 24, 43], [33, 102, 172]


def templates(w):
    """The ten templates, as a summary op: running it gives a serialized Summary of ten 28x28 RGB
    images tagged weights/image/0 ... weights/image/9, image d being digit d's column of w. All ten
    share one scale, so that colours compare across digits: white is 0, full red is +max|w| and
    full blue -max|w|. An all-zero w (before training) is all white, and so is a weight that is
    infinite or not a number (training that diverged).

    w: float32 tensor or Variable of shape [784, 10], the model's weights.
    Returns a string tensor of shape [], for tf.summary.merge or sess.run.
    Raises ValueError if w's shape is not 784x10.
    """
    w = tf.convert_to_tensor(w)
    w.shape.assert_is_compatible_with([PIXELS, DIGITS])
    with tf.name_scope("templates"):  # one node in the Graphs tab, beside the network
        w = tf.where(tf.math.is_finite(w), w, tf.zeros_like(w))
        # In [-1, 1]; divide_no_nan makes an all-zero w 0 (white) instead of 0/0.
        share = tf.math.divide_no_nan(w, tf.reduce_max(tf.abs(w)))[..., tf.newaxis]
        end = tf.where_v2(share > 0, tf.constant(RED, tf.float32), tf.constant(BLUE, tf.float32))
        white = tf.constant(WHITE, tf.float32)
        rgb = tf.cast(tf.round(white + tf.abs(share) * (end - white)), tf.uint8)  # [784, 10, 3]
        images = tf.reshape(tf.transpose(rgb, [1, 0, 2]), [DIGITS, SIDE, SIDE, 3])
        # The raw op keeps the tag exactly "weights": tf.summary.image would add the name scope.
        return tf.raw_ops.ImageSummary(tag="weights", tensor=images, max_images=DIGITS)


def mistakes(images, labels, predictions, limit=20):
    """The first `limit` images whose prediction is wrong: the Summary of up to `limit` 28x28
    grayscale images, drawn as MNIST has them (white ink on black), each tagged with its index in
    images, its true digit and the one predicted, such as "mistakes/0247 true 4 read as 9".
    No image is wrong: an empty Summary.

    images: shape (n, 784) or (n, 28, 28), pixel values in [0, 1] (input_data's float32 images).
    labels, predictions: shape (n,), the true and the predicted digits (integers 0 to 9).
    Raises ValueError if the shapes do not fit together.
    """
    images = np.asarray(images)
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if images.size != len(images) * PIXELS or not labels.shape == predictions.shape == (len(images),):
        raise ValueError(
            f"images {images.shape}, labels {labels.shape} and predictions {predictions.shape} "
            f"must be (n, {PIXELS}) or (n, {SIDE}, {SIDE}), (n,) and (n,)"
        )
    width = len(str(max(len(images) - 1, 0)))  # indexes of the same width sort in order
    wrong = np.flatnonzero(labels != predictions)[:limit]
    return tf.Summary(
        value=[
            image_value(
                f"mistakes/{index:0{width}d} true {labels[index]} read as {predictions[index]}",
                np.rint(images[index].reshape(SIDE, SIDE) * 255).astype(np.uint8),
            )
            for index in wrong
        ]
    )


def per_digit_accuracy(labels, predictions):
    """For the Text tab: the Summary of a markdown table, tagged per_digit_accuracy, with a row
    for each digit: its number of images, the share of them predicted right, and the digit it is
    most often predicted as instead, such as "read as 8 in 4.1% of cases" (percentages rounded to
    one decimal). A digit with no images says so.

    labels, predictions: shape (n,), the true and the predicted digits (integers 0 to 9).
    Raises ValueError if their shapes differ or a digit is outside 0 to 9.
    """
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} must both be (n,)")
    pairs = np.stack([labels, predictions])
    if pairs.size and (pairs.min() < 0 or pairs.max() >= DIGITS):
        raise ValueError(f"labels and predictions must be digits from 0 to {DIGITS - 1}")
    # confusion[true, predicted]: how many images of each digit were read as each digit.
    confusion = np.zeros((DIGITS, DIGITS), dtype=np.int64)
    np.add.at(confusion, tuple(pairs), 1)
    rows = ["| digit | images | accuracy | most often mistaken |", "|---|---|---|---|"]
    for digit, counts in enumerate(confusion):
        total = counts.sum()
        if total == 0:
            rows.append(f"| {digit} | 0 | no images | |")
            continue
        wrong = counts.copy()
        wrong[digit] = 0
        confused = wrong.argmax()
        mistaken = f"read as {confused} in {100 * wrong[confused] / total:.1f}% of cases" if wrong.any() else "never"
        rows.append(f"| {digit} | {total} | {100 * counts[digit] / total:.1f}% | {mistaken} |")
    return tf.Summary(
        value=[
            tf.Summary.Value(
                tag="per_digit_accuracy",
                # The text plugin renders a string tensor marked as its own as markdown.
                metadata=tf.SummaryMetadata(plugin_data=tf.SummaryMetadata.PluginData(plugin_name="text")),
                tensor=tf.make_tensor_proto("\n".join(rows)),
            )
        ]
    )


def image_value(tag, pixels):
    """A Summary.Value holding pixels (uint8, (height, width), gray levels) as a PNG that Pillow
    writes. Left at 28x28: TensorBoard enlarges images to fit its cards with sharp square pixels
    (CSS image-rendering: pixelated), not blurred."""
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, "PNG")
    height, width = pixels.shape
    return tf.Summary.Value(
        tag=tag,
        # colorspace 1: the Image proto's number for gray.
        image=tf.Summary.Image(height=height, width=width, colorspace=1, encoded_image_string=png.getvalue()),
    )
