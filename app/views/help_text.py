"""The words of the Help menu and the guided setup: how a trial reports its metrics.

Plain text and HTML only (no widgets), so the reference, the wizard's snippets and
their tests share one source. The four ways follow :mod:`app.engine.protocol`:
the SDK, the marked ``#sweeplab {json}`` line printed by any language, user regexes
over plain log lines, and Auptimizer's ``#Auptimizer:<value>`` result line.
"""

from __future__ import annotations

import html
import json
import keyword
import shlex
from dataclasses import dataclass

from app.engine.protocol import AUPTIMIZER_MARKER, ENV_PARAMS, MARKER

_SNIPPET_NAMES = frozenset({"sweeplab", "lr", "epochs", "epoch", "train_one_epoch", "range"})
COPY_SCHEME = "copy"
"""Links ``copy:<n>`` in :func:`reporting_html` copy example ``n`` to the clipboard."""


@dataclass(frozen=True)
class Example:
    """One way to report, with code a user can copy as it is."""

    title: str
    intro: str
    code: str


def sdk_snippet(kpi: str) -> str:
    """Python lines that read a parameter and report ``kpi`` with the SDK."""
    return (
        "import sweeplab  # on the trial's PYTHONPATH: nothing to install\n"
        "\n"
        'lr = sweeplab.param("lr", default=1e-3)  # the names of the Space tab\n'
        "epochs = sweeplab.max_epochs(20)\n"
        "for epoch in range(1, epochs + 1):\n"
        f"    {_identifier(kpi)} = train_one_epoch(lr)  # your code\n"
        f'    sweeplab.report("{_escape(kpi)}", {_identifier(kpi)}, step=epoch)\n'
        "    sweeplab.progress(epoch, total=epochs)\n"
    )


def print_line_snippet(kpi: str) -> str:
    """A shell line that reports ``kpi`` the same way from any language."""
    return f"echo {shlex.quote(print_line_text(kpi))}\n"


def print_line_text(kpi: str) -> str:
    """The marked line itself, as any program prints it (one line, flushed)."""
    return MARKER + json.dumps({"metric": kpi, "value": 0.42, "step": 3})


def examples(kpi: str = "loss") -> list[Example]:
    """The four ways to report ``kpi``, with copyable code, in the order to prefer them."""
    return [
        Example(
            "1. The Python SDK",
            "One file of the standard library, put on every trial's PYTHONPATH by Sweeplab. "
            "Each call prints one marked line and flushes it.",
            sdk_snippet(kpi)),
        Example(
            "2. A marked line, from any language",
            f"Print a line starting with <code>{html.escape(MARKER)}</code> followed by "
            "JSON, and flush it. Progress works the same way. The parameters are in the "
            f"JSON file named by <code>${ENV_PARAMS}</code> (under <code>nested</code> "
            "and <code>dotted</code>).",
            print_line_snippet(kpi)
            + f"echo {shlex.quote(MARKER + json.dumps({'progress': 3, 'total': 10}))}\n"
            + "/* in C: */\n"
            + f'printf("{_escape(MARKER)}{{\\"metric\\": \\"{_escape(kpi)}\\", '
              '\\"value\\": %g, \\"step\\": %d}\\n", value, step);\n'
            + "fflush(stdout);\n"),
        Example(
            "3. Your own log lines, read by a regex",
            "Leave the script as it is and give the experiment a regex per metric "
            "(SageMaker style); the first group is the value, an optional step regex "
            "gives the step. Add them under Experiment → Settings… → Trial environment → "
            "Metric regexes (one row per metric), or in an experiment file as below "
            "(File → Open experiment file… reads one):",
            "metrics:\n"
            f"  - {{name: {kpi}, regex: '{kpi}=([0-9.eE+-]+)', "
            "step_regex: 'epoch=(\\d+)'}\n"
            "# matches a line such as:\n"
            f"# epoch=3 {kpi}=0.4213\n"),
        Example(
            "4. Auptimizer's result line",
            "Scripts written for Auptimizer work unchanged: the value of the "
            f"<code>{html.escape(AUPTIMIZER_MARKER)}</code> line is reported under the "
            "experiment's KPI name. Ask for Auptimizer's params file (the parameters as "
            "top-level keys, dotted names for nested ones) as the last argument with "
            "<code>{aup_params}</code> in the command.",
            f'print("{AUPTIMIZER_MARKER}0.42")\n'),
    ]


def reporting_html(kpi: str = "loss") -> str:
    """The "Reporting metrics" reference: the four ways, each example with a Copy link."""
    parts = [
        "<h2>Reporting metrics</h2>",
        "<p>A trial is your command, run in a fresh copy of the code directory. It tells "
        "Sweeplab how it is doing by printing lines to its output; Sweeplab reads them "
        "as they come, plots them live, stops trials that fall behind, and keeps the "
        "KPI of each trial. Use whichever way fits your script.</p>",
    ]
    for number, example in enumerate(examples(kpi)):
        parts.append(f"<h3>{html.escape(example.title)}</h3>")
        parts.append(f"<p>{example.intro}</p>")
        parts.append("<pre style='background:#f4f4f4; padding:6px'>"
                     f"{html.escape(example.code)}</pre>")
        parts.append(f"<p><a href='{COPY_SCHEME}:{number}'>Copy this example</a></p>")
    parts.append(
        "<h3>Good to know</h3><ul>"
        "<li>Steps are whole numbers ≥ 0 (epochs, say); the KPI of a trial is its last "
        "or its best value, as the experiment says.</li>"
        "<li>The best trial is the completed one with the best finite KPI. Pruned and "
        "stopped trials (also those the experiment's time budget cut) keep their KPI "
        "but do not compete.</li>"
        "<li>NaN and infinity are accepted; a marked line that cannot be read is "
        "written to the experiment's Log tab, quoted.</li>"
        "<li>A trial stopped early gets SIGINT, then SIGTERM, then SIGKILL: save what "
        "you need on KeyboardInterrupt.</li></ul>")
    return "\n".join(parts)


def _escape(text: str) -> str:
    """``text`` inside a double-quoted string literal."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _identifier(kpi: str) -> str:
    """A variable name for the KPI's value in the snippet (``value`` when unusable)."""
    name = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_"
                   for c in kpi.strip())
    if (not name.isidentifier() or keyword.iskeyword(name)
            or name in _SNIPPET_NAMES or name.strip("_") == ""):
        return "value"
    return name
