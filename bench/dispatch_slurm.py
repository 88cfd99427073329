"""Dispatch overhead on Slurm: N no-op trials through Sweeplab's runner against the same
N jobs submitted by a bare ``sbatch`` loop, on one throwaway single-node Slurm.

Bare: ``sbatch --wrap COMMAND`` N times in a row, then ``squeue`` every 0.1 s until
every job has finished. Sweeplab: the whole Runner (random searcher, SQLite store,
metric parsing) with max parallel N on a SlurmExecutor (``sbatch`` on this machine,
default tick and squeue interval), each trial a job running the detached wrapper in its
own trial directory with a copy of the code snapshot. Both run the same command line,
from the first ``sbatch`` until the last job is known to be over, after one untimed
warm-up job; the two alternate (each going first in turn) ``--repeats`` times. The
ratio is of the median wall times (the best ones' ratio is printed too: on a shared
machine Slurm's own timing varies by seconds). Goal: ratio <= 1.2.

CPU: where the machine has cgroup v1 ``cpuacct``, the benchmark runs in a group of its
own, so everything it starts (the cluster's daemons, sbatch, the jobs and the processes
they start, Sweeplab's threads) is counted; the medians of each side's CPU seconds are
printed and end the RESULT line (``bare_cpu_s``, ``sweeplab_cpu_s``). Unlike wall
times they hardly depend on what else the machine runs.

The cluster (:class:`devtools.localcluster.LocalSlurm`) needs root and the
Debian packages ``slurm-wlm`` and ``munge``; it is started and stopped here.

    .venv/bin/python bench/dispatch_slurm.py [--trials 100] [--quick] [--repeats 1]
                                             [--noop printf|python] [--cpus 32]

Ends with one line ``RESULT trials=.. bare_s=.. sweeplab_s=.. ratio=.. ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engine.experiment import experiment_from_dict
from app.engine.resume import build_searcher
from app.engine.runner import Runner
from app.remote.slurm.access import LocalAccess
from app.remote.slurm.commands import FINISHED, parse_squeue, squeue_script
from app.remote.slurm.executor import SlurmExecutor
from app.remote.slurm.profile import ClusterProfile
from app.remote.snapshot import take_snapshot
from app.store.store import Store
from devtools.localcluster import LocalSlurm, SlurmUnavailable

MARKED_LINE = '#sweeplab {"metric": "loss", "value": 1}'
NOOPS = {
    "printf": "printf " + shlex.quote(MARKED_LINE + r"\n"),
    "python": (shlex.quote(sys.executable) + " -S -c "
               + shlex.quote(f"print({MARKED_LINE!r})")),
}
POLL_S = 0.1
CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def cpu_group() -> Path | None:
    """A cgroup v1 ``cpuacct`` group holding this process from now on (and what it
    starts from then on); None where there is none or it cannot be made."""
    group = CPUACCT / f"sweeplab-bench-{os.getpid()}"
    try:
        group.mkdir()
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        with contextlib.suppress(OSError):
            group.rmdir()
        return None
    return group


def cpu_seconds(group: Path | None) -> float:
    """CPU seconds the group's processes used so far (0 without a group)."""
    return int((group / "cpuacct.usage").read_text()) / 1e9 if group is not None else 0.0


def leave_group(group: Path | None) -> None:
    """Move this process back to the root group and remove ``group`` (once empty)."""
    if group is None:
        return
    try:
        (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
        group.rmdir()
    except OSError:
        pass


def template(command: str) -> str:
    """``command`` as a Sweeplab command template (its braces literal)."""
    return command.replace("{", "{{").replace("}", "}}")


def bare(trials: int, root: Path, command: str, env: dict[str, str]) -> tuple[float, float]:
    """The sbatch loop: (wall seconds, seconds spent submitting)."""
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ids: list[int] = []
    for _ in range(trials):
        done = subprocess.run(["sbatch", "--parsable", f"--chdir={root}", "--output=/dev/null",
                               f"--wrap={command}"], capture_output=True, text=True, env=env,
                              check=True)
        ids.append(int(done.stdout.strip().split(";")[0]))
    submitted = time.perf_counter() - start
    while True:
        done = subprocess.run(["/bin/sh", "-c", squeue_script(ids)], capture_output=True,
                              env=env, check=False)
        states = parse_squeue(done.stdout, done.stderr.decode(), done.returncode)
        if len(states) == trials and all(s.state in FINISHED for s in states.values()):
            break
        time.sleep(POLL_S)
    bad = [job for job, state in states.items() if state.state != "COMPLETED"]
    if bad:
        raise SystemExit(f"bare: jobs {bad[:5]} did not complete")
    return time.perf_counter() - start, submitted


def sweeplab(trials: int, root: Path, command: str,
             group: Path | None = None) -> tuple[float, float]:
    """The whole runner on a SlurmExecutor: (wall seconds, CPU seconds of ``group``), both
    from the runner's start to its end."""
    code = root / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "README").write_text("a code snapshot of one file\n")
    config = experiment_from_dict({
        "version": 1, "name": "dispatch-slurm", "code_dir": str(code),
        "command": template(command), "kpi": {"name": "loss"},
        "algorithm": {"name": "random"}, "hosts": ["bench"],
        "space": {"version": 1, "space": [{"name": "x", "type": "number", "auto": True,
                                           "distribution": "uniform", "min": 0, "max": 1,
                                           "default": 0.5}]},
        "limits": {"max_trials": trials, "max_parallel": trials},
    }, code)
    profile = ClusterProfile("bench", workdir=str(root / "work"), max_parallel=trials)
    with Store(f"sqlite:///{root / 'bench.db'}") as store:
        experiment = store.create_experiment(config.name, config.to_dict())
        snapshot = take_snapshot(code, root / "snapshots")
        executor = SlurmExecutor(profile, LocalAccess("bench", profile.workdir))
        runner = Runner(store, experiment.id, config, [executor],
                        build_searcher(config, store, experiment.id), snapshot)
        used = cpu_seconds(group)
        start = time.perf_counter()
        try:
            runner.run()
        finally:
            wall = time.perf_counter() - start
            executor.close()
            cpu = cpu_seconds(group) - used
        done = store.list_trials(experiment.id)
        bad = [(t.number, t.state.value, t.error) for t in done if t.state.value != "completed"]
        if len(done) != trials or bad:
            raise SystemExit(f"sweeplab: {len(done)} trials, not completed: {bad[:3]}")
    return wall, cpu


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="10 trials: a smoke run")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run both R times in turn; the medians count")
    parser.add_argument("--noop", choices=sorted(NOOPS), default="printf",
                        help="the job's command (default: printf, the shell only)")
    parser.add_argument("--cpus", type=int, default=32,
                        help="CPUs the node offers (default 32: most jobs start at once)")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials = 10
    for name in ("trials", "repeats", "cpus"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and the RESULT line."""
    args = parse_args(argv)
    command = NOOPS[args.noop]
    walls: dict[str, list[float]] = {"bare": [], "sweeplab": []}
    submits: list[float] = []
    cpus: dict[str, list[float]] = {"bare": [], "sweeplab": []}
    group = cpu_group()  # before the cluster starts: its daemons are counted too
    try:
        slurm = LocalSlurm(cpus=args.cpus).start()
    except SlurmUnavailable as exc:
        leave_group(group)
        print(f"cannot run the Slurm benchmark here: {exc}", file=sys.stderr)
        return 2

    def timed_sweeplab(root: Path) -> None:
        wall, cpu = sweeplab(args.trials, root / "sweeplab", command, group)
        walls["sweeplab"].append(wall)
        cpus["sweeplab"].append(cpu)

    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(slurm.conf)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bare(1, Path(tmp) / "warm-up", command, slurm.env)  # the scheduler's first pass
            for repeat in range(args.repeats):
                root = Path(tmp) / str(repeat)
                if repeat % 2:  # alternate who goes first
                    timed_sweeplab(root)
                used = cpu_seconds(group)
                wall, submitted = bare(args.trials, root / "bare", command, slurm.env)
                cpus["bare"].append(cpu_seconds(group) - used)
                walls["bare"].append(wall)
                submits.append(submitted)
                if not repeat % 2:
                    timed_sweeplab(root)
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        slurm.stop()
        leave_group(group)
    best = {name: min(values) for name, values in walls.items()}
    mid = {name: statistics.median(values) for name, values in walls.items()}
    ratio, best_ratio = mid["sweeplab"] / mid["bare"], best["sweeplab"] / best["bare"]
    n = args.trials
    print(f"{n} jobs of `{args.noop}` on a throwaway single-node Slurm ({args.cpus} CPUs), "
          f"nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, {args.repeats} run(s) "
          "each, alternating")
    print(f"{'what':34} {'median s':>9} {'best s':>7} {'ms/job':>7} {'ratio':>6}")
    print(f"{'bare sbatch loop + squeue wait':34} {mid['bare']:9.2f} {best['bare']:7.2f} "
          f"{mid['bare'] / n * 1000:7.1f} {1.0:6.2f}")
    print(f"{'  of which sbatch calls':34} {statistics.median(submits):9.2f} "
          f"{min(submits):7.2f} {statistics.median(submits) / n * 1000:7.1f}")
    print(f"{'Sweeplab runner on SlurmExecutor':34} {mid['sweeplab']:9.2f} "
          f"{best['sweeplab']:7.2f} {mid['sweeplab'] / n * 1000:7.1f} {ratio:6.2f}")
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    if group is not None:
        print(f"CPU seconds of everything each side ran (cluster, sbatch, jobs, Sweeplab): "
              f"bare {cpu['bare']:.2f}, Sweeplab {cpu['sweeplab']:.2f} (medians; "
              f"{(cpu['sweeplab'] - cpu['bare']) / n * 1000:.1f} ms more a trial)")
    if args.repeats > 1:
        for name, values in walls.items():
            print(f"  {name} wall times: {', '.join(f'{v:.2f}' for v in values)}")
    cpu_figures = (f" bare_cpu_s={cpu['bare']:.3f} sweeplab_cpu_s={cpu['sweeplab']:.3f}"
                   if group is not None else "")
    print(f"RESULT trials={n} bare_s={mid['bare']:.3f} sweeplab_s={mid['sweeplab']:.3f} "
          f"ratio={ratio:.2f} best_ratio={best_ratio:.2f} "
          f"bare_submit_s={statistics.median(submits):.3f}{cpu_figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
