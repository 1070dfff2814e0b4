"""Compare image outputs by their pixels: same size, and a small mean absolute difference."""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

__all__ = ["ImageComparison", "compare_images", "DEFAULT_IMAGE_TOLERANCE"]

#: Largest mean absolute pixel difference, as a fraction of the value range (0–255), that
#: still counts as the same image: anti-aliasing and font hinting differ by far less.
DEFAULT_IMAGE_TOLERANCE = 0.01


@dataclass(frozen=True)
class ImageComparison:
    equal: bool
    message: str  #: one line: sizes, or the mean difference found


def _decode(data: str) -> bytes:
    return base64.b64decode("".join(data.split()), validate=False)


def compare_images(saved: str, fresh: str, tolerance: float = DEFAULT_IMAGE_TOLERANCE) -> ImageComparison:
    """Compare two base64-encoded images (PNG, JPEG, GIF, ...) pixel by pixel."""
    if "".join(saved.split()) == "".join(fresh.split()):
        return ImageComparison(True, "identical bytes")
    from PIL import Image, ImageChops, ImageStat, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(_decode(saved))) as left_file, Image.open(
            io.BytesIO(_decode(fresh))
        ) as right_file:
            left, right = left_file.convert("RGBA"), right_file.convert("RGBA")
    except (UnidentifiedImageError, binascii.Error, OSError, ValueError) as exc:
        return ImageComparison(False, f"cannot decode an image ({exc}); the bytes differ")
    if left.size != right.size:
        return ImageComparison(
            False, f"image size differs: saved {left.size[0]}x{left.size[1]}, "
            f"fresh {right.size[0]}x{right.size[1]}"
        )
    difference = ImageChops.difference(left, right)
    bands = ImageStat.Stat(difference).mean
    mean = sum(bands) / len(bands) / 255
    verdict = "within" if mean <= tolerance else "above"
    message = (
        f"mean absolute pixel difference {mean:.2%} of the range ({verdict} the "
        f"{tolerance:.2%} tolerance)"
    )
    return ImageComparison(mean <= tolerance, message)
