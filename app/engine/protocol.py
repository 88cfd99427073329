"""The trial protocol: how a trial reports metrics, and how its command is rendered.

A trial reports by printing lines. :class:`LineParser` reads one log line at a time
and recognises three forms (each line is read by exactly one of them):

* the marked line, from the SDK or printed by hand in any language::

    #sweeplab {"metric": "val_acc", "value": 0.93, "step": 3}
    #sweeplab {"progress": 3, "total": 10}
    #sweeplab {"checkpoint": 3}

  (the last: the checkpoint of step 3 is published, see :func:`published_checkpoint`);
* Auptimizer's result line ``#Auptimizer:0.93`` (extra comma-separated values are
  ignored), reported under the experiment's KPI name;
* user regexes over plain lines, SageMaker style (:meth:`MetricRegex.compile`).

The parser never raises. A marked line that cannot be read comes back as a
:class:`ProtocolWarning` for the runner to log; other unreadable lines are ignored.
Markers are found anywhere in a line: stdout and stderr share one log, and a progress
bar on stderr may leave a partial line in front.

:func:`render_command` turns a command template into a shell command line, every
value quoted with :func:`shlex.quote`. ``ENV_*`` name the variables a trial receives;
the SDK (which may not import this package) repeats them, and a test keeps them equal.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MARKER = "#sweeplab "
AUPTIMIZER_MARKER = "#Auptimizer:"
PARAMS_FILE_PLACEHOLDER = "params_file"
AUP_PARAMS_PLACEHOLDER = "aup_params"
"""The path of ``auptimizer.json``: the dotted params as top-level keys, for Auptimizer's
``BasicConfig().load(sys.argv[1])``."""
PYTHON_PLACEHOLDER = "python"
"""``{python}``: the host's Python (this app's interpreter locally, a profile's over SSH)."""

ENV_PARAMS = "SWEEPLAB_PARAMS"
ENV_TRIAL_ID = "SWEEPLAB_TRIAL_ID"
ENV_TRIAL_DIR = "SWEEPLAB_TRIAL_DIR"
ENV_MAX_EPOCHS = "SWEEPLAB_MAX_EPOCHS"
ENV_CHECKPOINT_DIR = "SWEEPLAB_CHECKPOINT_DIR"
ENV_RESTORE_DIR = "SWEEPLAB_RESTORE_DIR"
ENV_START_STEP = "SWEEPLAB_START_STEP"
CHECKPOINT_DIR = "checkpoint"
"""In a trial's folder: where it saves a checkpoint (``SWEEPLAB_CHECKPOINT_DIR``)."""
PUBLISHED_DIR = "checkpoints"
"""In a trial's folder: its published checkpoints, one folder per step."""
RESTORE_DIR = "restore"
"""In a trial's folder: the checkpoint copied in to continue from (``SWEEPLAB_RESTORE_DIR``)."""

MAX_LINE_CHARS = 65_536
"""Longer lines are not read (a marked one gives a warning): bounds regex time."""
MAX_NAME_CHARS = 200
MAX_STEP = 2**63 - 1  # steps are stored as 64-bit integers

_SNIPPET_CHARS = 80
_NON_FINITE_WORDS = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
                     "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf}
_DECODER = json.JSONDecoder(parse_int=lambda text: int(text) if len(text) < 300 else float(text))


@dataclass(frozen=True)
class MetricReport:
    """One metric value. ``value`` may be NaN or ±inf; ``step`` is an int >= 0 or None."""

    name: str
    value: float
    step: int | None = None


@dataclass(frozen=True)
class ProgressReport:
    """How far a trial has come: ``step`` of ``total`` (``total`` may be unknown)."""

    step: int
    total: int | None = None


@dataclass(frozen=True)
class CheckpointReport:
    """The trial published the checkpoint of ``step`` (see :func:`published_checkpoint`)."""

    step: int


@dataclass(frozen=True)
class ProtocolWarning:
    """A line that carries a marker but could not be read; ``message`` quotes it."""

    message: str


Report = MetricReport | ProgressReport | CheckpointReport | ProtocolWarning


def published_checkpoint(trial_dir: str, step: int) -> str:
    """Where a trial whose folder is ``trial_dir`` (a POSIX path on its host) keeps the
    checkpoint it published for ``step`` (the SDK's ``checkpointed`` renames its
    ``checkpoint`` folder there)."""
    return f"{trial_dir.rstrip('/')}/{PUBLISHED_DIR}/{step}"


class _BadReport(Exception):
    """Internal: why a marked line could not be read."""


@dataclass(frozen=True)
class MetricRegex:
    """A user regex finding one metric in plain log lines; build it with :meth:`compile`.

    Group 1 of ``pattern`` is the value; group 1 of ``step_pattern`` is the step of
    the metrics found on the same line.
    """

    name: str
    pattern: re.Pattern[str]
    step_pattern: re.Pattern[str] | None = None

    @classmethod
    def compile(cls, name: str, regex: str, step_regex: str | None = None) -> MetricRegex:
        """Validate and compile a metric regex.

        Args:
            name: The metric's name, e.g. ``"val_acc"``.
            regex: A regex with exactly one capture group, the value.
            step_regex: Optional regex with exactly one capture group, the step.

        Raises:
            ValueError: Bad name, or a regex that does not compile or has other than
                one capture group; the message names the metric.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"metric regex: the name must be a non-empty string, got {name!r}")
        if len(name) > MAX_NAME_CHARS:
            raise ValueError(f"metric regex {name[:40]!r}...: name longer than {MAX_NAME_CHARS}")
        pattern = _compile_one(name, "regex", regex)
        step = None if step_regex is None else _compile_one(name, "step regex", step_regex)
        return cls(name, pattern, step)


def _compile_one(name: str, what: str, regex: str) -> re.Pattern[str]:
    if not isinstance(regex, str) or not regex:
        raise ValueError(f"metric {name!r}: the {what} must be a non-empty string, "
                         f"got {_short_repr(regex)}")
    shown = _short_repr(regex)
    try:
        pattern = re.compile(regex)
    except (re.error, RecursionError, OverflowError) as error:
        raise ValueError(f"metric {name!r}: {what} {shown} does not compile: {error}") from None
    if pattern.groups != 1:
        raise ValueError(
            f"metric {name!r}: {what} {shown} must have exactly one capture group "
            f"(the value), it has {pattern.groups}; use (?:...) for other groups"
        )
    return pattern


class LineParser:
    """Reads metric and progress reports from trial log lines.

    Stateless after construction and safe to share between threads.

    Args:
        kpi_name: The experiment's KPI name; Auptimizer result lines report under it.
        regexes: User regexes tried, in order, on lines that carry no marker.

    Raises:
        ValueError: ``kpi_name`` is empty.
    """

    def __init__(self, kpi_name: str, regexes: Sequence[MetricRegex] = ()) -> None:
        if not isinstance(kpi_name, str) or not kpi_name.strip():
            raise ValueError(f"LineParser: kpi_name must be a non-empty string, got {kpi_name!r}")
        self._kpi_name = kpi_name
        self._regexes = tuple(regexes)

    def parse(self, line: str) -> list[Report]:
        """All reports on one log line (with or without its line ending); never raises.

        Returns:
            The reports found, in order; an empty list for an ordinary line; a single
            :class:`ProtocolWarning` for a marked line that could not be read.
        """
        try:
            return self._parse(line)
        except Exception as error:  # the contract is "never raises"
            return [ProtocolWarning(f"could not read {_snippet(str(line))}: {error!r}")]

    def _parse(self, line: str) -> list[Report]:
        if not isinstance(line, str):
            return []
        if len(line) > MAX_LINE_CHARS:
            if MARKER not in line[:1024] and AUPTIMIZER_MARKER not in line[:1024]:
                return []
            reason = f"line too long ({len(line)} characters)"
            return [ProtocolWarning(f"could not read {_snippet(line)}: {reason}")]
        at = line.find(MARKER)
        if at >= 0:
            return [_read_marked(line, at + len(MARKER))]
        at = line.find(AUPTIMIZER_MARKER)
        if at >= 0:
            return [self._read_auptimizer(line, at + len(AUPTIMIZER_MARKER))]
        return self._read_regexes(line)

    def _read_auptimizer(self, line: str, start: int) -> Report:
        first = line[start:].split(",", 1)[0].strip()
        try:
            value = _float_from_text(first)
        except ValueError:
            return ProtocolWarning(f"could not read {_snippet(line)}: {_snippet(first)} "
                                   "is not a number")
        return MetricReport(self._kpi_name, value, None)

    def _read_regexes(self, line: str) -> list[Report]:
        found: list[Report] = []
        for regex in self._regexes:
            match = regex.pattern.search(line)
            if match is None or match.group(1) is None:
                continue
            try:
                value = _float_from_text(match.group(1))
            except ValueError:
                continue
            step = None
            if regex.step_pattern is not None:
                step_match = regex.step_pattern.search(line)
                if step_match is not None and step_match.group(1) is not None:
                    step = _step_from_text(step_match.group(1))
            found.append(MetricReport(regex.name, value, step))
        return found


def _read_marked(line: str, start: int) -> Report:
    text = line[start:].strip()
    try:
        document, _ = _DECODER.raw_decode(text)
        return _report_from_document(document)
    except (ValueError, _BadReport, RecursionError) as error:
        reason = str(error) if isinstance(error, _BadReport) else f"not valid JSON ({error})"
        return ProtocolWarning(f"could not read {_snippet(line)}: {reason}")


def _report_from_document(document: Any) -> Report:
    if not isinstance(document, dict):
        raise _BadReport(f"expected a JSON object, got {type(document).__name__}")
    has_metric, has_progress = "metric" in document, "progress" in document
    has_checkpoint = "checkpoint" in document
    if has_metric + has_progress + has_checkpoint != 1:
        raise _BadReport("expected exactly one of the keys 'metric', 'progress' and "
                         "'checkpoint'")
    if has_checkpoint:
        return CheckpointReport(_step_value(document["checkpoint"], "checkpoint"))
    if has_progress:
        total = document.get("total")
        if total is not None and _step_value(total, "total") == 0:
            raise _BadReport("'total' must be at least 1")
        return ProgressReport(
            _step_value(document["progress"], "progress"),
            None if total is None else _step_value(total, "total"),
        )
    name = document["metric"]
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise _BadReport(f"'metric' must be a name of 1 to {MAX_NAME_CHARS} characters")
    if "value" not in document:
        raise _BadReport("'value' is missing")
    step = document.get("step")
    return MetricReport(
        name, _metric_value(document["value"]), None if step is None else _step_value(step, "step")
    )


def _metric_value(raw: Any) -> float:
    """A JSON value as a metric value; null (JavaScript's NaN) and 'nan'/'inf' words allowed."""
    if raw is None:
        return math.nan
    if isinstance(raw, bool):
        raise _BadReport("'value' must be a number, got a boolean")
    if isinstance(raw, int):
        try:
            return float(raw)
        except OverflowError:
            return math.inf if raw > 0 else -math.inf
    if isinstance(raw, float):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _NON_FINITE_WORDS:
        return _NON_FINITE_WORDS[raw.strip().lower()]
    raise _BadReport(f"'value' must be a number, got {type(raw).__name__}")


def _step_value(raw: Any, key: str) -> int:
    """A JSON value as a step: an int in [0, MAX_STEP]; integral floats accepted."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _BadReport(f"'{key}' must be a whole number >= 0, got {type(raw).__name__}")
    if isinstance(raw, float) and (not math.isfinite(raw) or not raw.is_integer()):
        raise _BadReport(f"'{key}' must be a whole number >= 0, got {raw!r}")
    step = int(raw)
    if not 0 <= step <= MAX_STEP:
        raise _BadReport(f"'{key}' must be between 0 and {MAX_STEP}, got {_short_repr(step)}")
    return step


def _float_from_text(text: str) -> float:
    """float() of a captured value (1e400 gives inf); bounded in length."""
    return float(text if len(text) <= 400 else "not a number")


def _step_from_text(text: str) -> int | None:
    try:
        return _step_value(int(text) if text.strip().isdigit() else float(text), "step")
    except (ValueError, _BadReport):
        return None


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SNIPPET_CHARS else text[:_SNIPPET_CHARS] + "..."


def _snippet(line: str) -> str:
    text = line.strip()
    return repr(text if len(text) <= _SNIPPET_CHARS else text[:_SNIPPET_CHARS] + "...")


# --- command rendering --------------------------------------------------------------


def unmarked(line: str) -> str:
    """What the script itself printed on ``line``: all of it but a marked report (from
    :data:`MARKER` to the end of the line), so ``"50%|###  #sweeplab {...}"`` keeps the
    progress bar in front and a line that is only a report leaves ``""``."""
    at = line.find(MARKER)
    return line if at < 0 else line[:at].rstrip()


def placeholders(template: str) -> list[str]:
    """The placeholder names in a command template, in first-use order, without repeats.

    Raises:
        ValueError: A brace is unmatched or a placeholder is empty; the message gives
            the position.
    """
    names: list[str] = []
    for token in _tokens(template):
        if isinstance(token, _Placeholder) and token.name not in names:
            names.append(token.name)
    return names


def render_command(template: str, dotted: Mapping[str, Any], params_file: str,
                   aup_params_file: str | None = None) -> str:
    """Substitute ``{dotted.name}``, ``{params_file}`` and ``{aup_params}``, shell-quoted.

    Values become text as: strings as they are; booleans ``true``/``false``; numbers
    by ``str`` (``0.001``, ``1e-05``); lists, dicts and None as compact JSON. Every
    value is then passed through :func:`shlex.quote`, so no value can run as shell
    code. ``{{`` and ``}}`` are literal braces; nothing else in the template changes.

    Args:
        template: The experiment's command, e.g. ``python train.py --lr {optimizer.lr}``.
        dotted: The trial's parameters in dotted form.
        params_file: Path of the trial's ``params.json`` (for ``{params_file}``).
        aup_params_file: Path of the trial's ``auptimizer.json`` (for ``{aup_params}``);
            None where there is none.

    Raises:
        ValueError: The template is malformed, names an unknown placeholder (the
            message lists the known names), or uses ``{params_file}`` or
            ``{aup_params}`` while a parameter has that name too.
    """
    files = {PARAMS_FILE_PLACEHOLDER: params_file}
    if aup_params_file is not None:
        files[AUP_PARAMS_PLACEHOLDER] = aup_params_file
    parts: list[str] = []
    for token in _tokens(template):
        if isinstance(token, str):
            parts.append(token)
            continue
        text = token.name
        if text in files:
            if text in dotted:
                raise ValueError(f"command template: {{{text}}} is also a parameter's name")
            parts.append(shlex.quote(str(files[text])))
        elif text in dotted:
            parts.append(shlex.quote(value_text(dotted[text])))
        else:
            known = sorted([*dotted, *files])
            close = difflib.get_close_matches(text, known, n=1)
            hint = f" (did you mean {{{close[0]}}}?)" if close else ""
            known_text = ", ".join(known)
            raise ValueError(f"command template: unknown placeholder {{{text}}}{hint}; "
                             f"known names: {known_text}")
    return "".join(parts)


def value_text(value: Any) -> str:
    """A parameter value as the text a command line receives (before quoting)."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar -> Python scalar
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if value is None or isinstance(value, Mapping | list | tuple):
        return json.dumps(value, separators=(",", ":"), default=_json_default)
    return str(value)


def _json_default(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


@dataclass(frozen=True)
class _Placeholder:
    name: str


_TEMPLATE_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def _tokens(template: str) -> list[str | _Placeholder]:
    """Split a template into literal text and placeholders."""
    if not isinstance(template, str):
        raise ValueError(f"command template must be a string, got {type(template).__name__}")
    tokens: list[str | _Placeholder] = []
    last = 0
    for match in _TEMPLATE_TOKEN.finditer(template):
        tokens.append(template[last : match.start()])
        last, token, name = match.end(), match.group(), match.group(1)
        if token in ("{{", "}}"):
            tokens.append(token[0])
        elif name is not None and name.strip():
            tokens.append(_Placeholder(name))
        elif name is not None:
            raise ValueError(f"command template: empty placeholder at position {match.start()}")
        else:
            raise ValueError(
                f"command template: unmatched {token!r} at position {match.start()}; "
                f"write {token * 2!r} for a literal brace"
            )
    tokens.append(template[last:])
    return tokens


def unsendable(text: str) -> str | None:
    """Why ``text`` cannot reach a trial's process as an argument or an environment
    value, or None when it can.

    ``execve`` takes NUL-terminated byte strings, so a NUL byte cannot be passed at
    all; and a lone surrogate (``"\\ud800"``, possible in a JSON file) has no UTF-8
    bytes. Every text that becomes part of a trial's command line or environment
    (the command, ``env`` names and values, string and choice values of the space)
    is checked with this one rule, before anything is stored.
    """
    if "\0" in text:
        return (f"holds a NUL byte (\\0) at position {text.index(chr(0))}: no process can "
                "receive it (arguments and environment values end at the first NUL)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"holds {text[exc.start]!r} at position {exc.start}, a lone surrogate "
                "with no UTF-8 bytes: no process can receive it")
    return None
