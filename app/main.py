"""The GUI's composition root: open the store, make sure the demo exists, show the window.

``sweeplab gui --smoke`` is the start-up check the installers run on a built bundle: it
opens the window on the demo experiment in a throwaway data directory (database,
settings, trial folders: never the user's), waits until the window has been shown
and painted once, prints the time to first window, waits until the window is filled
(every tab made, the demo shown and its trials read), prints that time too and exits.

The window is painted before its heavy tabs load (``MainWindow(paint_first=True)``:
numpy, pyqtgraph, the SSH stack come after the first paint).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from app.application.database import HOME_ENV, open_store
from app.application.demo import ROOT, ensure_demo
from app.application.workspace import Workspace

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

ICON = ROOT / "resources" / "sweeplab.png"
SMOKE_TIMEOUT_S = 60.0
"""How long ``--smoke`` waits for the first paint before it gives up (exit 1)."""
SMOKE_PREFIX = "smoke: first window shown after"
SMOKE_CPU_PREFIX = "smoke: CPU time until then"
SMOKE_FILLED_PREFIX = "smoke: window filled after"

_IMPORTED_AT = time.monotonic()


def run_gui(demo: bool = False, smoke: bool = False, db: str | None = None) -> int:
    """Open the main window on the user's database (``smoke``: see :func:`run_smoke`).

    Raises:
        ValueError: ``smoke`` together with ``db`` (the smoke run never opens a real
            database).
    """
    if smoke:
        if db is not None:
            raise ValueError("--smoke runs on a temporary database; leave out --db")
        return run_smoke()
    from app.views.main_window import MainWindow

    app = _application()
    store = open_store(db)
    try:
        new_user = not store.list_experiments()
        if demo or new_user:
            ensure_demo(store)
        window = MainWindow(Workspace(store), store.url, first_run=new_user, take_up=True,
                            paint_first=True)
        window.show()
        return int(app.exec())
    finally:
        store.close()


def run_smoke(timeout: float = SMOKE_TIMEOUT_S) -> int:
    """Show the window on the demo in a temporary data directory, once, and report.

    Prints ``smoke: first window shown after <seconds> s (since <origin>)`` and ``smoke:
    CPU time until then <seconds> s`` on stdout once the window has been shown and
    painted, then ``smoke: window filled after <seconds> s (CPU <seconds> s)`` once its
    tabs are made and the demo's trials read, then closes it. The temporary
    directory (``$SWEEPLAB_HOME`` for the duration) is removed afterwards.

    Returns:
        0 when the window was painted and filled, 1 when that took over ``timeout`` s.
    """
    from PySide6.QtCore import QSettings

    with tempfile.TemporaryDirectory(prefix="sweeplab-smoke-") as home:
        previous = os.environ.get(HOME_ENV)
        os.environ[HOME_ENV] = home
        try:
            app = _application()
            settings = QSettings(str(Path(home) / "settings.ini"), QSettings.Format.IniFormat)
            store = open_store(f"sqlite:///{Path(home) / 'sweeplab.db'}")
            try:
                # the window reopens the last experiment: make that the demo
                settings.setValue("last_experiment", ensure_demo(store))
                return _show_once(app, Workspace(store), settings, timeout)
            finally:
                settings.sync()  # written now, not into the removed folder at exit
                store.close()
        finally:
            if previous is None:
                os.environ.pop(HOME_ENV, None)
            else:
                os.environ[HOME_ENV] = previous


def _show_once(app: QApplication, workspace: Workspace, settings: QSettings,
               timeout: float) -> int:
    from PySide6.QtCore import QEvent, QObject, QTimer

    from app.views.main_window import MainWindow

    window = MainWindow(workspace, workspace.store.url, settings=settings, paint_first=True)
    shown: list[float] = []
    filled: list[float] = []
    waiting = QTimer(window)
    waiting.setInterval(5)

    def painted() -> None:
        seconds, origin = _elapsed()
        shown.append(seconds)
        print(f"{SMOKE_PREFIX} {seconds:.3f} s (since {origin})", flush=True)
        # the CPU this process used until then: steadier than the wall time on a busy machine
        print(f"{SMOKE_CPU_PREFIX} {time.process_time():.3f} s", flush=True)
        waiting.timeout.connect(finish_when_filled)
        waiting.start()

    def finish_when_filled() -> None:
        if not window.is_filled() or window.is_loading():
            return
        waiting.stop()
        seconds, _origin = _elapsed()
        filled.append(seconds)
        print(f"{SMOKE_FILLED_PREFIX} {seconds:.3f} s (CPU {time.process_time():.3f} s)",
              flush=True)
        window.close()
        app.quit()

    def give_up() -> None:
        what = "filled" if shown else "painted"
        print(f"smoke: the window was not {what} within {timeout:g} s", file=sys.stderr,
              flush=True)
        window.close()
        app.quit()

    class FirstPaint(QObject):
        """Reports on the event-loop turn after the window's first paint event."""

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and window.isVisible():
                window.removeEventFilter(self)
                # the paint runs after this filter returns; finish once it is flushed
                QTimer.singleShot(0, painted)
            return False

    watcher = FirstPaint(window)
    window.installEventFilter(watcher)
    QTimer.singleShot(int(timeout * 1000), give_up)
    window.show()
    app.exec()
    return 0 if filled else 1


def _application() -> QApplication:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Sweeplab")
    app.setOrganizationName("Sweeplab")
    app.setDesktopFileName("sweeplab")
    if ICON.is_file():
        app.setWindowIcon(QIcon(str(ICON)))
    return app


def _elapsed() -> tuple[float, str]:
    """Seconds since this process started (Linux), else since this module was imported."""
    started = _process_start()
    if started is not None:
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started, "process start"
    return time.monotonic() - _IMPORTED_AT, "app import"


def _process_start() -> float | None:
    """This process's start in CLOCK_BOOTTIME seconds, from /proc (None elsewhere)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None

