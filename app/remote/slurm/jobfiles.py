"""A trial's job, ready to submit: its files and its ``sbatch`` options. No I/O."""

from __future__ import annotations

from pathlib import Path

from app.engine.records import TrialSpec
from app.remote.launcher import (
    PARAMS_FILE,
    SDK_DIR,
    aup_params_json,
    command_line,
    params_json,
    trial_environment,
)
from app.remote.slurm.commands import (
    COMMAND_FILE,
    JOB_FILE,
    RESTORE_ARCHIVE,
    job_name,
    job_script,
)
from app.remote.slurm.profile import ClusterProfile, sbatch_options
from app.remote.ssh.scripts import PayloadFile, trial_command, trial_files


def job_files(profile: ClusterProfile, spec: TrialSpec, trial_dir: str, *, python: str,
              sdk_name: str, sdk: bytes | None,
              time_limit: int | None) -> tuple[list[PayloadFile], list[str]]:
    """The files of a trial directory (besides ``code/``) and its job's sbatch options.

    A PBT segment's checkpoint brought from another host (``spec.restore_archive``) is
    one of the files (:data:`~app.remote.slurm.commands.RESTORE_ARCHIVE`); one on the
    cluster (``spec.restore_from``) is copied by the access's ``submit``.

    Args:
        profile: the cluster.
        spec: the trial.
        trial_dir: its directory on the cluster.
        python: what ``{python}`` stands for there (``~`` already expanded).
        sdk_name, sdk: the SDK file's name and bytes (None: the trial runs without it).
        time_limit: Slurm's ``--time`` in minutes, or None.

    Raises:
        ValueError: the snapshot archive is missing, or a bad environment name.
        TypeError: a parameter value that is not JSON.
    """
    if not spec.snapshot.archive.is_file():
        raise ValueError(f"snapshot archive {spec.snapshot.archive} does not exist")
    document = params_json(spec.params)
    command = command_line(spec, python, f"{trial_dir}/{PARAMS_FILE}")
    env = trial_environment(spec, Path(trial_dir), (), {})
    env.pop("CUDA_VISIBLE_DEVICES", None)  # Slurm sets it for the GPUs it allocates
    text = trial_command(command, env, profile.setup, f"{trial_dir}/{SDK_DIR}",
                         keep_server_pythonpath="PYTHONPATH" not in spec.env)
    files = trial_files(document, sdk_name, sdk, aup_params_json(spec.params))
    files += [PayloadFile(JOB_FILE, job_script(trial_dir).encode("utf-8"), 0o755),
              PayloadFile(COMMAND_FILE, text.encode("utf-8"))]
    if spec.restore_archive is not None:  # PBT: a checkpoint from another host
        files.append(PayloadFile(RESTORE_ARCHIVE, spec.restore_archive))
    name = job_name(spec.experiment_id, spec.trial_id, spec.segment)
    options = sbatch_options(profile, job_name=name, trial_dir=trial_dir, gpus=spec.gpus,
                             time_limit=time_limit)
    return files, options

