"""The workflow's jobs: thin entry points that read their inputs, call the library, write their outputs.

Each module has ``run(spec, ...paths)``; :mod:`unlearning_comparator.cli` exposes them as
sub-commands, and the Snakemake rules call those. ``spec`` is the part of the resolved config the
job needs (so Snakemake reruns a job exactly when its own parameters change).
"""
