"""Sweeplab's trial SDK: read the trial's parameters, report metrics and progress.

One file, standard library only, Python 3.8 or newer. Sweeplab puts its folder on
the ``PYTHONPATH`` of every trial, so ``import sweeplab`` works with nothing installed.

Reading parameters (dotted names, as shown in the space editor)::

    import sweeplab
    lr = sweeplab.param("optimizer.lr")          # KeyError listing the names if absent
    layers = sweeplab.param("layers", default=2)  # the default when absent or run by hand
    nested = sweeplab.params()                    # {"optimizer": {"_name": "adam", ...}}
    epochs = sweeplab.max_epochs(20)              # the experiment's limit, else 20

Four ways to report a metric; use whichever fits the script:

1. This module (one marked line on stdout per call, flushed)::

       sweeplab.report("val_acc", 0.93, step=3)
       sweeplab.progress(3, total=10)

2. The same line printed by hand, from any language::

       echo '#sweeplab {"metric": "val_acc", "value": 0.93, "step": 3}'
       echo '#sweeplab {"progress": 3, "total": 10}'

3. A plain log line that a regex set in the experiment reads, e.g. the regex
   ``val_acc=([0-9.eE+-]+)`` with step regex ``epoch=(\\d+)``::

       print(f"epoch={epoch} val_acc={acc:.4f}")

4. Auptimizer's result line, reported under the experiment's KPI name::

       print("#Auptimizer:0.93")

Checkpoints, for population-based training (``scheduler: pbt``) or any scheduler that
continues a trial from a saved state; a script that never checkpoints runs as before::

    start = sweeplab.start_step()                 # 0 on a fresh start
    if sweeplab.restore_dir() is not None:        # continue from a copied checkpoint
        state = load(sweeplab.restore_dir() / "state.npz")
    for step in range(start + 1, epochs + 1):
        ...
        save(sweeplab.checkpoint_dir() / "state.npz")
        sweeplab.checkpointed(step)               # published; may be copied from now on

From any language: save into ``$SWEEPLAB_CHECKPOINT_DIR``, move that folder to
``checkpoints/STEP`` beside it, then print the marked line::

    mv "$SWEEPLAB_CHECKPOINT_DIR" "$(dirname "$SWEEPLAB_CHECKPOINT_DIR")/checkpoints/12"
    echo '#sweeplab {"checkpoint": 12}'

``$SWEEPLAB_RESTORE_DIR`` is set (to a folder) only when there is a checkpoint to
continue from; ``$SWEEPLAB_START_STEP`` is the step it holds (0 on a fresh start).

Nothing here crashes a script over a metric: NaN, inf and numbers too big for a float
are reported (as NaN or Infinity); a value that is no number at all, or a bad step,
is skipped with a warning on stderr.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import operator
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = [
    "NotATrialError",
    "ParamError",
    "ParamsFileError",
    "checkpoint_dir",
    "checkpointed",
    "max_epochs",
    "param",
    "params",
    "progress",
    "report",
    "restore_dir",
    "start_step",
    "trial_dir",
    "trial_id",
]

MARKER = "#sweeplab "
ENV_PARAMS = "SWEEPLAB_PARAMS"
ENV_TRIAL_ID = "SWEEPLAB_TRIAL_ID"
ENV_TRIAL_DIR = "SWEEPLAB_TRIAL_DIR"
ENV_MAX_EPOCHS = "SWEEPLAB_MAX_EPOCHS"
ENV_CHECKPOINT_DIR = "SWEEPLAB_CHECKPOINT_DIR"
ENV_RESTORE_DIR = "SWEEPLAB_RESTORE_DIR"
ENV_START_STEP = "SWEEPLAB_START_STEP"
CHECKPOINT_DIR = "checkpoint"
"""The folder a checkpoint is saved into (outside Sweeplab: in the working directory)."""
PUBLISHED_DIR = "checkpoints"
"""Beside the checkpoint folder: one folder per published checkpoint, named by its step."""
KEEP_CHECKPOINTS = 3
"""Published checkpoints kept whatever their age; older ones are removed by
:func:`checkpointed` once :data:`KEEP_SECONDS` old (another trial may be copying one)."""
KEEP_SECONDS = 300.0
MAX_NAME_CHARS = 200
MAX_STEP = 2**63 - 1

_MISSING: Any = object()
_load_lock = threading.Lock()
_write_lock = threading.Lock()
_loaded: tuple[str, dict[str, Any], dict[str, Any]] | None = None  # path, nested, dotted


class ParamError(KeyError):
    """A parameter that is not there; the message lists the names that are."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotATrialError(ParamError):
    """``SWEEPLAB_PARAMS`` is not set (the script runs by hand) and no default was given."""


class ParamsFileError(RuntimeError):
    """``SWEEPLAB_PARAMS`` names a file that cannot be read as a Sweeplab params.json."""


def param(name: str, default: Any = _MISSING) -> Any:
    """One parameter's value by its dotted name.

    Args:
        name: Dotted name, e.g. ``"optimizer.lr"``; a choice's own name gives the
            chosen branch (``param("optimizer") == "adam"``).
        default: Returned when the parameter is absent, or when the script runs
            outside Sweeplab.

    Raises:
        ParamError: No such parameter and no default (the message lists the names).
        NotATrialError: Not running as a trial and no default.
        ParamsFileError: ``SWEEPLAB_PARAMS`` is set but the file cannot be read.
    """
    loaded = _load()
    if loaded is None:
        if default is not _MISSING:
            return default
        raise NotATrialError(
            f"sweeplab.param({name!r}): {ENV_PARAMS} is not set, so this script is not "
            f"running as a Sweeplab trial; give a default to run it by hand: "
            f"sweeplab.param({name!r}, default=...)"
        )
    dotted = loaded[2]
    if name in dotted:
        return copy.deepcopy(dotted[name])
    if default is not _MISSING:
        return default
    close = difflib.get_close_matches(str(name), [str(key) for key in dotted], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    available = ", ".join(sorted(str(key) for key in dotted)) or "(none)"
    raise ParamError(
        f"sweeplab.param({name!r}): no parameter named {name!r}{hint}; "
        f"available: {available} (from {loaded[0]})"
    )


def params() -> dict[str, Any]:
    """All parameters in nested form (a copy); ``{}`` when not running as a trial.

    Raises:
        ParamsFileError: ``SWEEPLAB_PARAMS`` is set but the file cannot be read.
    """
    loaded = _load()
    return {} if loaded is None else copy.deepcopy(loaded[1])


def report(name: str, value: Any, step: Any = None) -> None:
    """Print one metric value as a marked line on stdout and flush; never raises.

    Args:
        name: Metric name, e.g. ``"val_acc"`` (1 to 200 characters).
        value: Anything ``float()`` accepts: int, float, numpy or torch scalars.
            NaN and inf are reported; integers too big for a float become ±inf.
        step: Optional whole number >= 0 (epoch, iteration); a bad step is dropped
            with a warning and the value is still reported.
    """
    try:
        text = str(name)
        if not text.strip() or len(text) > MAX_NAME_CHARS:
            raise ValueError(f"a metric name needs 1 to {MAX_NAME_CHARS} characters")
        number = _to_float(value)
    except Exception as error:  # never crash the user's script over a metric
        _warn(f"report({_short(name)}, {_short(value)}) not reported: {error}")
        return
    document: dict[str, Any] = {"metric": text, "value": number}
    if step is not None:
        try:
            document["step"] = _to_step(step)
        except Exception as error:
            _warn(f"report({_short(name)}, ..., step={_short(step)}): step dropped: {error}")
    _emit(document)


def progress(step: Any, total: Any = None) -> None:
    """Print how far the trial has come (``step`` of ``total``) and flush; never raises.

    Args:
        step: Whole number >= 0, e.g. the epoch just finished.
        total: Optional whole number >= 1, e.g. the number of epochs.
    """
    try:
        document: dict[str, Any] = {"progress": _to_step(step)}
    except Exception as error:
        _warn(f"progress({_short(step)}) not reported: {error}")
        return
    if total is not None:
        try:
            document["total"] = _to_step(total, minimum=1)
        except Exception as error:
            _warn(f"progress(..., total={_short(total)}): total dropped: {error}")
    _emit(document)


def trial_id() -> int | None:
    """This trial's id, or None when not running as a Sweeplab trial."""
    return _env_int(ENV_TRIAL_ID)


def trial_dir() -> Path | None:
    """This trial's directory (where ``params.json`` and ``output.log`` live), or None."""
    text = os.environ.get(ENV_TRIAL_DIR)
    return Path(text) if text else None


def max_epochs(default: int | None = None) -> int | None:
    """The experiment's epoch limit for a trial, or ``default`` when none is set."""
    value = _env_int(ENV_MAX_EPOCHS)
    return default if value is None else value


def checkpoint_dir() -> Path:
    """The folder to save a checkpoint into, created: ``$SWEEPLAB_CHECKPOINT_DIR``, or
    ``./checkpoint`` when not running as a trial. Call :func:`checkpointed` once the
    checkpoint is complete; the next one is saved into an empty folder again."""
    path = Path(os.environ.get(ENV_CHECKPOINT_DIR) or CHECKPOINT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def restore_dir() -> Path | None:
    """The checkpoint to continue from (a folder saved by this or another trial and
    copied here), or None on a fresh start."""
    text = os.environ.get(ENV_RESTORE_DIR)
    if not text:
        return None
    path = Path(text)
    return path if path.is_dir() else None


def start_step() -> int:
    """The step the trial continues from (the one :func:`restore_dir` holds); 0 fresh."""
    value = _env_int(ENV_START_STEP)
    return value if value is not None and value >= 0 else 0


def checkpointed(step: Any) -> None:
    """Say that :func:`checkpoint_dir` now holds the checkpoint of ``step``: the folder
    is published as ``checkpoints/<step>`` beside it (one rename, so a reader never
    sees half a checkpoint), the oldest published beyond :data:`KEEP_CHECKPOINTS` are
    removed once :data:`KEEP_SECONDS` old, and a marked line tells Sweeplab. Never
    raises: a failure is a warning on stderr and no line is printed.

    Args:
        step: Whole number >= 0, the step (epoch) the checkpoint was taken after.
    """
    try:
        number = _to_step(step)
        source = checkpoint_dir()
        published = source.parent / PUBLISHED_DIR
        published.mkdir(parents=True, exist_ok=True)
        target = published / str(number)
        if target.exists():
            shutil.rmtree(target)
        os.replace(source, target)
        source.mkdir(parents=True, exist_ok=True)
        steps = sorted(int(p.name) for p in published.iterdir() if p.name.isdigit())
        now = time.time()
        for old in steps[:-KEEP_CHECKPOINTS]:
            folder = published / str(old)
            if now - folder.stat().st_mtime >= KEEP_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
    except Exception as error:  # never crash the user's script over a checkpoint
        _warn(f"checkpointed({_short(step)}) not published: {error}")
        return
    _emit({"checkpoint": number})


# --- internals ---------------------------------------------------------------------


def _load() -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """The params document named by SWEEPLAB_PARAMS, read once per path."""
    global _loaded
    path = os.environ.get(ENV_PARAMS)
    if not path:
        return None
    with _load_lock:
        if _loaded is None or _loaded[0] != path:
            _loaded = (path, *_read_document(path))
        return _loaded


def _read_document(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    where = f"{ENV_PARAMS}={path}"
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as error:
        raise ParamsFileError(f"{where}: cannot open the file: {error}") from None
    except ValueError as error:
        raise ParamsFileError(f"{where}: not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ParamsFileError(f"{where}: expected a JSON object, got {type(document).__name__}")
    nested, dotted = document.get("nested"), document.get("dotted")
    if not isinstance(nested, dict) or not isinstance(dotted, dict):
        raise ParamsFileError(f"{where}: expected objects under 'nested' and 'dotted'")
    return nested, dotted


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a metric value")
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _to_step(value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise TypeError("expected a whole number, got a boolean")
    try:
        number = operator.index(value)  # int, numpy integers
    except TypeError:
        as_float = float(value)
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise ValueError(f"expected a whole number, got {as_float!r}") from None
        number = int(as_float)
    if not minimum <= number <= MAX_STEP:
        raise ValueError(f"expected a whole number from {minimum} to {MAX_STEP}, got {number}")
    return number


def _env_int(variable: str) -> int | None:
    text = os.environ.get(variable, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        _warn(f"{variable}={text!r} is not a whole number; ignored")
        return None


def _emit(document: dict[str, Any]) -> None:
    line = MARKER + json.dumps(document, allow_nan=True) + "\n"
    with _write_lock:
        try:
            stream = sys.stdout
            if stream is not None:
                stream.write(line)
                stream.flush()
        except Exception:  # a closed or broken stdout must not end the training
            pass


def _warn(message: str) -> None:
    try:
        stream = sys.stderr
        if stream is not None:
            stream.write(f"sweeplab: {message}\n")
            stream.flush()
    except Exception:
        pass


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."
