"""Whole optimisations with real trial processes on this machine."""

from __future__ import annotations

import math
import os
from pathlib import Path

from app.engine.best import best_trial, budget_cut
from app.engine.failing import first_line
from app.engine.live import StopReason
from app.engine.trial import ExperimentState, TrialState
from tests.helpers import wait_until
from tests.run.conftest import Harness

SDK_SCRIPT = """
import sweeplab
x = sweeplab.param("x")
for step in range(1, 4):
    sweeplab.report("loss", (x - 0.3) ** 2 + 1 / step, step=step)
    sweeplab.report("acc", 1 - x, step=step)
    sweeplab.progress(step, 3)
"""


def test_sdk_metrics_reach_the_store_and_the_searcher(harness: Harness) -> None:
    harness.script("train.py", SDK_SCRIPT)
    trials = harness.run(harness.config(limits={"max_trials": 4, "max_parallel": 2}))
    assert [t.state for t in trials] == [TrialState.COMPLETED] * 4
    for trial in trials:
        x = trial.params["x"]
        assert trial.kpi == (x - 0.3) ** 2 + 1 / 3
        points = harness.store.get_metrics(trial.id)
        assert sorted((p.name, p.step) for p in points) == sorted(
            [("loss", s) for s in (1, 2, 3)] + [("acc", s) for s in (1, 2, 3)])
        assert trial.host == "local" and trial.exit_code == 0 and trial.log_offset > 0
        assert trial.started_at is not None and trial.ended_at is not None
    assert harness.store.get_experiment("exp").state is ExperimentState.COMPLETED


def test_hand_printed_lines_from_any_language(harness: Harness) -> None:
    harness.script("train.sh", """
        printf '#sweeplab {"metric": "loss", "value": 0.5, "step": 1}\\n'
        printf '#sweeplab {"metric": "loss", "value": 0.25, "step": 2}\\n'
    """)
    trials = harness.run(harness.config(command="sh train.sh",
                                        limits={"max_trials": 1, "max_parallel": 1}))
    assert trials[0].state is TrialState.COMPLETED and trials[0].kpi == 0.25


def test_regexes_and_the_auptimizer_line(harness: Harness) -> None:
    harness.script("train.sh", """
        echo "epoch=1 loss=0.9 acc=0.1"
        echo "epoch=2 loss=0.4 acc=0.6"
        echo "#Auptimizer:0.123"
    """)
    config = harness.config(
        command="sh train.sh", kpi={"name": "score", "goal": "max"},
        limits={"max_trials": 1, "max_parallel": 1},
        metrics=[{"name": "loss", "regex": r"loss=([0-9.]+)", "step_regex": r"epoch=(\d+)"},
                 {"name": "acc", "regex": r"acc=([0-9.]+)"}])
    trial = harness.run(config)[0]
    assert trial.state is TrialState.COMPLETED and trial.kpi == 0.123
    points = {(p.name, p.step): p.value for p in harness.store.get_metrics(trial.id)}
    assert points[("loss", 1)] == 0.9 and points[("loss", 2)] == 0.4
    assert points[("acc", None)] == 0.6 and points[("score", None)] == 0.123


def test_params_file_placeholders_and_environment(harness: Harness) -> None:
    harness.script("train.py", """
        import json, os, sys
        doc = json.load(open(sys.argv[1]))
        assert os.environ["SWEEPLAB_PARAMS"] == sys.argv[1]
        assert float(sys.argv[2]) == doc["dotted"]["x"]
        assert os.environ["SWEEPLAB_MAX_EPOCHS"] == "7"
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
        assert os.environ["EXTRA"] == "yes"
        print('#sweeplab {"metric": "loss", "value": %s}' % doc["nested"]["x"])
    """)
    config = harness.config(command="{python} train.py {params_file} {x}", env={"EXTRA": "yes"},
                            limits={"max_trials": 1, "max_parallel": 1, "max_epochs": 7})
    trial = harness.run(config)[0]
    assert trial.state is TrialState.COMPLETED, trial.error
    assert trial.kpi == trial.params["x"]


def test_max_epochs_stops_the_trial_by_sigint_and_counts_it_completed(harness: Harness) -> None:
    harness.script("train.py", """
        import sweeplab, time
        step = 0
        try:
            while True:
                step += 1
                sweeplab.report("loss", 1.0 / step, step=step)
                time.sleep(0.02)
        except KeyboardInterrupt:
            print("got SIGINT at step", step, flush=True)
    """)
    config = harness.config(limits={"max_trials": 1, "max_parallel": 1, "max_epochs": 5})
    trial = harness.run(config)[0]
    assert trial.state is TrialState.COMPLETED and trial.exit_code == 0
    assert trial.kpi is not None and trial.kpi <= 1 / 5
    log = (Path(trial.trial_dir or "") / "output.log").read_text()
    assert "got SIGINT" in log


def test_max_time_per_trial_stops_it_with_the_kpi_so_far(harness: Harness) -> None:
    harness.script("train.py", """
        import sweeplab, time
        sweeplab.report("loss", 0.7, step=1)
        time.sleep(600)
    """)
    config = harness.config(limits={"max_trials": 1, "max_parallel": 1,
                                    "max_trial_seconds": 1.0})
    trial = harness.run(config)[0]
    assert trial.state is TrialState.COMPLETED and trial.kpi == 0.7
    assert "max time" in harness.log("exp")


def _group_alive(pgid: int) -> bool:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def test_stop_during_a_run_leaves_no_process_behind(harness: Harness) -> None:
    harness.script("train.py", """
        import signal, subprocess, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # stubborn: needs escalation
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print('#sweeplab {"metric": "loss", "value": 1}', flush=True)
        time.sleep(600)
    """)
    config = harness.config(limits={"max_trials": 4, "max_parallel": 2})
    runner = harness.runner(config, grace=0.5)
    runner.start()
    store = harness.store
    exp = store.get_experiment("exp")
    wait_until(lambda: len(store.list_trials(exp.id, [TrialState.RUNNING])) == 2,
               what="two running trials")
    running = store.list_trials(exp.id, [TrialState.RUNNING])
    pids = [t.pid for t in running]
    assert all(pid and _group_alive(pid) for pid in pids)
    runner.stop()
    assert runner.wait(30)
    assert all(not _group_alive(pid) for pid in pids if pid)
    trials = store.list_trials(exp.id)
    assert [t.state for t in trials] == [TrialState.STOPPED] * 2
    assert store.get_experiment(exp.id).state is ExperimentState.STOPPED


def test_broken_trials_fail_clearly_and_the_experiment_goes_on(harness: Harness) -> None:
    harness.script("train.py", """
        import os, sys, sweeplab
        n = int(os.environ["SWEEPLAB_TRIAL_ID"])
        kind = ["crash", "garbage", "binary", "silent", "flood", "fine"][n % 6]
        if kind == "crash":
            raise RuntimeError("boom in the training loop")
        if kind == "garbage":
            print("#sweeplab {not json"); print('#sweeplab {"metric": "loss"')
            print("\\x00\\x01 random noise")
        if kind == "binary":
            sys.stdout.buffer.write(b"\\xff\\xfe\\x80 not utf-8\\n"); sys.stdout.flush()
        if kind == "silent":
            sys.exit(0)
        if kind == "flood":
            line = "x" * 1023 + "\\n"
            for _ in range(50 * 1024):
                sys.stdout.write(line)
        sweeplab.report("loss", 0.5)
    """)
    config = harness.config(limits={"max_trials": 6, "max_parallel": 2})
    trials = harness.run(config, timeout=120)
    assert len(trials) == 6
    by_kind = {}
    kinds = ["crash", "garbage", "binary", "silent", "flood", "fine"]
    for trial in trials:
        by_kind[kinds[trial.id % 6]] = trial
    crash = by_kind["crash"]
    assert crash.state is TrialState.FAILED and crash.exit_code == 1
    assert "exited with code 1" in (crash.error or "")
    assert "boom in the training loop" in (crash.error or "")
    silent = by_kind["silent"]
    assert silent.state is TrialState.FAILED and "never reported the KPI 'loss'" in (
        silent.error or "")
    for kind in ("garbage", "binary", "flood", "fine"):
        assert by_kind[kind].state is TrialState.COMPLETED, (kind, by_kind[kind].error)
        assert by_kind[kind].kpi == 0.5
    assert "could not read" in harness.log("exp")
    assert by_kind["flood"].log_offset > 50 * 1024 * 1024


def test_a_missing_script_fails_with_its_message(harness: Harness) -> None:
    config = harness.config(command="{python} does_not_exist.py",
                            limits={"max_trials": 2, "max_parallel": 1})
    runner = harness.runner(config)
    assert runner.run() is ExperimentState.FAILED  # nothing completed, both failed
    trials = harness.store.list_trials(harness.store.get_experiment("exp").id)
    assert [t.state for t in trials] == [TrialState.FAILED] * 2
    cause = first_line(trials[0].error)
    assert cause.endswith("can't open file 'code/does_not_exist.py': [Errno 2] No such file "
                          "or directory"), trials[0].error
    assert first_line(trials[1].error) == cause  # the trial's own folder is left out
    assert harness.store.get_experiment("exp").state is ExperimentState.FAILED
    assert f"failed: no trial completed; 2 failed, the last with: {cause}" in harness.log("exp")


def test_a_command_that_does_not_exist_ends_the_run_failed_after_three_trials(
        harness: Harness) -> None:
    """The first trials all fail the same way before any succeeds: the run stops early,
    FAILED, saying why, instead of running all 20."""
    config = harness.config(command="sweeplab-no-such-command --x {x}",
                            limits={"max_trials": 20, "max_parallel": 1})
    runner = harness.runner(config)
    assert runner.run() is ExperimentState.FAILED
    trials = harness.store.list_trials(harness.store.get_experiment("exp").id)
    assert [t.state for t in trials] == [TrialState.FAILED] * 3
    assert [t.exit_code for t in trials] == [127] * 3
    assert {first_line(t.error) for t in trials} == {"sweeplab-no-such-command: command not found"}
    assert "exited with code 127; last lines:" in (trials[0].error or "")
    stored = harness.store.get_experiment("exp")
    assert stored.state is ExperimentState.FAILED
    assert ("stopping: the first 3 trials all failed the same way: sweeplab-no-such-command: "
            "command not found") in harness.log("exp")


def test_a_missing_module_stops_the_run_naming_the_exception(harness: Harness) -> None:
    """Two at a time: the run stops once three have failed with the same exception line,
    the trials still running are stopped, and the experiment ends FAILED."""
    harness.script("train.py", """
        print("loading data")
        import torchx_not_installed
    """)
    config = harness.config(limits={"max_trials": 12, "max_parallel": 2})
    assert harness.runner(config).run() is ExperimentState.FAILED
    trials = harness.store.list_trials(harness.store.get_experiment("exp").id)
    failed = [t for t in trials if t.state is TrialState.FAILED]
    assert len(failed) >= 3 and len(trials) < 12
    assert {first_line(t.error) for t in failed} == {
        "ModuleNotFoundError: No module named 'torchx_not_installed'"}
    assert all(t.state is TrialState.STOPPED for t in trials if t not in failed)
    assert ("stopping: the first 3 trials all failed the same way: ModuleNotFoundError: No "
            "module named 'torchx_not_installed'") in harness.log("exp")


def test_nan_kpi_is_stored_but_not_fed_to_the_searcher(harness: Harness) -> None:
    harness.script("train.py", """
        print('#sweeplab {"metric": "loss", "value": NaN}')
    """)
    trials = harness.run(harness.config(limits={"max_trials": 2, "max_parallel": 1}))
    assert all(t.state is TrialState.COMPLETED for t in trials)
    assert all(t.kpi is not None and math.isnan(t.kpi) for t in trials)
    points = harness.store.get_metrics(trials[0].id)
    assert math.isnan(points[0].value)


def test_the_database_holds_exactly_what_ran(harness: Harness) -> None:
    harness.script("train.py", """
        import os, sweeplab
        open(os.path.join(os.environ["SWEEPLAB_TRIAL_DIR"], "ran"), "w").write("1")
        sweeplab.report("loss", sweeplab.param("x"))
    """)
    trials = harness.run(harness.config(limits={"max_trials": 5, "max_parallel": 2}))
    ran = sorted(p.parent.name for p in (harness.root / "trials").rglob("ran"))
    assert ran == sorted(str(t.id) for t in trials)
    assert [t.number for t in trials] == [1, 2, 3, 4, 5]
    assert len({t.params["x"] for t in trials}) == 5


def test_trials_do_not_see_each_others_files(harness: Harness) -> None:
    harness.script("train.py", """
        import os, sweeplab
        assert not os.path.exists("mine.txt"), "a file of another trial is visible"
        open("mine.txt", "w").write(os.environ["SWEEPLAB_TRIAL_ID"])
        sweeplab.report("loss", 1.0)
    """)
    trials = harness.run(harness.config(limits={"max_trials": 3, "max_parallel": 1}))
    assert all(t.state is TrialState.COMPLETED for t in trials), [t.error for t in trials]


def test_pause_starts_nothing_new_and_resume_continues(harness: Harness) -> None:
    harness.script("train.py", """
        import os, sweeplab, time
        while not os.path.exists(os.path.join(os.environ["SWEEPLAB_TRIAL_DIR"], "..", "go")):
            time.sleep(0.02)
        sweeplab.report("loss", 1.0)
    """)
    config = harness.config(limits={"max_trials": 3, "max_parallel": 1})
    runner = harness.runner(config)
    store = harness.store
    exp = store.get_experiment("exp")
    runner.start()
    wait_until(lambda: len(store.list_trials(exp.id)) == 1, what="the first trial")
    runner.pause()
    wait_until(lambda: store.get_experiment(exp.id).state is ExperimentState.PAUSED,
               what="the pause")
    trial_dir = Path(store.list_trials(exp.id)[0].trial_dir or "")
    (trial_dir.parent / "go").write_text("")  # every trial of this experiment may finish
    wait_until(lambda: store.list_trials(exp.id)[0].state is TrialState.COMPLETED,
               what="the first trial to end")
    assert not runner.wait(0.3), "a paused experiment must wait for resume"
    assert len(store.list_trials(exp.id)) == 1
    runner.resume()
    assert runner.wait(30)
    assert [t.state for t in store.list_trials(exp.id)] == [TrialState.COMPLETED] * 3
    assert store.get_experiment(exp.id).state is ExperimentState.COMPLETED


def test_the_time_budget_stops_running_trials_and_starts_no_more(harness: Harness) -> None:
    harness.script("train.py", """
        import sweeplab, time
        sweeplab.report("loss", 2.0, step=1)
        time.sleep(600)
    """)
    config = harness.config(limits={"max_trials": 10, "max_parallel": 2, "max_seconds": 1.5})
    trials = harness.run(config)
    assert len(trials) == 2
    # cut short, not finished: STOPPED with the budget's mark, their KPI kept but not
    # competing for best, and the experiment still completed (nothing failed)
    assert [t.state for t in trials] == [TrialState.STOPPED] * 2
    assert [t.error for t in trials] == [StopReason.BUDGET.value] * 2
    assert all(budget_cut(t) for t in trials)
    assert [t.kpi for t in trials] == [2.0, 2.0]
    assert best_trial(trials, config.kpi.goal) is None
    assert "time budget ran out" in harness.log("exp")
    assert harness.store.get_experiment("exp").state is ExperimentState.COMPLETED
