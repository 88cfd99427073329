"""Trials as Slurm batch jobs: cluster profiles, :class:`SlurmExecutor`, queue status.

Each trial is one ``sbatch`` job that runs the same detached wrapper as every other
host (:mod:`app.remote.launcher`) in a trial directory on the cluster's shared file
system, so logs stream, metrics arrive and a restarted app re-attaches. Slurm places
the jobs; Sweeplab only caps how many it keeps pending and running.
"""
