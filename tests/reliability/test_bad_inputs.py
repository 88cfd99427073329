"""The hostile-input corpus (tests/data/bad) through the real command and a real trial.

Every broken space file, experiment file, server-profile input and database file is
handed to ``python -m app`` as a user would: the command exits 2 with a message that
names what is wrong and where, no traceback reaches the user, and a database that
held an experiment, a trial with metrics and a saved server still holds them, byte
for byte. Broken trial outputs go through the line parser and through a real local
trial: the trial completes with the good lines' metrics stored and warnings logged.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.engine.experiment import Kpi
from app.engine.live import LiveTrial
from app.engine.protocol import LineParser
from app.engine.search.base import Goal
from app.engine.trial import TrialState
from app.remote.logtail import LineSplitter
from tests.reliability.bad_db import (
    BAD_URLS,
    GOLDEN_EXPERIMENT,
    PASSWORD,
    StoredState,
    make_database,
    make_golden,
)
from tests.reliability.bad_output import blocks
from tests.reliability.bad_support import (
    CORPUS,
    EXPECTED_FILE,
    TRACEBACK,
    Case,
    Result,
    assert_refused,
    cases,
    sweeplab,
    trial_record,
)
from tests.run.conftest import Harness, harness

__all__ = ["harness"]
pytestmark = pytest.mark.slow

SPACE, EXPERIMENT, PROFILE = cases("space"), cases("experiment"), cases("profile")
DATABASE = [case for case in cases("database") if case.name not in BAD_URLS]
URLS = [case for case in cases("database") if case.name in BAD_URLS]
OUTPUT_SPEC: dict[str, dict[str, Any]] = yaml.safe_load(
    (CORPUS / "output" / EXPECTED_FILE).read_text("utf-8"))
WORKERS = 3
"""Commands run at once (each mostly waits on imports and I/O)."""


def test_the_corpus_has_at_least_50_cases_each_with_its_expected_error() -> None:
    every = [*SPACE, *EXPERIMENT, *PROFILE, *DATABASE, *URLS, *OUTPUT_SPEC]
    assert len(every) >= 50, f"only {len(every)} cases"
    assert all(str(case.expect).strip()
               for case in [*SPACE, *EXPERIMENT, *PROFILE, *DATABASE, *URLS])
    committed = [p for p in CORPUS.rglob("*") if p.is_file() and p.name != EXPECTED_FILE]
    assert all(p.stat().st_size < 1 << 20 for p in committed), "big cases are made at test time"
    outputs = {p.name for p in (CORPUS / "output").iterdir()} - {EXPECTED_FILE}
    assert outputs == {name for name in OUTPUT_SPEC if not name.startswith("@")}
    assert not list((CORPUS / "database").glob("*.db")), "broken databases are made at test time"


# --- generated cases -------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024


def _huge_document(path: Path) -> None:
    head = b"version: 1\nspace: []\n"
    with path.open("wb") as out:
        out.write(head)
        out.write(b"#" * (TEN_MB + 1 - len(head)))


def _unreadable(path: Path) -> None:
    path.write_text("version: 1\nspace: []\n")
    path.chmod(0)


def _experiment_beside(path: Path, code: str) -> Path:
    """An experiment file at ``path`` whose code is the folder ``code`` beside it."""
    folder = path.parent / code
    folder.mkdir()
    (folder / "train.py").write_text("print('ok')\n")
    path.write_text(yaml.safe_dump({**GOLDEN_EXPERIMENT, "name": path.stem, "code_dir": code}))
    return folder


def _unreadable_code(path: Path) -> None:
    secret = _experiment_beside(path, "code") / "secret.txt"
    secret.write_text("not for the trials\n")
    secret.chmod(0)


def _big_code(path: Path) -> None:
    with (_experiment_beside(path, "code") / "big.bin").open("wb") as big:
        big.truncate(200_000_001)  # sparse: over the snapshot limit, nothing written


MAKERS: dict[str, Callable[[Path], object]] = {
    "@dev-zero.yaml": lambda p: p.symlink_to("/dev/zero"),
    "@unreadable-code.yaml": _unreadable_code,
    "@big-code.yaml": _big_code,
    "@huge.yaml": _huge_document,
    "@deep-list.json": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
    "@long-integer.yaml": lambda p: p.write_text(
        "version: 1\nspace:\n  - {name: x, type: number, default: " + "9" * 5000 + "}\n"),
    "@unreadable.yaml": _unreadable,
    "@missing.yaml": lambda p: None,
    "@folder.yaml": lambda p: p.mkdir(),
    "@key-folder": lambda p: p.mkdir(),
    "@ssh-config-missing": lambda p: None,
    "@ssh-config-huge": lambda p: p.write_bytes(b"#" * (1024 * 1024) + b"\n"),
}


def case_path(case: Case, scratch: Path) -> Path:
    """The file a case names: in the corpus, or made now under ``scratch``."""
    if not case.name.startswith("@"):
        return case.path
    path = scratch / case.folder / case.name[1:]
    path.parent.mkdir(parents=True, exist_ok=True)
    MAKERS[case.name](path)
    return path


def expected(case: Case, path: Path) -> str:
    return case.expect.replace("FILE", str(path)).replace("DIR", str(path.parent))


# --- the real command, many at once, each on its own copy of a stored database ---------


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoredState]:
    """A database with an experiment, a finished trial with metrics and a saved server."""
    path = tmp_path_factory.mktemp("golden") / "sweeplab.db"
    return path, make_golden(path)


class Job:
    """One refused command and the database copy it ran against."""

    def __init__(self, case: Case, root: Path, golden: Path) -> None:
        self.case = case
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.db = root / "sweeplab.db"
        shutil.copy(golden, self.db)
        self.path = case_path(case, root / "made")
        self.result: Result | None = None

    def args(self) -> list[str]:
        path, db = str(self.path), ["--db", str(self.db)]
        if self.case.folder == "space":
            return ["space", "check", path]
        if self.case.folder == "experiment":
            return ["run", path, *db]
        name = self.case.name
        if name.endswith(".args"):
            return ["servers", "add", *path_lines(self.path), *db]
        if name.startswith(("ssh-config", "@ssh-config")):
            return ["servers", "import", "--ssh-config", path, *db]
        return ["servers", "add", "box", "--host", "h", "--user", "u", "--key", path, *db]

    def run(self) -> Job:
        self.result = sweeplab(*self.args(), home=self.home)
        return self


def path_lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()


def run_jobs(folder_cases: list[Case], root: Path, golden: Path) -> dict[str, Job]:
    jobs = [Job(case, root / f"{i:02d}", golden) for i, case in enumerate(folder_cases)]
    with ThreadPoolExecutor(WORKERS) as pool:
        return {job.case.id: job for job in pool.map(Job.run, jobs)}


class Refused:
    """Each folder's cases run through the real command once, when first asked for."""

    def __init__(self, root: Path, golden: Path) -> None:
        self._root, self._golden = root, golden
        self._done: dict[str, dict[str, Job]] = {}

    def __getitem__(self, case: Case) -> Job:
        if case.folder not in self._done:
            folder_cases = {"space": SPACE, "experiment": EXPERIMENT, "profile": PROFILE}
            self._done[case.folder] = run_jobs(folder_cases[case.folder],
                                               self._root / case.folder, self._golden)
        return self._done[case.folder][case.id]


@pytest.fixture(scope="module")
def refused(golden: tuple[Path, StoredState],
            tmp_path_factory: pytest.TempPathFactory) -> Refused:
    """The space, experiment and profile cases, run a folder at a time."""
    return Refused(tmp_path_factory.mktemp("refused"), golden[0])


def check_refused(job: Job, golden: tuple[Path, StoredState]) -> None:
    assert job.result is not None
    assert_refused(job.result, expected(job.case, job.path), job.case.id)
    assert job.db.read_bytes() == golden[0].read_bytes(), f"{job.case.id}: the file changed"
    assert StoredState.of(job.db) == golden[1], f"{job.case.id}: stored data changed"


@pytest.mark.parametrize("case", SPACE, ids=[c.id for c in SPACE])
def test_broken_space_file_is_refused(case: Case, refused: Refused,
                                      golden: tuple[Path, StoredState]) -> None:
    check_refused(refused[case], golden)
    if not case.name.startswith("@") or case.name == "@huge.yaml":
        assert refused[case].result is not None
        assert "not a valid space" in refused[case].result.err or \
            str(refused[case].path) in refused[case].result.err, "the file is named"


@pytest.mark.parametrize("case", EXPERIMENT, ids=[c.id for c in EXPERIMENT])
def test_broken_experiment_file_is_refused_and_nothing_is_stored(
        case: Case, refused: Refused, golden: tuple[Path, StoredState]) -> None:
    check_refused(refused[case], golden)


@pytest.mark.parametrize("case", PROFILE, ids=[c.id for c in PROFILE])
def test_broken_server_input_is_refused_and_nothing_is_saved(
        case: Case, refused: Refused, golden: tuple[Path, StoredState]) -> None:
    check_refused(refused[case], golden)


# --- database files ----------------------------------------------------------------------


@pytest.fixture
def holder() -> Iterator[Callable[[Path], Callable[[], None]]]:
    """Hold an exclusive write transaction on a database from another process; the
    returned function lets go (the fixture does at the end in any case)."""
    started: list[subprocess.Popen[str]] = []

    def release() -> None:
        for process in started:
            if process.stdin is not None and not process.stdin.closed:
                process.stdin.close()
            assert process.wait(timeout=30) == 0

    def hold(db: Path) -> Callable[[], None]:
        code = ("import sqlite3, sys\n"
                "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                "c.execute('BEGIN EXCLUSIVE')\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n")
        process = subprocess.Popen([sys.executable, "-c", code, str(db)], text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked"  # blocks until it holds the lock
        return release

    yield hold
    release()


@pytest.mark.parametrize("case", DATABASE, ids=[c.id for c in DATABASE])
def test_broken_database_is_refused_and_left_as_it_was(
        case: Case, tmp_path: Path, golden: tuple[Path, StoredState],
        holder: Callable[[Path], Callable[[], None]]) -> None:
    db = make_database(case.name, tmp_path / "db", golden[0])
    release = holder(db) if case.name == "@locked.db" else lambda: None
    before = db.read_bytes() if db.is_file() else None
    experiment = tmp_path / "exp" / "experiment.yaml"
    experiment.parent.mkdir()
    experiment.write_text(yaml.safe_dump({**GOLDEN_EXPERIMENT, "name": "new",
                                          "code_dir": str(experiment.parent)}))
    home = tmp_path / "home"
    with ThreadPoolExecutor(2) as pool:  # a locked database makes each wait its timeout
        listed = pool.submit(sweeplab, "ls", "--db", str(db), home=home)
        ran = pool.submit(sweeplab, "run", str(experiment), home=home,
                          env={"SWEEPLAB_DB": str(db)})
        listed_result, run_result = listed.result(), ran.result()
    message = expected(case, db)
    if case.name in ("@read-only.db", "@locked.db"):  # reading works; only writes are refused
        assert listed_result.code == 0, listed_result.text
        assert "kept" in listed_result.out and TRACEBACK not in listed_result.text
    elif case.name == "@no-folder.db":  # a listing makes no database: none is there
        assert_refused(listed_result, f"no database at {db} (from --db)", f"ls --db {case.id}")
    else:
        assert_refused(listed_result, message, f"ls --db {case.id}")
    assert_refused(run_result, message, f"run with SWEEPLAB_DB={case.id}")
    release()
    if before is not None:
        assert db.read_bytes() == before, "the database file changed"
    if case.name in ("@read-only.db", "@locked.db"):
        assert StoredState.of(db) == golden[1]


@pytest.mark.parametrize("case", URLS, ids=[c.id for c in URLS])
def test_a_bad_database_url_is_refused_naming_the_part_and_hiding_the_password(
        case: Case, tmp_path: Path) -> None:
    url, home = BAD_URLS[case.name], tmp_path / "home"
    experiment = tmp_path / "exp" / "experiment.yaml"
    experiment.parent.mkdir()
    experiment.write_text(yaml.safe_dump({**GOLDEN_EXPERIMENT,
                                          "code_dir": str(experiment.parent)}))
    for what, result in (("ls --db", sweeplab("ls", "--db", url, home=home)),
                         ("run with SWEEPLAB_DB", sweeplab("run", str(experiment), home=home,
                                                           env={"SWEEPLAB_DB": url}))):
        assert_refused(result, case.expect, f"{what} {case.id}")
        shown = [part for part in PASSWORD.split(":") if part in result.text]
        assert not shown, f"{what} {case.id}: the password shows: {result.text}"


# --- trial outputs -----------------------------------------------------------------------

OUTPUTS = sorted(OUTPUT_SPEC)


def output_source(name: str) -> str:
    return name if name.startswith("@") else str(CORPUS / "output" / name)


@pytest.mark.parametrize("name", OUTPUTS)
def test_broken_output_through_the_line_parser(name: str) -> None:
    spec = OUTPUT_SPEC[name]
    parser = LineParser("loss")
    trial = LiveTrial(trial_record(), None, Kpi("loss", Goal.MIN))  # type: ignore[arg-type]
    splitter = LineSplitter()
    points, warnings = 0, []
    for block in blocks(output_source(name)):
        for start in range(0, len(block), 1 << 20):  # as the executors read: 1 MB at a time
            reading = trial.read(tuple(splitter.feed(block[start:start + (1 << 20)])),
                                 parser, 0.0)
            points += len(reading.points)
            warnings += reading.warnings
    reading = trial.read(tuple(splitter.finish()), parser, 0.0)
    points += len(reading.points)
    warnings += reading.warnings
    assert points == spec["points"]
    assert trial.last == spec["kpi"]
    assert any(spec["warning"] in w for w in warnings), warnings
    assert all(len(w) < 1000 for w in warnings)


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.parametrize("name", OUTPUTS)
def test_broken_output_of_a_real_trial(name: str, harness: Harness) -> None:
    shutil.copy(Path(__file__).with_name("bad_output.py"), harness.code / "bad_output.py")
    spec = OUTPUT_SPEC[name]
    config = harness.config(name="out", command='{python} bad_output.py "$BAD_OUTPUT"',
                            env={"BAD_OUTPUT": output_source(name)},
                            limits={"max_trials": 1, "max_parallel": 1})
    runner = harness.runner(config)
    peak, start = [0], _rss_kib()
    runner.start()
    deadline = 120.0
    waited = 0.0
    while not runner.wait(0.2):  # the wait's own timeout paces the memory samples
        peak[0] = max(peak[0], _rss_kib())
        waited += 0.2
        assert waited < deadline, f"{name}: the trial did not finish in {deadline:g} s"
    (trial,) = harness.store.list_trials(harness.store.get_experiment("out").id)
    log = harness.log("out")
    assert trial.state is TrialState.COMPLETED, f"{trial.state}: {trial.error}\n{log}"
    assert trial.kpi == spec["kpi"]
    assert len(harness.store.get_metrics(trial.id)) == spec["points"]
    assert spec["warning"] in log
    assert TRACEBACK not in log
    if name == "@100mb.log":
        grown_mib = (peak[0] - start) / 1024
        assert grown_mib < 40, f"following a 100 MB log grew memory by {grown_mib:.0f} MiB"
        assert trial.log_offset > 100 * 1024 * 1024

