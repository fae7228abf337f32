"""Turn a picture of a handwritten digit into an input the tutorial's model can read.

The model has only ever seen MNIST's digits, and those were all prepared the same way: white
ink on black, the digit scaled to fit a 20x20 box, then placed in a 28x28 field with its centre
of mass at the centre. Softmax regression weighs each pixel on its own, so a digit drawn
elsewhere, larger, or dark on light, lights up pixels the model never learnt about. A photo or
scan is therefore prepared as MNIST's digits were before the model sees it.

A trap on the way: images come as uint8, where 1 - image, or 255 - image, wraps around
(0 - 1 is 255). So the pixels are made floats first, and inverted as floats.
"""
import os

import numpy as np
import tensorflow.compat.v1 as tf

FIELD = 28  # MNIST's images are 28x28
BOX = 20  # MNIST scaled each digit to fit a 20x20 box inside the field
# MNIST's digits have their centre of mass at pixel (14, 14), counting rows and columns from 0:
# measured on its 10,000 test images (13.99, 14.01).
CENTRE = 14
BORDER_FRACTION = 1 / 32  # the paper is judged on a ring this wide, a fraction of the shorter side
# Ink must stand out from the paper by NOISE_MARGIN times the paper's own variation, the 99th
# percentile of the border's distance from its level (2.6 standard deviations for Gaussian noise):
# pure Gaussian noise goes that far (6.4 deviations) about once in ten billion pixels.
NOISE_MARGIN = 2.5
# and by this fraction of the strongest ink, so that faint specks and smudges away from the digit
# do not stretch its bounding box.
INK_FRACTION = 1 / 8
# Fewer inked pixels than this are a speck, not a digit: a digit drawn even as small as MNIST's
# 28x28 images covers a hundred or more.
MIN_INK_PIXELS = 10


class DigitImageError(ValueError):
    """An image that cannot be made into a digit; the message is one line: the path, the problem, what to do."""


def prepare_digit(path):
    """Read the image at path and prepare it as MNIST's digits were prepared.

    The image may be any PNG, JPEG, GIF (its first frame) or BMP that TensorFlow decodes, of any
    size, in grayscale, RGB or either with transparency (transparent pixels count as paper).
    Dark ink on light paper and light ink on dark paper both work: the paper is the level of the
    image's border. The ink is cropped to its bounding box, scaled with anti-aliasing to fit a
    20x20 box keeping its aspect ratio, and placed in a 28x28 field with its centre of mass at
    pixel (14, 14), shifted by whole pixels and kept inside the field.

    Returns a float32 numpy array of shape (784,): the 28x28 field row by row, ink high and paper
    0, scaled so that the strongest ink is 1.0 (like MNIST's images from input_data).

    Raises DigitImageError (a ValueError) when the file cannot be read (missing, a directory, no
    permission), is not an image TensorFlow can decode, or shows no ink: a blank page, an image
    of one level, or only paper texture and noise.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as file:
            contents = file.read()
    except OSError as error:
        raise DigitImageError(
            f"{path}: cannot be read ({error.strerror.lower()}); give the path of an image file"
        ) from None
    try:
        pixels = _in_private_graph(lambda data: tf.io.decode_image(data, expand_animations=False), contents, tf.string)
    except tf.errors.OpError:
        raise DigitImageError(
            f"{path}: not an image TensorFlow can decode; save it as PNG, JPEG, GIF or BMP"
        ) from None
    ink = _ink(_on_paper(pixels.astype(np.float32)))
    if np.count_nonzero(ink) < MIN_INK_PIXELS:
        raise DigitImageError(
            f"{path}: no digit found, only paper (blank, one level, texture and noise, or a speck); "
            "draw the digit darker or thicker against the paper"
        )
    return _normalised(ink)


def _in_private_graph(operation, value, dtype):
    """operation(placeholder) evaluated on value, in a graph and session of its own.

    The graph keeps these ops out of the caller's graph (the model's), and the session makes this
    work whether or not eager execution was turned off.
    """
    with tf.Graph().as_default(), tf.Session() as sess:
        placeholder = tf.placeholder(dtype, np.shape(value))
        return sess.run(operation(placeholder), {placeholder: value})


def _on_paper(pixels):
    """Grayscale levels in [0, 255], shape (height, width), from decoded pixels (height, width, channels).

    Transparent pixels are laid on the paper. When most of the border is opaque, the paper is its
    opaque part's level. Otherwise the transparent part is the paper: its colour, unseen and often
    black, gives way to white or black, whichever is farther from the visible drawing.
    """
    if pixels.shape[-1] in (2, 4):
        colour, alpha = pixels[..., :-1], pixels[..., -1] / 255
    else:
        colour, alpha = pixels, None
    gray = colour[..., 0] if colour.shape[-1] == 1 else colour @ np.array([0.299, 0.587, 0.114], np.float32)
    if alpha is None:
        return gray
    opaque = alpha >= 0.5
    opaque_border = _border(opaque)
    if opaque_border.mean() >= 0.5:
        paper = np.median(_border(gray)[opaque_border])
    elif opaque.any():
        paper = 255.0 if np.median(gray[opaque]) < 127.5 else 0.0
    else:
        return np.zeros_like(gray)  # nothing visible: a blank page
    return gray * alpha + paper * (1 - alpha)


def _border(image):
    """The pixels of the ring around image's edge, as a flat array."""
    width = max(1, round(min(image.shape) * BORDER_FRACTION))
    inside = np.zeros(image.shape, bool)
    inside[width:-width, width:-width] = True
    return image[~inside]


def _ink(gray):
    """How far each pixel stands out from the paper beyond the paper's own variation, shape of gray; 0 is paper."""
    border = _border(gray)
    paper = np.median(border)
    # The ink lies on the side of the paper where the image reaches farther: dark ink on light paper
    # when the paper is nearer the lightest pixel than the darkest.
    ink = paper - gray if paper - gray.min() > gray.max() - paper else gray - paper
    noise = np.percentile(np.abs(border - paper), 99)
    margin = max(NOISE_MARGIN * noise, INK_FRACTION * ink.max())
    return np.maximum(ink - margin, 0)


def _normalised(ink):
    """MNIST's normalisation of ink (height, width), of which some is above 0: the (784,) float32 field."""
    inked_rows = np.flatnonzero(ink.any(axis=1))
    inked_columns = np.flatnonzero(ink.any(axis=0))
    digit = ink[inked_rows[0] : inked_rows[-1] + 1, inked_columns[0] : inked_columns[-1] + 1]
    scale = BOX / max(digit.shape)
    size = [max(1, round(side * scale)) for side in digit.shape]
    # TensorFlow 2's resize: version 1's has no anti-aliasing, which MNIST's digits had.
    digit = _in_private_graph(
        lambda image: tf.compat.v2.image.resize(image[..., None], size, antialias=True)[..., 0], digit, tf.float32
    )
    rows, columns = np.indices(digit.shape)
    total = digit.sum()
    # Whole-pixel shifts that bring the centre of mass to CENTRE, as far as the field allows.
    top = min(max(round(CENTRE - (digit * rows).sum() / total), 0), FIELD - digit.shape[0])
    left = min(max(round(CENTRE - (digit * columns).sum() / total), 0), FIELD - digit.shape[1])
    field = np.zeros((FIELD, FIELD), np.float32)
    field[top : top + digit.shape[0], left : left + digit.shape[1]] = digit / digit.max()
    return field.reshape(-1)
