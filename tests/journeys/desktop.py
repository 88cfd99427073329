"""A real X session for the desktop journeys: Xvfb, the openbox window manager, xdotool.

:class:`Desktop` is one X server on a display number Xvfb picks at run time
(``-displayfd``) with openbox managing it; :class:`Launch` starts a command in it as a
session does, under a small *reaper*: a process that is a child subreaper
(``PR_SET_CHILD_SUBREAPER``), so every process the command leaves behind (a shell's
background job, a ``setsid`` launcher's child, the trials) becomes its child when
orphaned; it reaps each one and writes its pid and exit status to a report file. The
reaper ends when no descendant is left, which is how a test knows that nothing was left
running (a zombie counts as gone: it has been reaped).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import ROOT, proc_state, wait_until

BIN = Path(sys.executable).parent
"""The virtual environment's bin: the installed ``sweeplab`` console script is here."""
TOOLS = ("Xvfb", "openbox", "xdotool")
SCREEN = (1366, 768)
"""The most common laptop screen."""
MARK = "SWEEPLAB_DESKTOP_RUN"
"""Set in every launch's environment (inherited by all it starts): found in /proc, it
names what a launch left behind, to kill on a failed test's teardown."""

_REAPER = r"""
import ctypes, json, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
report, spec = open(sys.argv[1], "a", buffering=1), json.loads(sys.argv[2])
pid = os.fork()
if pid == 0:
    if spec["setsid"]:
        os.setsid()
    os.chdir(spec["cwd"])
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    out = os.open(spec["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.execvp(spec["argv"][0], spec["argv"])
report.write(json.dumps({"started": pid}) + "\n")
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    report.write(json.dumps({"pid": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n")
"""

_GRAB = r"""
import json, sys
from PySide6.QtGui import QGuiApplication, QImage
app = QGuiApplication(sys.argv[:1])
image = app.primaryScreen().grabWindow(0).toImage()
image.save(sys.argv[1])
data = bytes(image.convertToFormat(QImage.Format.Format_RGB32).constBits())
colours = {data[i:i + 4] for i in range(0, len(data), 4 * 3)}
print(json.dumps({"width": image.width(), "height": image.height(), "colours": len(colours)}))
"""


def missing_tools() -> list[str]:
    """The X programs the desktop journeys need that are not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@dataclass
class Desktop:
    """An X display with a window manager; ``env`` is what a session's programs get."""

    display: str
    env: dict[str, str]
    root: Path

    def xdotool(self, *args: str, check: bool = True) -> str:
        """Run ``xdotool args`` on this display; its output."""
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True,
                              text=True, timeout=20)
        if check and done.returncode != 0:
            raise AssertionError(f"xdotool {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def windows(self, name: str) -> list[int]:
        """The visible windows whose title matches the regular expression ``name``."""
        out = self.xdotool("search", "--onlyvisible", "--name", name, check=False)
        return [int(line) for line in out.split()]

    def app_windows(self) -> list[int]:
        """The visible windows of class ``sweeplab`` (the app's, its menus' popups too)."""
        out = self.xdotool("search", "--onlyvisible", "--class", "sweeplab", check=False)
        return [int(line) for line in out.split()]

    def window(self, name: str, timeout: float = 30.0) -> int:
        """Wait for one visible (mapped) window titled ``name``; its id."""
        return wait_until(lambda: next(iter(self.windows(name)), None), timeout,
                          f"a visible window titled {name!r}")

    def gone(self, name: str, timeout: float = 20.0) -> None:
        """Wait until no visible window is titled ``name``."""
        wait_until(lambda: not self.windows(name), timeout, f"no window titled {name!r}")

    def geometry(self, window: int) -> dict[str, int]:
        """X, Y, WIDTH, HEIGHT of ``window`` as xdotool reports them."""
        out = self.xdotool("getwindowgeometry", "--shell", str(window))
        return {key: int(value) for key, value in
                (line.split("=", 1) for line in out.split()) if key != "SCREEN"}

    def keys(self, window: int, *keys: str) -> None:
        """Activate ``window`` through the window manager, then type ``keys`` (real key
        events from the X server, as a user's keyboard gives them)."""
        self.xdotool("windowactivate", "--sync", str(window))
        self.xdotool("key", "--clearmodifiers", "--delay", "50", *keys)

    def screenshot(self, path: Path) -> dict[str, int]:
        """The root window grabbed by a Qt program on the xcb platform, saved at
        ``path``; its size and how many colours a sample of its pixels has."""
        done = subprocess.run([sys.executable, "-c", _GRAB, str(path)],
                              env={**self.env, "QT_QPA_PLATFORM": "xcb"},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"screenshot failed: {done.stderr}"
        figures: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
        return figures


@contextmanager
def x_session(root: Path) -> Iterator[Desktop]:
    """Xvfb on a free display (Xvfb picks it) with openbox managing it, stopped after."""
    root.mkdir(parents=True, exist_ok=True)
    read, write = os.pipe()
    width, height = SCREEN
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24",
         "-nolisten", "tcp", "-noreset"], pass_fds=(write,),
        stdout=subprocess.DEVNULL, stderr=(root / "xvfb.log").open("w"))
    os.close(write)
    processes = [server]
    try:
        with os.fdopen(read) as ready:  # Xvfb writes the display once it accepts clients
            number = ready.readline().strip()
        assert number.isdigit(), f"Xvfb did not start: see {root / 'xvfb.log'}"
        home = root / "home"
        home.mkdir(exist_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DISPLAY": f":{number}",
               "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_RUNTIME_DIR": str(root), "LANG": "C.UTF-8"}
        desktop = Desktop(f":{number}", env, root)
        processes.append(subprocess.Popen(
            ["openbox", "--sm-disable"], env=env, stdout=subprocess.DEVNULL,
            stderr=(root / "openbox.log").open("w")))
        # the window manager is up once it has set the root window's desktop properties
        wait_until(lambda: desktop.xdotool("get_desktop", check=False).strip().isdigit(),
                   30, "openbox to manage the display")
        # the pointer rests in a corner no window covers: no hover, no tooltip window
        desktop.xdotool("mousemove", str(width - 1), str(height - 1))
        yield desktop
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Launch:
    """One command started in the session as a user starts it (see the module's doc)."""

    desktop: Desktop
    home: Path
    argv: Sequence[str]
    setsid: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.report = self.home / "reaped.jsonl"
        self.output = self.home / "output.log"
        self.env = {**self.desktop.env, "SWEEPLAB_HOME": str(self.home / "data"),
                    "QT_QPA_PLATFORM": "xcb", MARK: self.mark, **self.extra_env}
        spec = {"argv": list(self.argv), "cwd": str(self.home), "setsid": self.setsid,
                "output": str(self.output)}
        self.reaper = subprocess.Popen([sys.executable, "-c", _REAPER, str(self.report),
                                        json.dumps(spec)], env=self.env, cwd=ROOT)

    def events(self) -> list[dict[str, int]]:
        """What the reaper reported so far: the started pid, then each reaped one."""
        if not self.report.exists():
            return []
        return [json.loads(line) for line in self.report.read_text().splitlines()
                if line.endswith("}")]

    def started(self) -> int:
        """The pid of the command itself (the shell, nohup's program, the launcher's)."""
        return wait_until(lambda: next((e["started"] for e in self.events()
                                        if "started" in e), None), 20, "the command to start")

    def exit_code(self, pid: int, timeout: float = 30.0) -> int:
        """Wait for ``pid`` (the command or anything it started) to end; its exit code."""
        code = wait_until(lambda: next(([e["code"]] for e in self.events()
                                        if e.get("pid") == pid), None),
                          timeout, f"process {pid} to exit")
        return int(code[0])

    def all_gone(self, timeout: float = 30.0) -> None:
        """Wait until every process of the launch has ended and been reaped."""
        try:
            self.reaper.wait(timeout)
        except subprocess.TimeoutExpired as late:
            left = {pid: _cmdline(pid) for pid in self.left()}
            raise AssertionError(f"processes left running after {timeout:g} s: {left}") from late
        assert self.reaper.returncode == 0

    def left(self) -> list[int]:
        """The live (not zombie) processes that carry this launch's mark."""
        mark = f"{MARK}={self.mark}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if mark in environ.split(b"\0") and proc_state(int(entry.name)) not in (None, "Z"):
                found.append(int(entry.name))
        return found

    def kill(self) -> None:
        """Kill whatever of the launch still runs (a failed test's teardown), then the
        reaper once it has reaped them."""
        for pid in self.left():
            if pid != self.reaper.pid:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        try:
            self.reaper.wait(10)
        except subprocess.TimeoutExpired:
            self.reaper.kill()
            self.reaper.wait()


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid`` in the process tree (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("PPid:"):
                    parents[int(entry.name)] = int(line.split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, of in parents.items() if of == parent]
        found += [child for child in children if proc_state(child) not in (None, "Z")]
        frontier += children
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def ignores_sighup(pid: int) -> bool:
    """Whether ``pid`` has SIGHUP ignored (its SigIgn mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGHUP - 1)))
    return False


def desktop_exec(entry: Path) -> list[str]:
    """The ``Exec=`` command of a desktop entry as a launcher runs it: split as the
    Desktop Entry spec says (shell-like quoting), field codes (``%f``, ``%U``…) dropped."""
    for line in entry.read_text().splitlines():
        if line.startswith("Exec="):
            return [word for word in shlex.split(line[len("Exec="):])
                    if not (len(word) == 2 and word.startswith("%"))]
    raise AssertionError(f"{entry} has no Exec= line")
