"""Pictures of the space editor with a realistic space (called by scripts/screenshots.py)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.engine.space import Space, space_from_dict
from app.views.space_editor.widget import SpaceEditor

SIZE = (1280, 640)

DEMO_SPACE = {"version": 1, "space": [
    {"name": "lr", "type": "number", "auto": True, "distribution": "loguniform",
     "min": 1e-5, "max": 0.1, "default": 1e-3},
    {"name": "batch_size", "type": "choice", "auto": True, "values": [16, 32, 64, 128],
     "default": 32},
    {"name": "epochs", "type": "number", "integer": True, "default": 30},
    {"name": "dropout", "type": "number", "auto": True, "distribution": "quniform",
     "min": 0.0, "max": 0.5, "step": 0.05, "default": 0.1},
    {"name": "activation", "type": "choice", "auto": True, "values": ["relu", "gelu", "tanh"],
     "default": "relu"},
    {"name": "use_bn", "type": "boolean", "auto": True, "default": True},
    {"name": "tag", "type": "string", "default": "baseline"},
    {"name": "first_dense", "type": "group", "children": [
        {"name": "neurons", "type": "number", "integer": True, "auto": True,
         "distribution": "quniform", "min": 32, "max": 512, "step": 32, "default": 128},
        {"name": "init_scale", "type": "number", "auto": True, "distribution": "lognormal",
         "mu": 0.0, "sigma": 0.5, "default": 1.0},
    ]},
    {"name": "optimizer", "type": "choice", "auto": True, "default": "adam", "values": [
        {"name": "sgd", "type": "group", "children": [
            {"name": "momentum", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.5, "max": 0.99, "default": 0.9},
            {"name": "nesterov", "type": "boolean", "auto": True, "default": False},
        ]},
        {"name": "adam", "type": "group", "children": [
            {"name": "beta1", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.8, "max": 0.95, "default": 0.9},
            {"name": "eps", "type": "number", "default": 1e-8},
        ]},
    ]},
]}


def demo_space() -> Space:
    """The space the screenshots show: every kind of node, a choice of groups, nesting."""
    return space_from_dict(DEMO_SPACE)


def render_screenshots(out_dir: Path) -> list[Path]:
    """Render the editor valid (with its preview) and with one invalid edit; returns the PNGs.

    Needs a QApplication (offscreen or Xvfb).
    """
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("render_screenshots needs a QApplication")
    out_dir.mkdir(parents=True, exist_ok=True)
    editor = SpaceEditor()
    editor.resize(*SIZE)
    editor.set_space(demo_space())
    editor.show()
    editor.refresh_preview()
    editor.select("optimizer.adam.beta1")
    editor.grab()  # painted: the preview samples in the next turn (not before a paint)
    deadline = time.monotonic() + 60
    while editor.preview.message.text() == "Sampling…" and time.monotonic() < deadline:
        app.processEvents()
    written = [out_dir / "space-editor.png", out_dir / "space-editor-invalid.png"]
    editor.grab().save(str(written[0]))
    index = editor.select("first_dense.neurons")
    editor.model.set_fields(index, min=1024)
    editor.select("tag")  # the selection would hide the red of the invalid row
    editor.refresh_preview()
    app.processEvents()
    editor.grab().save(str(written[1]))
    editor.close()
    return written
