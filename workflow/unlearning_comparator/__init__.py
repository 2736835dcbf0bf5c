"""The code behind the Snakemake workflow: data, models, training, unlearning, evaluation, analyses, tables.

Each stage is an importable, unit-tested module; the rules in ``workflow/rules`` call the small
command-line entry points in :mod:`unlearning_comparator.cli`.
"""

__version__ = "0.1.0"
