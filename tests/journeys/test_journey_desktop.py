"""Journey 6: Sweeplab started in a real X session the three ways people start it.

One Xvfb (on a display it picks itself) with the openbox window manager serves the
module; each test starts the installed ``sweeplab`` console script as its own process
(see :mod:`tests.journeys.desktop`): from a terminal's shell as a background job, with
``nohup``, and through the desktop entry's ``Exec=`` line as a launcher runs it. Each
time the user, through X only (xdotool's real key events, the window manager's focus),
waits for the window, dismisses the welcome wizard a first start shows, opens
Help → About with the menu's keys and closes it with Escape, and quits with Ctrl+Q; the
root window is grabbed by a separate Qt program and must not be blank; the app exits
with status 0 and leaves no process behind. The launcher's test also starts the demo
and quits while its trials run: Escape keeps the window, then Stop ends the trials.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.trial import TrialState
from app.store.store import Store
from tests.helpers import ROOT, proc_state, trials_of, wait_until
from tests.journeys.desktop import (
    BIN,
    SCREEN,
    Desktop,
    Launch,
    descendants,
    desktop_exec,
    ignores_sighup,
    missing_tools,
    x_session,
)

MAIN = r"^Sweeplab — "
"""The main window's title: ``Sweeplab — <database>``."""
DEMO = "quadratic-demo"
START_S = 90.0
"""How long the window may take to show up (a cold start on a loaded two-core box)."""


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    missing = missing_tools()
    if missing:
        pytest.fail(f"the desktop journeys need {', '.join(missing)}: "
                    "scripts/ensure-system-packages.sh installs them (as root)")
    with x_session(tmp_path_factory.mktemp("x")) as session:
        yield session


@pytest.fixture
def launches(desktop: Desktop) -> Iterator[list[Launch]]:
    """The launches a test makes; whatever of them still runs is killed after it."""
    made: list[Launch] = []
    yield made
    for launch in made:
        launch.kill()


def start(desktop: Desktop, launches: list[Launch], home: Path, *argv: str,
          setsid: bool = False) -> Launch:
    """Start ``argv`` in the session with the virtual environment's bin on PATH (where
    the ``sweeplab`` script is, as for a user who installed it)."""
    assert (BIN / "sweeplab").is_file(), f"no sweeplab console script in {BIN}"
    path = f"{BIN}{os.pathsep}{desktop.env['PATH']}"
    launch = Launch(desktop, home, argv, setsid=setsid, extra_env={"PATH": path})
    launches.append(launch)
    return launch


def app_window(desktop: Desktop, launch: Launch) -> tuple[int, int]:
    """Wait for the main window (a first start: dismiss its welcome wizard with Escape);
    check its size; the window and the app's pid."""
    main = desktop.window(MAIN, START_S)
    wizard = desktop.window("^Welcome to Sweeplab$")
    desktop.keys(wizard, "Escape")
    desktop.gone("^Welcome to Sweeplab$")
    pid = int(desktop.xdotool("getwindowpid", str(main)))
    assert "sweeplab" in Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert pid in launch.left()  # this launch's app, not another test's
    size = desktop.geometry(main)
    width, height = SCREEN
    assert 600 <= size["WIDTH"] <= width and 400 <= size["HEIGHT"] <= height, size
    return main, pid


def about_and_screenshot(desktop: Desktop, main: int, shot: Path) -> None:
    """Help → About by the menu's keys (Alt+H, A), closed with Escape; then the screen
    is grabbed and must show a window, not a blank root."""
    shown = set(desktop.app_windows())
    desktop.keys(main, "alt+h")
    # the menu's popup is mapped before its item's key is typed
    wait_until(lambda: set(desktop.app_windows()) - shown, 20, "the Help menu to open")
    desktop.xdotool("key", "a")
    about = desktop.window("^About Sweeplab$")
    desktop.keys(about, "Escape")
    desktop.gone("^About Sweeplab$")
    figures = desktop.screenshot(shot)
    assert (figures["width"], figures["height"]) == SCREEN
    assert figures["colours"] > 16, f"the screenshot {shot} looks blank: {figures}"


def quit_by_keys(desktop: Desktop, launch: Launch, main: int, pid: int) -> None:
    """File → Quit's key, Ctrl+Q: the app exits with status 0 and leaves nothing."""
    desktop.keys(main, "ctrl+q")
    assert launch.exit_code(pid) == 0, (launch.output.read_text()
                                        if launch.output.exists() else "")
    launch.all_gone()
    assert not desktop.windows(MAIN)


def test_terminal_background_job(desktop: Desktop, launches: list[Launch],
                                 tmp_path: Path) -> None:
    launch = start(desktop, launches, tmp_path, "bash", "-c", "sweeplab gui --demo &")
    assert launch.exit_code(launch.started(), 20) == 0  # the shell is back at once
    main, pid = app_window(desktop, launch)  # and the app lives on without it,
    assert _parent(pid) == launch.reaper.pid  # an orphan the session took up
    about_and_screenshot(desktop, main, tmp_path / "terminal.png")
    quit_by_keys(desktop, launch, main, pid)


def test_nohup(desktop: Desktop, launches: list[Launch], tmp_path: Path) -> None:
    launch = start(desktop, launches, tmp_path, "bash", "-c",
                   "nohup sweeplab gui --demo > sweeplab.out 2>&1 &")
    assert launch.exit_code(launch.started(), 20) == 0
    main, pid = app_window(desktop, launch)
    assert ignores_sighup(pid)
    os.kill(pid, signal.SIGHUP)  # the terminal hangs up: the app does not notice
    about_and_screenshot(desktop, main, tmp_path / "nohup.png")
    quit_by_keys(desktop, launch, main, pid)
    assert (tmp_path / "sweeplab.out").is_file()
    assert "Traceback" not in (tmp_path / "sweeplab.out").read_text()


def test_desktop_launcher_and_quit_while_trials_run(desktop: Desktop, launches: list[Launch],
                                                    tmp_path: Path) -> None:
    argv = desktop_exec(ROOT / "installers" / "linux" / "sweeplab.desktop")
    launch = start(desktop, launches, tmp_path, *argv, setsid=True)
    main, pid = app_window(desktop, launch)
    assert pid == launch.started()  # the Exec= program is the app itself
    assert os.getsid(pid) == pid  # in a session of its own, with no terminal
    about_and_screenshot(desktop, main, tmp_path / "launcher.png")

    desktop.keys(main, "F5")  # Experiment → Start on the demo the first start made
    wait_until(lambda: any("train.py" in _cmdline(child) for child in descendants(pid)),
               60, "the demo's trials to run")
    desktop.keys(main, "ctrl+q")
    asked = desktop.window("^Quit$")
    desktop.keys(asked, "Escape")  # Cancel: the window and its run go on
    desktop.gone("^Quit$")
    assert proc_state(pid) not in (None, "Z") and desktop.windows(MAIN)

    desktop.keys(main, "ctrl+q")
    asked = desktop.window("^Quit$")
    # "Stop trials and quit" sits just before the default Cancel in every button layout
    desktop.keys(asked, "shift+Tab", "space")
    assert launch.exit_code(pid, 60) == 0, launch.output.read_text()
    launch.all_gone()
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'sweeplab.db'}")
    try:
        assert trials_of(store, DEMO, TrialState.STOPPED)
        assert not trials_of(store, DEMO, TrialState.RUNNING)
    finally:
        store.close()


def _parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
