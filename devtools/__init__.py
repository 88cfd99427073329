"""Development-only code: never installed with the package nor put in the bundle.

The throwaway PostgreSQL (:mod:`devtools.pgcluster`) and single-node Slurm
(:mod:`devtools.localcluster`) that tests and benchmarks run against, made-up chart data
(:mod:`devtools.synthetic`) and the scenes ``make screenshots`` renders
(:mod:`devtools.screenshots`). Tests, ``bench/`` and ``scripts/`` import it from the
repository root; ``app/`` never does (``tests/test_layers.py`` checks).
"""
