"""What Sweeplab says to Slurm and how it reads the answers (no Slurm needed): the
profile's checks, sbatch options, squeue/sacct parsing, and the trial-directory read
script run by a real /bin/sh on real directories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.remote.slurm.access import LocalAccess
from app.remote.slurm.commands import (
    JobState,
    ReadRequest,
    end_message,
    parse_job_id,
    parse_reads,
    parse_sacct,
    parse_squeue,
    pending_message,
    read_script,
    scancel_script,
    with_setup,
)
from app.remote.slurm.profile import ClusterProfile, sbatch_options, time_limit_minutes
from app.remote.slurm.tracking import Job, StopStep, ending, stop_step


def test_a_valid_profile_has_no_problems_and_bad_fields_are_named() -> None:
    assert ClusterProfile("hpc", login="login1", partition="gpu", memory="4G").problems() == []
    bad = ClusterProfile("local", login="no way", partition="a b", cpus_per_trial=0,
                         memory="lots", gpus_per_trial=-1, max_parallel=0, python=" ",
                         sbatch_args=("constraint=a100", "--output=x", "--mail-type=END"))
    assert bad.problems() == [
        "cluster 'local': the name 'local' is this machine; pick another",
        "cluster 'local': login must be the name of a saved server, got 'no way'",
        "cluster 'local': partition 'a b' is not a Slurm name (letters, digits, '_', '.', "
        "'+', '-')",
        "cluster 'local': CPUs per trial must be >= 1, got 0",
        "cluster 'local': memory must look like 4G, 500M or 2048 (megabytes), got 'lots'",
        "cluster 'local': GPUs per trial must be >= 0, got -1",
        "cluster 'local': max parallel must be >= 1, got 0",
        "cluster 'local': python is empty",
        "cluster 'local': sbatch argument 'constraint=a100' is not an option (like "
        "--constraint=a100)",
        "cluster 'local': sbatch argument '--output=x' is set by Sweeplab itself",
    ]


def test_sbatch_options_carry_the_profile_and_the_experiment() -> None:
    profile = ClusterProfile("hpc", partition="gpu", account="lab", qos="short",
                             cpus_per_trial=4, memory="8G", sbatch_args=("--constraint=a100",))
    options = sbatch_options(profile, job_name="sweeplab-3-9", trial_dir="/w/3/9", gpus=2,
                             time_limit=12)
    assert options == [
        "--parsable", "--job-name=sweeplab-3-9", "--chdir=/w/3/9", "--output=/w/3/9/slurm.out",
        "--open-mode=append", "--no-requeue", "--ntasks=1", "--cpus-per-task=4",
        "--partition=gpu", "--account=lab", "--qos=short", "--mem=8G", "--gres=gpu:2",
        "--time=12", "--constraint=a100"]
    fixed = ClusterProfile("hpc", gpus_per_trial=0)
    assert not any(o.startswith("--gres") for o in sbatch_options(
        fixed, job_name="j", trial_dir="/d", gpus=2, time_limit=None))


@pytest.mark.parametrize(("seconds", "grace", "minutes"), [
    (None, 5.0, None), (1.0, 0.0, 2), (600.0, 5.0, 12), (0.0, 0.0, 1)])
def test_the_time_limit_leaves_room_for_the_graceful_stop(
        seconds: float | None, grace: float, minutes: int | None) -> None:
    assert time_limit_minutes(seconds, grace) == minutes


def test_squeue_and_sacct_answers_are_read() -> None:
    out = b"12|PENDING|Resources\n13|RUNNING|None\n14|TIMEOUT|TimeLimit\ngarbage\n"
    assert parse_squeue(out, "", 0) == {12: JobState("PENDING", "Resources"),
                                        13: JobState("RUNNING"),
                                        14: JobState("TIMEOUT", "TimeLimit")}
    assert parse_squeue(b"", "slurm_load_jobs error: Invalid job id specified", 1) == {}
    with pytest.raises(ValueError, match="squeue failed with status 1: Unable to contact"):
        parse_squeue(b"", "Unable to contact slurm controller", 1)
    sacct = b"7|CANCELLED by 0|None\n7.batch|CANCELLED|\n8|NODE_FAIL|NodeDown\n"
    assert parse_sacct(sacct) == {7: JobState("CANCELLED"), 8: JobState("NODE_FAIL", "NodeDown")}
    assert parse_job_id(b"sbatch: warning: x\n@job 4711\n") == 4711
    with pytest.raises(ValueError, match="sbatch printed no job id"):
        parse_job_id(b"Submitted batch job 5\n")


def test_messages_name_slurms_state_and_reason_in_plain_words() -> None:
    assert pending_message(12, JobState("PENDING", "PartitionDown")) == (
        "pending in Slurm as job 12: its partition is down (PartitionDown)")
    assert pending_message(12, JobState("PENDING", "SomethingNew")) == (
        "pending in Slurm as job 12: SomethingNew")
    assert end_message(14, JobState("TIMEOUT", "TimeLimit")) == (
        "Slurm ended job 14: it reached its time limit (TIMEOUT, TimeLimit)")
    assert end_message(15, JobState("FAILED", "JobLaunchFailure")) == (
        "Slurm ended job 15: Slurm marked it failed: the job could not be launched on its "
        "node (FAILED, JobLaunchFailure)")
    assert scancel_script([3, 1], interrupt=True) == "scancel --full --signal=INT 1 3\n"
    assert scancel_script([3], interrupt=False) == "scancel 3\n"


def _sh(script: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["/bin/sh", "-c", script], input=stdin, capture_output=True,
                          check=False, timeout=30)


def test_the_read_script_and_the_local_reader_agree_byte_for_byte(tmp_path: Path) -> None:
    running, ended, empty = (tmp_path / name for name in ("running", "ended", "empty"))
    for folder in (running, ended, empty):
        folder.mkdir()
    (running / "output.log").write_bytes(b"first\ncaf\xc3\xa9 \xff half")
    (running / "pid").write_text("123\n456\n")
    (running / "job_id").write_text("77\n")
    (ended / "output.log").write_bytes(b"x" * 5000 + b"\nend\n")
    (ended / "exit_code").write_text("3\n")
    requests = [ReadRequest(1, str(running), 6), ReadRequest(2, str(ended), 0, limit=4000),
                ReadRequest(3, str(empty), 0), ReadRequest(4, str(tmp_path / "gone"), 0)]
    done = _sh(read_script(requests))
    assert done.returncode == 0, done.stderr
    remote = parse_reads(done.stdout)
    local = LocalAccess("hpc", str(tmp_path)).read(requests)
    assert remote == local
    first, second, third, fourth = remote
    assert (first.data, first.has_pid, first.job_id, first.exit_code) == (
        b"caf\xc3\xa9 \xff half", True, 77, None)
    assert (len(second.data), second.exit_code, second.has_pid) == (4000, 3, False)
    assert (third.data, third.missing, fourth.missing) == (b"", False, True)
    with pytest.raises(ValueError, match="trial 1: 12 log bytes announced, 8 arrived"):
        parse_reads(done.stdout[:done.stdout.index(b"half")])
    with pytest.raises(ValueError, match="cut short"):
        parse_reads(done.stdout[:-3])


def test_a_failing_setup_stops_the_script_with_its_own_status() -> None:
    done = _sh(with_setup("echo loading >&1; false", "echo never"))
    assert done.returncode == 97 and b"never" not in done.stdout
    assert b"the cluster's setup command failed with status 1" in done.stderr
    assert b"loading" in done.stderr  # setup output never mixes with what is parsed
    ok = _sh(with_setup("X=5", "echo $X"))
    assert ok.stdout == b"5\n"


def test_endings_wait_for_what_they_need() -> None:
    job = Job(1, "/d", job_id=9)
    assert ending(job, 0.0) is None
    job.note_exit(0, 1.0)
    quick = ending(job, 1.0)
    assert quick is not None and (quick.exit_code, quick.message) == (0, "")
    failed = Job(2, "/d", job_id=10)
    failed.note_exit(143, 1.0)
    assert ending(failed, 2.0) is None  # waits for Slurm's word
    failed.note_state(JobState("TIMEOUT", "TimeLimit"), 3.0)
    timed = ending(failed, 3.0)
    assert timed is not None and timed.message.startswith("Slurm ended job 10: it reached")
    never = Job(3, "/d", job_id=11, has_pid=True)
    never.note_state(None, 5.0)
    assert ending(never, 11.0) is None  # its directory was not read since
    never.note_exit(None, 5.5)
    assert ending(never, 6.0) is None  # its exit code may still show up
    gone = ending(never, 11.0)
    assert gone is not None and gone.exit_code is None
    assert gone.message.startswith("Slurm no longer knows job 11")


def test_a_job_that_ran_between_two_reads_is_read_again_before_it_is_judged() -> None:
    quick = Job(4, "/d", job_id=12)
    quick.note_exit(None, 1.0)  # read: nothing yet
    quick.note_state(JobState("COMPLETED"), 1.1)  # ... but it ran and ended meanwhile
    assert ending(quick, 1.1) is None
    quick.has_pid = True
    quick.note_exit(0, 1.2)  # the next read sees its exit code
    done = ending(quick, 1.2)
    assert done is not None and done.exit_code == 0
    launch_failed = Job(5, "/d", job_id=13)
    launch_failed.note_state(JobState("FAILED", "JobLaunchFailure"), 2.0)
    launch_failed.note_exit(None, 2.1)  # read after the end: the wrapper never ran
    failed = ending(launch_failed, 2.1)
    assert failed is not None and failed.exit_code is None
    assert failed.message.endswith("(FAILED, JobLaunchFailure)")


def test_the_stop_escalation_interrupts_only_a_running_wrapper() -> None:
    queued = Job(1, "/d", job_id=5, stop_grace=2.0, stop_at=0.0)
    assert stop_step(queued, 0.0) is StopStep.CANCEL
    launching = Job(2, "/d", job_id=6, started=True, stop_grace=2.0, stop_at=0.0)
    assert stop_step(launching, 1.0) is None and stop_step(launching, 2.0) is StopStep.CANCEL
    running = Job(3, "/d", job_id=7, started=True, has_pid=True, stop_grace=2.0, stop_at=0.0)
    assert stop_step(running, 0.0) is StopStep.INTERRUPT
    running.interrupted_at = 0.0
    assert stop_step(running, 1.0) is None and stop_step(running, 2.5) is StopStep.CANCEL
    running.note_exit(0, 3.0)
    assert stop_step(running, 4.0) is None
