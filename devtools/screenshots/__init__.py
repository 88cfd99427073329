"""Scenes for docs/screenshots/, one module per window (called by scripts/screenshots.py).

Each module has ``render_screenshots(out_dir) -> list[Path]``; each needs a running
``QApplication``.
"""
