"""Render ``resources/sweeplab.svg`` to the PNG, ICO and ICNS icons the installers use.

Run from the repository root: ``.venv/bin/python installers/make_icons.py``. Only Qt
(already a dependency) is needed: the PNGs come from Qt's SVG renderer, and the
Windows ``.ico`` and macOS ``.icns`` containers are written here around PNG images,
which both formats accept (Windows Vista and later, macOS 10.7 and later).
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SVG = RESOURCES / "sweeplab.svg"
PNG_SIZE = 256
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_TYPES = {b"icp4": 16, b"icp5": 32, b"icp6": 64, b"ic07": 128, b"ic08": 256,
              b"ic09": 512, b"ic10": 1024}
"""ICNS element type -> pixel size of the PNG it holds (ic10 is 512@2x)."""
_KEEP: list[object] = []


def render_png(svg: Path, size: int) -> bytes:
    """The SVG drawn on a transparent ``size`` x ``size`` canvas, as PNG bytes.

    Raises:
        ValueError: the SVG cannot be read or rendered.
    """
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _KEEP.append(QGuiApplication(sys.argv[:1]))  # lives until the process ends
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG for Qt's renderer")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # stub: bytes
        raise ValueError(f"{svg}: could not encode the {size} px rendering as PNG")
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows icon holding each PNG (size -> bytes) as one image."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    entries = b""
    offset = len(header) + 16 * len(pngs)
    images = b""
    for size, data in sorted(pngs.items()):
        side = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
        images += data
    return header + entries + images


def icns(pngs: dict[bytes, bytes]) -> bytes:
    """A macOS icon family holding each PNG (element type -> bytes)."""
    body = b"".join(kind + struct.pack(">I", 8 + len(data)) + data
                    for kind, data in pngs.items())
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    """Write sweeplab.png, sweeplab.ico and sweeplab.icns beside the SVG."""
    cache: dict[int, bytes] = {}

    def png(size: int) -> bytes:
        if size not in cache:
            cache[size] = render_png(SVG, size)
        return cache[size]

    (RESOURCES / "sweeplab.png").write_bytes(png(PNG_SIZE))
    (RESOURCES / "sweeplab.ico").write_bytes(ico({size: png(size) for size in ICO_SIZES}))
    (RESOURCES / "sweeplab.icns").write_bytes(
        icns({kind: png(size) for kind, size in ICNS_TYPES.items()}))
    for name in ("sweeplab.png", "sweeplab.ico", "sweeplab.icns"):
        print(f"wrote {RESOURCES / name} ({(RESOURCES / name).stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
