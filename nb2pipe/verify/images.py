"""Compare image outputs by their pixels: same size, and a small mean absolute difference.

The mean absolute difference is taken over the whole image, as PRODUCT.md §4 states, and also
over every 32×32 tile. The whole-image mean alone lets a changed plot pass: a sine curve
redrawn as a cosine changes 0.7% of a 640×480 figure's range and a new digit in a title
0.01%, both under the 1% meant for anti-aliasing noise. Renderer noise is thin and spread
out, so no tile's mean gets near the tolerance from it; a changed line, bar or label
concentrates its difference in the tiles it crosses.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

__all__ = ["DEFAULT_IMAGE_TOLERANCE", "ImageComparison", "compare_images"]

#: Largest mean absolute pixel difference, as a fraction of the value range (0–255), that
#: still counts as the same image: anti-aliasing and font hinting differ by far less.
DEFAULT_IMAGE_TOLERANCE = 0.01
#: Side of the square tiles whose mean difference is checked too.
TILE = 32


@dataclass(frozen=True)
class ImageComparison:
    equal: bool
    message: str  #: one line: sizes, or the mean difference found


def _decode(data: str) -> bytes:
    return base64.b64decode("".join(data.split()), validate=False)


def compare_images(
    saved: str, fresh: str, tolerance: float = DEFAULT_IMAGE_TOLERANCE
) -> ImageComparison:
    """Compare two base64-encoded images (PNG, JPEG, GIF, ...) pixel by pixel."""
    if "".join(saved.split()) == "".join(fresh.split()):
        return ImageComparison(True, "identical bytes")
    from PIL import Image, ImageChops, ImageStat, UnidentifiedImageError

    try:
        with (
            Image.open(io.BytesIO(_decode(saved))) as left_file,
            Image.open(io.BytesIO(_decode(fresh))) as right_file,
        ):
            left, right = left_file.convert("RGBA"), right_file.convert("RGBA")
    except (UnidentifiedImageError, binascii.Error, OSError, ValueError) as exc:
        return ImageComparison(False, f"cannot decode an image ({exc}); the bytes differ")
    if left.size != right.size:
        return ImageComparison(
            False,
            f"image size differs: saved {left.size[0]}x{left.size[1]}, "
            f"fresh {right.size[0]}x{right.size[1]}",
        )
    difference = ImageChops.difference(left, right)
    bands = ImageStat.Stat(difference).mean
    mean = sum(bands) / len(bands) / 255
    # Image.reduce averages each TILE x TILE block (edge blocks over the pixels they have);
    # band by band, since on RGBA it would weigh colours by the (zero) alpha difference
    reduced = [band.reduce(TILE) for band in difference.split()]
    columns = reduced[0].size[0]
    tile_means = [
        sum(pixel) / len(pixel) / 255 for pixel in zip(*(band.tobytes() for band in reduced))
    ]
    worst = max(range(len(tile_means)), key=tile_means.__getitem__)
    worst_mean = tile_means[worst]
    x, y = (worst % columns) * TILE, (worst // columns) * TILE
    equal = mean <= tolerance and worst_mean <= tolerance
    verdict = "within" if equal else "above"
    message = (
        f"mean absolute pixel difference {mean:.2%} of the range, {worst_mean:.2%} in the "
        f"{TILE}x{TILE} tile at ({x}, {y}) ({verdict} the {tolerance:.2%} tolerance)"
    )
    return ImageComparison(equal, message)
