"""Digit images as learners make them, drawn here with numpy and Pillow: for test_predict.py and
benchmark_own_digits.py.

Each digit is a few strokes (lines and arcs, in a box 1 tall and about 0.6 wide, y down) drawn
with a round pen; KINDS puts it on the pages, canvases and files of the issue "Your own digit,
as learners really draw and photograph it". Everything comes from a numpy Generator, so a seed
gives the same image.
"""
import io

import numpy as np
from PIL import Image, ImageDraw, features


def arc(cx, cy, rx, ry, start, end, points=28):
    """Points along an ellipse's arc, from angle start to end in degrees (0 right, 90 down)."""
    angles = np.radians(np.linspace(start, end, points))
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles)))


STROKES = {
    0: [arc(0.3, 0.5, 0.27, 0.48, -90, 275)],
    1: [[(0.36, 0.0), (0.26, 1.0)]],
    2: [arc(0.3, 0.27, 0.25, 0.25, 195, 360) + [(0.5, 0.45), (0.05, 1.0), (0.6, 0.98)]],
    3: [arc(0.28, 0.26, 0.24, 0.24, 210, 450) + arc(0.28, 0.74, 0.27, 0.26, 270, 510)],
    4: [[(0.12, 0.0), (0.04, 0.6), (0.6, 0.6)], [(0.46, 0.22), (0.44, 1.0)]],
    5: [[(0.58, 0.0), (0.14, 0.0), (0.1, 0.46)] + arc(0.3, 0.7, 0.27, 0.28, 230, 490)],
    6: [[(0.5, 0.0), (0.2, 0.35)] + arc(0.31, 0.73, 0.25, 0.27, 200, 560)],
    7: [[(0.02, 0.03), (0.6, 0.03), (0.22, 1.0)]],
    8: [arc(0.3, 0.25, 0.21, 0.24, 90, 450), arc(0.3, 0.74, 0.26, 0.26, -90, 270)],
    9: [arc(0.3, 0.28, 0.26, 0.28, 0, 360), [(0.56, 0.28), (0.5, 1.0)]],
}
SUPERSAMPLE = 4  # strokes are drawn 4 times larger and reduced: anti-aliased like a scan


def draw(digit, height, pen, rng, variety=1.0):
    """The ink of digit (0-9) drawn height pixels tall with a round pen of pen pixels: float32 (h, w)
    in [0, 1], cropped to the ink. variety (0: the template exactly) scales the random slant,
    width and wobble of a hand."""
    slant = variety * rng.uniform(-0.1, 0.25)
    widen = 1 + variety * rng.uniform(-0.2, 0.2)
    scale = height * SUPERSAMPLE
    margin = int(pen * SUPERSAMPLE) + 2
    canvas = Image.new("L", (int(scale * (1.2 + abs(slant))) + 2 * margin, int(scale) + 2 * margin))
    pencil = ImageDraw.Draw(canvas)
    for stroke in STROKES[digit]:
        points = np.array(stroke)
        # A hand's wobble: a slow wave across each stroke, not a jitter at each point.
        points = points + variety * 0.03 * np.sin(points[:, ::-1] * rng.uniform(2, 6, 2) + rng.uniform(0, 6, 2))
        x = margin + scale * ((points[:, 0] - 0.3) * widen + 0.3 + slant * (1 - points[:, 1]) + max(0, -slant))
        y = margin + scale * points[:, 1]
        pencil.line(list(zip(x, y)), fill=255, width=max(1, round(pen * SUPERSAMPLE)), joint="curve")
        for end in (0, -1):  # round pen ends
            r = pen * SUPERSAMPLE / 2
            pencil.ellipse([x[end] - r, y[end] - r, x[end] + r, y[end] + r], fill=255)
    ink = np.asarray(canvas.reduce(SUPERSAMPLE), np.float32) / 255
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def placed(ink, shape, rng, top=None, left=None):
    """ink placed on a blank (0) field of shape, at random where top or left is None."""
    field = np.zeros(shape, np.float32)
    top = rng.integers(0, shape[0] - ink.shape[0] + 1) if top is None else top
    left = rng.integers(0, shape[1] - ink.shape[1] + 1) if left is None else left
    field[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return field


def gray_file(gray, fmt="PNG", mode="L", **options):
    """The bytes of gray (levels 0-255, (h, w) or (h, w, 3)) saved as fmt, converted to mode."""
    image = Image.fromarray(np.clip(np.round(gray), 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    # A palette of the image's own 16 colours, as paint programs save; convert("P") would dither.
    (image.quantize(16) if mode == "P" else image.convert(mode)).save(buffer, fmt, **options)
    return buffer.getvalue()


def paper(shape, rng, level=220, noise=6):
    """Photographed paper: level with fibres and Gaussian noise."""
    rows, columns = np.indices(shape)
    phase = rng.uniform(0, 6)
    fibres = 4 * np.sin(rows / 3 + phase + 2 * np.sin(columns / 9)) * np.cos(columns / 5)
    return level + fibres + rng.normal(0, noise, shape)


def photo(rng, digit, lighting=None, shape=(600, 800), ink_level=50):
    """A phone photo of a digit in pen on paper: gray (h, w); lighting(rows, columns) multiplies the light."""
    height = int(rng.uniform(0.35, 0.7) * shape[0])
    ink = placed(draw(digit, height, rng.uniform(0.04, 0.09) * height, rng), shape, rng)
    gray = paper(shape, rng) * (1 - ink) + ink_level * ink
    if lighting is not None:
        gray = gray * lighting(*np.indices(shape, dtype=np.float32))
    return gray


def shadow(rng, softness):
    """Lighting with a shadow across the page: a straight edge, blurred over softness pixels."""
    angle, depth = rng.uniform(0, np.pi), rng.uniform(0.45, 0.65)
    offset = rng.uniform(-150, 150)

    def lighting(rows, columns):
        distance = (columns - 400) * np.cos(angle) + (rows - 300) * np.sin(angle) - offset
        return 1 - (1 - depth) / (1 + np.exp(-distance / max(softness, 0.1)))

    return lighting


def gradient(rng):
    """Lighting falling from one side of the page to the other, to between half and three quarters."""
    angle, low = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 0.75)
    return lambda rows, columns: 1 - (1 - low) * (
        0.5 + ((columns - 400) * np.cos(angle) + (rows - 300) * np.sin(angle)) / 1000
    )


def on_desk(rng, digit):
    """The page photographed on a darker, wood-grained desk visible all round it: gray (600, 800)."""
    rows, columns = np.indices((600, 800))
    desk = rng.uniform(60, 140) + 15 * np.sin(rows / 7 + 3 * np.sin(columns / 60)) + rng.normal(0, 5, (600, 800))
    top, bottom = rng.integers(40, 150, 2)
    left, right = rng.integers(50, 200, 2)
    page = photo(rng, digit, shape=(600 - top - bottom, 800 - left - right))
    desk[top : 600 - bottom, left : 800 - right] = page
    return desk


def blotches(shape, rng, size):
    """Smooth random values of shape, about size pixels across, standard deviation about 1."""
    noise = rng.normal(0, 1, (shape[0] // size + 2, shape[1] // size + 2)).astype(np.float32)
    return np.asarray(Image.fromarray(noise).resize(shape[::-1], Image.Resampling.BICUBIC))


def broken(ink, rng, keep):
    """ink with gaps, as pencil on grainy paper leaves: about keep of it left, in blotches."""
    grain = blotches(ink.shape, rng, 3)
    return ink * (grain > np.quantile(grain, 1 - keep)) * rng.uniform(0.6, 1, ink.shape)


def pencil(rng, digit):
    """Thin grey pencil on paper, photographed: gray (600, 800)."""
    height = int(rng.uniform(0.4, 0.7) * 600)
    ink = placed(broken(draw(digit, height, rng.uniform(2, 4), rng), rng, rng.uniform(0.6, 0.85)), (600, 800), rng)
    return paper((600, 800), rng, noise=4) * (1 - ink * rng.uniform(0.3, 0.5))


def ruled(rng, digit, grid):
    """Blue pen on lined (or grid) paper: RGB (600, 800, 3)."""
    rows, columns = np.indices((600, 800))
    spacing = rng.integers(22, 36)
    line = (rows % spacing < 2) | ((columns % spacing < 2) if grid else (np.abs(columns - 90) < 2))
    colour = np.array([170, 200, 235] if not grid else [175, 215, 190], np.float32)
    page = np.repeat(paper((600, 800), rng, level=240, noise=4)[..., None], 3, axis=2)
    page = np.where(line[..., None], page * colour / 240, page)
    height = int(rng.uniform(0.35, 0.6) * 600)
    ink = placed(draw(digit, height, rng.uniform(4, 8), rng), (600, 800), rng)[..., None]
    return page * (1 - ink) + np.array([25, 45, 150]) * ink


def chalk(rng, digit):
    """Chalk on a green-grey board: light ink on dark, grainy, with smudges: gray (600, 800)."""
    board = rng.uniform(35, 70) + rng.normal(0, 8, (600, 800))
    smudge = 10 * blotches((600, 800), rng, 40)
    height = int(rng.uniform(0.4, 0.7) * 600)
    ink = placed(draw(digit, height, rng.uniform(0.06, 0.1) * height, rng), (600, 800), rng)
    ink = ink * rng.uniform(0.55, 1, ink.shape)
    return board + smudge + (rng.uniform(180, 230) - board) * ink


def canvas(rng, digit, side, aliased):
    """Drawn in a paint program on a side x side canvas, large: black on white, gray (side, side)."""
    height = int(rng.uniform(0.7, 0.95) * side)
    ink = draw(digit, height, max(1.0, rng.uniform(0.08, 0.14) * height), rng)
    ink = ink[: side, : side]
    ink = placed(ink, (side, side), rng)
    if aliased:
        ink = (ink > 0.5).astype(np.float32)
    return 255 * (1 - ink)


def tight_crop(rng, digit):
    """Cropped close to the ink, cutting into the strokes at the edges: gray."""
    height = int(rng.integers(60, 300))
    ink = draw(digit, height, rng.uniform(0.07, 0.14) * height, rng)
    cut = rng.integers(0, 3, 4) * max(1, height // 60)
    ink = ink[cut[0] : ink.shape[0] - cut[1], cut[2] : ink.shape[1] - cut[3]]
    return 255 * (1 - ink)


def white_page(rng, digit, shape=(300, 400)):
    """A clean drawing, black on white: gray (300, 400)."""
    height = int(rng.uniform(0.5, 0.85) * shape[0])
    return 255 * (1 - placed(draw(digit, height, rng.uniform(0.07, 0.12) * height, rng), shape, rng))


def exif_rotated(gray, fmt, rng):
    """gray stored on its side or upside down, as phones store photos, with the EXIF tag that turns it upright."""
    orientation = int(rng.choice([3, 6, 8]))
    # The turn that exif_transpose undoes for each orientation.
    stored = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
    image = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).transpose(stored[orientation])
    exif = Image.Exif()
    exif[274] = orientation
    buffer = io.BytesIO()
    image.save(buffer, fmt, exif=exif)
    return buffer.getvalue()


def transparent(rng, digit):
    """Ink drawn on a transparent layer, the paper black and fully transparent: RGBA PNG bytes."""
    ink = 255 * placed(draw(digit, 200, rng.uniform(12, 24), rng), (260, 260), rng)
    rgba = np.zeros((260, 260, 4), np.uint8)
    rgba[..., 3] = np.round(ink)
    return gray_file(rgba, mode="RGBA")


def sixteen_bit(gray):
    buffer = io.BytesIO()
    Image.fromarray((np.clip(gray, 0, 255) * 257).astype(np.uint16)).save(buffer, "PNG")
    return buffer.getvalue()


def rgb(gray):
    """gray, as a blue-black pen on slightly warm paper: (h, w, 3)."""
    return np.stack([gray, gray * 0.98, gray * 0.92 + 20 * (gray < 128)], axis=-1)


# Each kind: (file suffix, a function of (rng, digit) giving the file's bytes).
KINDS = {
    "tight crop": (".png", lambda rng, d: gray_file(tight_crop(rng, d))),
    "28x28 canvas": (".png", lambda rng, d: gray_file(canvas(rng, d, 28, aliased=True))),
    "64x64 canvas": (".png", lambda rng, d: gray_file(canvas(rng, d, 64, aliased=True))),
    "280x280 canvas": (".png", lambda rng, d: gray_file(canvas(rng, d, 280, aliased=False))),
    "hard shadow photo": (".jpg", lambda rng, d: gray_file(rgb(photo(rng, d, shadow(rng, 1))), "JPEG", "RGB")),
    "soft shadow photo": (".jpg", lambda rng, d: gray_file(rgb(photo(rng, d, shadow(rng, 60))), "JPEG", "RGB")),
    "gradient photo": (".jpg", lambda rng, d: gray_file(rgb(photo(rng, d, gradient(rng))), "JPEG", "RGB")),
    "page on a desk": (".jpg", lambda rng, d: gray_file(rgb(on_desk(rng, d)), "JPEG", "RGB")),
    "pencil": (".jpg", lambda rng, d: gray_file(pencil(rng, d), "JPEG")),
    "blue pen, lined paper": (".jpg", lambda rng, d: gray_file(ruled(rng, d, grid=False), "JPEG", "RGB")),
    "pen, grid paper": (".jpg", lambda rng, d: gray_file(ruled(rng, d, grid=True), "JPEG", "RGB")),
    "chalk on a board": (".jpg", lambda rng, d: gray_file(chalk(rng, d), "JPEG")),
    "1-pixel strokes, 1000x1000": (
        ".png", lambda rng, d: gray_file(255 * (1 - placed(draw(d, int(rng.integers(500, 900)), 1, rng), (1000, 1000), rng)))
    ),
    "light-on-dark screenshot": (".png", lambda rng, d: gray_file(255 - white_page(rng, d), mode="RGB")),
    "EXIF-rotated JPEG": (".jpg", lambda rng, d: exif_rotated(rgb(photo(rng, d))[..., 0], "JPEG", rng)),
    "EXIF-rotated PNG": (".png", lambda rng, d: exif_rotated(white_page(rng, d), "PNG", rng)),
    "1-bit BMP": (".bmp", lambda rng, d: gray_file(white_page(rng, d), "BMP", "1")),
    "TIFF": (".tif", lambda rng, d: gray_file(rgb(white_page(rng, d)), "TIFF", "RGB", compression="tiff_lzw")),
    "WebP": (".webp", lambda rng, d: gray_file(rgb(photo(rng, d)), "WEBP", "RGB", quality=80)),
    "16-bit PNG": (".png", lambda rng, d: sixteen_bit(white_page(rng, d))),
    "palette PNG": (".png", lambda rng, d: gray_file(rgb(white_page(rng, d)), mode="P")),
    "transparent PNG": (".png", transparent),
    "CMYK JPEG": (".jpg", lambda rng, d: gray_file(rgb(photo(rng, d)), "JPEG", "CMYK")),
    "UCI-style 32x32 bitmap": (".png", lambda rng, d: gray_file(canvas(rng, d, 32, aliased=True), mode="1")),
}
if not features.check("webp"):  # a Pillow built without WebP
    del KINDS["WebP"]


def write_kind(directory, kind, digit, seed):
    """Write digit as kind into directory (a pathlib.Path), drawn from seed; return the file's path."""
    suffix, make = KINDS[kind]
    path = directory / f"{kind.replace(' ', '_').replace(',', '')}-{digit}-{seed}{suffix}"
    path.write_bytes(make(np.random.default_rng(seed), digit))
    return str(path)
