"""Turn a picture of a handwritten digit into an input the tutorial's model can read.

The model has only ever seen MNIST's digits, and those were all prepared the same way: white
ink on black, written with a pen of one width, the digit scaled to fit a 20x20 box, then placed
in a 28x28 field with its centre of mass at the centre. Softmax regression weighs each pixel on
its own, so a digit drawn elsewhere, larger, thinner, or dark on light, lights up pixels the
model never learnt about. A photo, scan or drawing is therefore prepared as MNIST's digits were
before the model sees it. Only numpy and Pillow are used: no TensorFlow graph per image.

A trap on the way: images come as uint8, where 255 - image wraps around below 0. So the pixels
are made floats first, and inverted as floats.
"""
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FIELD = 28  # MNIST's images are 28x28
BOX = 20  # MNIST scaled each digit to fit a 20x20 box inside the field
# MNIST's digits have their centre of mass at pixel (14, 14), counting rows and columns from 0:
# measured on its 10,000 test images (13.99, 14.01).
CENTRE = 14
# A 12 MP phone photo is 4000x3000 and a 108 MP one is 12000x9000; past this an image is refused
# before it is decoded, as decoding it would take gigabytes (a decompression bomb).
MAX_PIXELS = 50_000_000
# The paper and ink are found on the image reduced to fit WORK x WORK: a digit filling a
# quarter of it is still 40 pixels tall, twice the 20x20 box, and the search stays fast.
WORK = 240
# The digit is thickened and scaled down from a box this many times the 20x20 one, so that the
# pen width is set to a fraction of a pixel of the final box.
DETAIL = 4
# MNIST's pen: the width of its strokes, as a fraction of the box the digit is scaled to fit
# (the median on its first 1,000 test images of _pen_width, the ink above 0.5, is 0.126).
PEN = 0.125
# Ink must stand out from the paper by NOISE_MARGIN times the paper's typical distance from the
# local paper level (the median of the pixels below INK_FRACTION of the strong ink, so that ink
# covering most of a tight crop does not count): noise rises that far in about one pixel in a million.
NOISE_MARGIN = 3
# and by this fraction of the strong ink, so that faint specks, ruled lines and smudges away from
# the digit do not stretch its bounding box.
INK_FRACTION = 0.35
# The ink's level that counts as full strength, MNIST's 1.0: this percentile of the digit's ink,
# so that a pencil's grey and broken strokes come out as solid as a pen's.
SOLID_PERCENTILE = 80
# Ink more than MARGIN of the digit's size away from the box round all but the outermost
# OUTLIERS percent of its pixels on each side is a speck, a shadow's edge or a smudge.
OUTLIERS = 2
MARGIN = 0.15
# Fewer inked pixels than this, on the image reduced to WORK, are a speck, not a digit.
MIN_INK_PIXELS = 10
# The opening's window sizes tried, odd, each about 1.25 times the last, up to the work size.
WINDOWS = (3, 5, 7, 9, 11, 15, 19, 25, 31, 41, 51, 65, 81, 101, 129, 161, 201, 241)
# The window has passed the strokes when it finds this fraction of the ink that windows up to
# LOOK_AHEAD sizes larger (about twice as wide) find,
PLATEAU = 0.9
LOOK_AHEAD = 3
# Only ink covering this fraction of the image counts as strokes: half the least a digit covers
# (a faint pencil 1 at the work size, 0.2%), more than the specks of a dithered edge (0.04%).
STROKES = 0.001
# The smaller window's reading finds paper, not ink, when the other reading finds more than POCKET
# times as much ink through it: the paper in a stroke's acute angle is a twentieth of the strokes
# or less, while a tight crop's edges cut its paper into strips as thin as the strokes, at most
# about twice their area.
POCKET = 4
# The window is then widened by WIDEN sizes (about 1.5 times) to cover the strokes' joins and ends.
WIDEN = 2
# Levels are compared by their logarithm, with this added so that the noise of the darkest ink stays small.
DARKEST = 0.05
SHADES = " .:#"  # text_picture's characters from paper to full ink: ASCII, for any console


class DigitImageError(ValueError):
    """An image that cannot be made into a digit; the message is one line: the path, the problem, what to do."""


def prepare_digit(path):
    """Read the image at path and prepare it as MNIST's digits were prepared.

    Any image Pillow reads works (PNG, JPEG, GIF's first frame, BMP including 1-bit, TIFF,
    WebP, ...), in any mode (1-bit, grey, 16-bit, palette, RGB, CMYK, with or without
    transparency: transparent pixels are paper), turned upright by its EXIF orientation, up to
    MAX_PIXELS pixels. Dark ink on light paper and light ink on dark both work: the ink is
    whichever of the two is found in thinner strokes, unless the
    other finds far more through the same window (the paper in a thick pen's sharp corner is thin too). Uneven lighting, shadows and a desk round
    the page are taken away by comparing each pixel with the paper around it, through a window
    fitted to the strokes; specks far from the digit are left out. The ink is cropped to its box,
    thickened to MNIST's pen width if thinner, scaled with anti-aliasing to fit a 20x20 box
    keeping its aspect ratio, and placed in a 28x28 field with its centre of mass at pixel
    (14, 14), shifted by whole pixels and kept inside the field.

    Returns a float32 numpy array of shape (784,): the 28x28 field row by row, ink high and paper
    0, scaled so that the strongest ink is 1.0 (like MNIST's images from input_data).

    Raises DigitImageError (a ValueError) when the file cannot be read (missing, a directory, no
    permission), is empty, damaged or not an image, has more than MAX_PIXELS pixels, or shows no
    ink: a blank page, an image of one level, or only paper texture and noise.
    """
    path = os.fspath(path)
    ink = _ink(_gray(path))
    if np.count_nonzero(ink) < MIN_INK_PIXELS:
        raise DigitImageError(
            f"{path}: no digit found, only paper (blank, one level, texture and noise, or a speck); "
            "draw the digit darker or thicker against the paper"
        )
    return _normalised(ink)


def text_picture(x):
    """The prepared digit x (784 values in [0, 1], as prepare_digit returns) as text: 28 lines, two
    characters per pixel so that it looks square, from ' ' (paper) to '#' (full ink), without
    trailing spaces (so a line is at most 56 characters, and a blank row is empty)."""
    levels = np.minimum((np.reshape(x, (FIELD, FIELD)) * len(SHADES)).astype(int), len(SHADES) - 1)
    return "\n".join("".join(2 * SHADES[level] for level in row).rstrip() for row in levels)


def _gray(path):
    """The image at path, reduced to fit WORK x WORK: gray levels in [0, 1], float32 (height, width).
    Transparent pixels are laid on the paper."""
    try:
        if os.path.getsize(path) == 0:
            raise DigitImageError(f"{path}: is empty (0 bytes); save the image again")
        image = _opened(path)
    except OSError as error:
        raise DigitImageError(f"{path}: cannot be read ({_reason(error)}); give the path of an image file") from None
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise DigitImageError(
                f"{path}: is {width}x{height} pixels, more than the {MAX_PIXELS // 1_000_000} million this reads; "
                "save a smaller copy of it"
            )
        try:
            return _decoded(image)
        except (OSError, SyntaxError, ValueError, EOFError):  # what Pillow's decoders raise on bad data
            raise DigitImageError(f"{path}: is damaged or cut short and cannot be decoded; save the image again") from None


def _reason(error):
    """The cause of error (an OSError from opening a file) in a few lower-case words."""
    if isinstance(error, UnidentifiedImageError):
        return "not an image file Pillow knows"
    return (error.strerror or str(error)).lower()


def _opened(path):
    """Image.open(path): reads the header only, so the size is known before any decoding.
    Changes no setting of Pillow's, so threads may call it together."""
    # Pillow warns past 89 million pixels and refuses past twice that, without saying the size
    # this reads; _gray refuses past MAX_PIXELS, fewer, with a message of its own.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except Image.DecompressionBombError:
            raise DigitImageError(
                f"{path}: has more than the {MAX_PIXELS // 1_000_000} million pixels this reads; save a smaller copy of it"
            ) from None


def _decoded(image):
    """The opened image, upright, reduced and gray: see _gray."""
    if image.format == "JPEG":
        # The JPEG decoder reduces by up to 8 as it decodes: a phone photo never exists full size.
        scale = min(1, WORK / max(image.size))
        image.draft(image.mode, (round(image.width * scale), round(image.height * scale)))
    image = ImageOps.exif_transpose(image)
    scale = min(1, WORK / max(image.size))  # after draft, which may have reduced it already
    if image.mode.startswith("I") or image.mode == "F":
        image = image.convert("F")  # 16- or 32-bit levels, brought to [0, 1] below by the brightest
    elif "A" in image.getbands() or "transparency" in image.info:
        image = image.convert("RGBA").convert("LA")
    else:
        image = image.convert("L")
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    pixels = np.asarray(image.resize(size, Image.Resampling.BOX, reducing_gap=3), np.float32)
    if image.mode == "F":
        return pixels / max(pixels.max(), 1)
    pixels = pixels / 255
    if image.mode == "L":
        return pixels
    return _on_paper(pixels[..., 0], pixels[..., 1])


def _on_paper(gray, alpha):
    """gray laid on paper where alpha (both (height, width), in [0, 1]) is transparent.

    When most of the border is opaque, the paper is its opaque part's level. Otherwise the
    transparent part is the paper: its colour, unseen and often black, gives way to white or
    black, whichever is farther from the visible drawing.
    """
    opaque = alpha >= 0.5
    opaque_border = _border(opaque)
    if opaque_border.mean() >= 0.5:
        paper = np.median(_border(gray)[opaque_border])
    elif opaque.any():
        paper = 1.0 if np.median(gray[opaque]) < 0.5 else 0.0
    else:
        return np.zeros_like(gray)  # nothing visible: a blank page
    return gray * alpha + paper * (1 - alpha)


def _border(image):
    """The pixels of the one-pixel ring round image's edge, as a flat array."""
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def _filtered(image, size, reduce):
    """reduce (np.minimum or np.maximum) over the size x size square round each pixel of image
    (float32 2-D); size is odd. Beyond the edge the image is mirrored: a stroke cut by the edge
    stays a stroke, at most twice as wide. Windows of 1, 2, 4, ... pixels are combined, so a
    large window costs little more than a small one."""
    for axis in (0, 1):
        line = np.moveaxis(np.pad(image, [(size // 2, size // 2) if a == axis else (0, 0) for a in (0, 1)], "reflect"), axis, 0)
        span = 1
        while 2 * span <= size:
            line = reduce(line[:-span], line[span:])
            span *= 2
        length = image.shape[axis]
        image = np.moveaxis(reduce(line[:length], line[size - span : size - span + length]), 0, axis)
    return image


def _ink(gray):
    """How far each pixel of gray (float32 (height, width), levels in [0, 1]) stands out from the
    paper round it, where it is ink: float32 of gray's shape, 0 for paper, full strength near 1."""
    # Ink high, as the logarithm of the distance from ink's end of the scale: for dark ink,
    # -log(level), for light ink, -log(1 - level). Light falling on the page multiplies the levels,
    # so a dark stroke stands out as far in a shadow as in the light.
    readings = [_reading(-np.log(ends + DARKEST)) for ends in (gray, 1 - gray)]
    # Ink is thin, paper is wide: the right reading's window, past its strokes, is the smaller
    # one, whatever shadows and desks lie around (the median or the border would be fooled). Of
    # equal windows, the right reading finds more ink through it.
    found = [areas[window] for window, _, _, areas in readings]
    right = min((0, 1), key=lambda i: (readings[i][0], -found[i]))
    # But paper caught in an acute angle between two strokes, or in a small loop, is thin too, and
    # a thick pen's strokes can be wider than it: the wrong reading then settles on that pocket
    # with the smaller window, and the pocket, scaled up, would be a solid wedge. Such a pocket is
    # a small part of the strokes round it, which the right reading finds through the same window.
    window, areas = readings[right][0], [reading[3] for reading in readings]
    if areas[1 - right][window] > POCKET * areas[right][window]:
        right = 1 - right
    size, threshold, light, _ = readings[right]
    stands_out = _contrast(light, size)
    ink = _digit(stands_out > threshold)
    solid = np.percentile(stands_out[ink], SOLID_PERCENTILE) if ink.any() else 1
    return np.where(ink, np.minimum(stands_out / solid, 1), 0).astype(np.float32)


def _contrast(light, size):
    """How far each pixel of light (ink high) rises above the paper round it: light minus its
    opening through a size x size window, the paper level with every light feature narrower than
    the window taken away. An opening follows the paper through gradients and across a shadow's
    edge, and leaves a desk round the page alone when the desk is wider than the window."""
    return light - _filtered(_filtered(light, size, np.minimum), size, np.maximum)


def _reading(light):
    """(window, threshold, light, areas) for light (ink high): the window for _contrast, the first
    of WINDOWS past which the ink found stops growing, which it does once the window is wider than
    the strokes, widened by WIDEN; the contrast above which a pixel is ink; and the number of
    pixels found to be ink through each window tried, by window."""
    sizes = [size for size in WINDOWS if size <= max(3, min(light.shape))]
    contrasts = [_contrast(light, size) for size in sizes]
    threshold = _threshold(contrasts[-1])
    areas = [np.count_nonzero(contrast > threshold) for contrast in contrasts]
    by_size = dict(zip(sizes, areas))
    for i, area in enumerate(areas):
        if area >= max(MIN_INK_PIXELS, STROKES * light.size) and area >= PLATEAU * max(areas[i : i + LOOK_AHEAD + 1]):
            return sizes[min(i + WIDEN, len(sizes) - 1)], threshold, light, by_size
    return sizes[-1], threshold, light, by_size


def _threshold(contrast):
    """The contrast above which a pixel of contrast (ink high, paper near 0) is ink: far above the
    paper's noise, and a fair part of the strong ink."""
    strong = np.percentile(contrast, 99.9)
    paper = contrast[contrast < INK_FRACTION * strong]  # not the ink, even where ink covers most of the image
    return max(NOISE_MARGIN * (np.median(paper) if paper.size else 0), INK_FRACTION * strong)


def _digit(ink):
    """ink (a 2-D bool mask) without lone pixels and specks far from the digit."""
    # A pixel of a stroke has two inked neighbours or more, even on a one-pixel line; noise alone rarely has.
    padded = np.pad(ink, 1)
    height, width = ink.shape
    inked = sum(padded[i : i + height, j : j + width].astype(np.int8) for i in range(3) for j in range(3))
    ink = ink & (inked >= 3)
    if np.count_nonzero(ink) < MIN_INK_PIXELS:
        return ink
    # The box round all but the outermost OUTLIERS of the ink, widened by MARGIN of its size.
    box = [np.percentile(where, [OUTLIERS, 100 - OUTLIERS]) for where in np.nonzero(ink)]
    margin = MARGIN * max(high - low for low, high in box)
    rows, columns = (np.arange(side)[:, None] for side in ink.shape)
    keep = [(low - margin <= where) & (where <= high + margin) for (low, high), where in zip(box, (rows, columns))]
    return ink & keep[0] & keep[1].T


def _normalised(ink):
    """MNIST's normalisation of ink (height, width), of which some is above 0: the (784,) float32 field."""
    inked_rows = np.flatnonzero(ink.any(axis=1))
    inked_columns = np.flatnonzero(ink.any(axis=0))
    digit = ink[inked_rows[0] : inked_rows[-1] + 1, inked_columns[0] : inked_columns[-1] + 1]
    digit = _resized(digit, DETAIL * BOX)
    width = _pen_width(digit > 0.5)
    pen = PEN * DETAIL * BOX
    if width < pen:  # a thinner pen than MNIST's: thicken the strokes, which also joins broken ones
        digit = _filtered(digit, 2 * round((pen - width) / 2) + 1, np.maximum)
    digit = np.maximum(_resized(digit, BOX), 0)
    rows, columns = np.indices(digit.shape)
    total = digit.sum()
    # Whole-pixel shifts that bring the centre of mass to CENTRE, as far as the field allows.
    top = min(max(round(CENTRE - (digit * rows).sum() / total), 0), FIELD - digit.shape[0])
    left = min(max(round(CENTRE - (digit * columns).sum() / total), 0), FIELD - digit.shape[1])
    field = np.zeros((FIELD, FIELD), np.float32)
    field[top : top + digit.shape[0], left : left + digit.shape[1]] = digit / digit.max()
    return field.reshape(-1)


def _resized(image, box):
    """image (float32 2-D) scaled with anti-aliasing to fit a box x box square, keeping its aspect ratio."""
    scale = box / max(image.shape)
    height, width = (max(1, round(side * scale)) for side in image.shape)
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


def _pen_width(strokes):
    """The width in pixels of the strokes in strokes (a 2-D bool mask): twice their area over
    their outline, the pixels with a neighbour outside them."""
    outside = ~np.pad(strokes, 1)
    outline = strokes & (outside[:-2, 1:-1] | outside[2:, 1:-1] | outside[1:-1, :-2] | outside[1:-1, 2:])
    return 2 * np.count_nonzero(strokes) / max(np.count_nonzero(outline), 1)
