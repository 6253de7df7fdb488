"""Writes the default pass images (run once; the PNGs are committed): stdlib only."""

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

Pixel = tuple[int, int, int, int]
HERE = Path(__file__).resolve().parent
INK = (31, 41, 55, 255)
AMBER = (245, 158, 11, 255)
CLEAR = (0, 0, 0, 0)


def png(width: int, height: int, paint: Callable[[float, float], Pixel]) -> bytes:
    """RGBA PNG; `paint` gets the pixel centre in 0..1 coordinates."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows.extend(paint((x + 0.5) / width, (y + 0.5) / height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def icon(x: float, y: float) -> Pixel:
    """A rounded ink square with an amber ticket notch."""
    inside = max(abs(x - 0.5), abs(y - 0.5)) < 0.46
    if not inside:
        return CLEAR
    if (x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.05:
        return AMBER
    return INK


def logo(x: float, y: float) -> Pixel:
    """An amber disc at the left; the pass's logoText carries the name."""
    aspect = 160 / 50
    if ((x * aspect - 0.5) ** 2 + (y - 0.5) ** 2) < 0.16:
        return AMBER
    return CLEAR


def strip(x: float, y: float) -> Pixel:
    """A soft diagonal band in amber over ink."""
    band = abs((x * 3 - y) % 1.0 - 0.5) < 0.08
    return AMBER if band else INK


def main() -> None:
    sizes = {
        "icon.png": (29, 29, icon),
        "icon@2x.png": (58, 58, icon),
        "icon@3x.png": (87, 87, icon),
        "logo.png": (160, 50, logo),
        "logo@2x.png": (320, 100, logo),
        "strip.png": (375, 123, strip),
        "strip@2x.png": (750, 246, strip),
    }
    for name, (width, height, paint) in sizes.items():
        (HERE / name).write_bytes(png(width, height, paint))


if __name__ == "__main__":
    main()
