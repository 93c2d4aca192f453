"""Rendered digit glyphs: an offline, labelled digit data set that several apps share (no download, no files).

Digits 0-9 are drawn with Pillow's built-in font under random rotation, shear, scale, shift and stroke width
(about 3 s for 12,000). The labels let an offline digit classifier score generated samples.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GLYPH_COUNT = 12_000
GLYPH_SIZE = 32
GLYPH_VERSION = 1  # bump when the rendering changes: cached classifiers are keyed by it

_CANVAS = 64  # glyphs are drawn at twice the size and box-filtered down, for smooth edges
_FONT_SIZE = 48
_STROKES = (0, 1, 2)


@functools.lru_cache(maxsize=None)
def _base_glyphs() -> dict[tuple[int, int], Image.Image]:
    """Each digit at each stroke width, centred on the canvas: the shapes the augmentation warps."""
    font = ImageFont.load_default(size=_FONT_SIZE)
    glyphs = {}
    for digit in range(10):
        for stroke in _STROKES:
            image = Image.new("L", (_CANVAS, _CANVAS), 0)
            ImageDraw.Draw(image).text((_CANVAS / 2, _CANVAS / 2), str(digit), fill=255, font=font, anchor="mm",
                                       stroke_width=stroke, stroke_fill=255)
            glyphs[digit, stroke] = image
    return glyphs


def _affine(rng: np.random.Generator) -> tuple[float, ...]:
    """Pillow's output-to-input affine map for a random rotation, shear, scale and shift about the centre."""
    angle = math.radians(rng.uniform(-15.0, 15.0))
    shear = rng.uniform(-0.25, 0.25)
    scale = rng.uniform(0.8, 1.15, size=2)
    shift = rng.uniform(-4.0, 4.0, size=2)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    forward = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(scale)
    inverse = np.linalg.inv(forward)
    centre = np.full(2, _CANVAS / 2)
    offset = centre - inverse @ (centre + shift)
    return (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])


@functools.lru_cache(maxsize=4)
def render_glyphs(count: int = GLYPH_COUNT, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` random digit images (uint8 `[count, 32, 32, 1]`, white on black) and their labels, cached.

    Labels cycle 0-9, so every class has the same share. The arrays are read-only: they are shared by callers.
    """
    rng = np.random.default_rng([GLYPH_VERSION, seed])
    base = _base_glyphs()
    labels = np.arange(count, dtype=np.int64) % 10
    images = np.empty((count, GLYPH_SIZE, GLYPH_SIZE, 1), np.uint8)
    for k, digit in enumerate(labels):
        glyph = base[int(digit), int(rng.choice(_STROKES))]
        warped = glyph.transform(glyph.size, Image.Transform.AFFINE, _affine(rng), resample=Image.Resampling.BILINEAR)
        images[k, ..., 0] = np.asarray(warped.reduce(_CANVAS // GLYPH_SIZE))
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels
