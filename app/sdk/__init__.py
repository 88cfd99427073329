"""The trial SDK, shipped as the single stdlib-only file ``sweeplab.py`` in this folder.

A trial imports it as a top-level module (``import sweeplab``), not as ``app.sdk``:
executors put :data:`SDK_DIR` on the trial's ``PYTHONPATH``, or copy :data:`SDK_FILE`
to a remote host and put its folder there.
"""

from __future__ import annotations

from pathlib import Path

SDK_DIR = Path(__file__).resolve().parent
SDK_FILE = SDK_DIR / "sweeplab.py"
