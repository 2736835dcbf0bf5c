"""Command-line entry points of the workflow's jobs (``python -m unlearning_comparator <command>``).

The Snakemake rules call these; each can also be run by hand. ``--spec`` is a JSON object with the
part of the resolved config that the job needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple


def _spec(text: str) -> dict:
    return json.loads(Path(text[1:]).read_text()) if text.startswith("@") else json.loads(text)


class Command(NamedTuple):
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]  # adds the command's arguments to its parser
    run: Callable[[argparse.Namespace], int | None]  # the exit status (None: 0)
    reads_data: bool = False  # reads the data set: its rule must take the data manifest as an input


def _with_spec(p: argparse.ArgumentParser, *required: str) -> None:
    p.add_argument("--spec", required=True, type=_spec)
    for name in required:
        p.add_argument(f"--{name}", required=True)


# ------------------------------------------------------------------------------------- config and data


def _check_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config")
    p.add_argument("--methods-dir", default="methods")


def _check_config(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_config

    try:
        print(json.dumps(load_config(args.config, args.methods_dir), indent=2))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _fetch_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True)
    p.add_argument("--root", default="resources/data")


def _fetch_data(args: argparse.Namespace) -> int:
    from .data import DatasetMissingError, load_dataset

    try:
        data = load_dataset(args.dataset, root=args.root, download=True)
    except (DatasetMissingError, OSError, RuntimeError, ValueError) as exc:
        print(f"could not get {args.dataset}: {exc}", file=sys.stderr)
        return 1
    print(
        f"{data.info.display_name}: {len(data.train)} training and {len(data.test)} test images "
        f"in {data.source}"
    )
    return 0


def _data_arguments(p: argparse.ArgumentParser) -> None:
    _with_spec(p, "manifest")
    p.add_argument(
        "--download",
        choices=("yes", "no"),
        default="no",
        help="download with torchvision when the files are not found (default: no)",
    )


def _data(args: argparse.Namespace) -> int:
    from .jobs import data

    return data.run(args.spec, args.manifest, args.download == "yes")


# ----------------------------------------------------------------------------------------- the models


def _subsets_arguments(p: argparse.ArgumentParser) -> None:
    _with_spec(p, "subset", "thumbnails")


def _subsets(args: argparse.Namespace) -> None:
    from .jobs import subsets

    subsets.run(args.spec, args.subset, args.thumbnails)


def _train_arguments(p: argparse.ArgumentParser) -> None:
    _with_spec(p, "model", "info")
    p.add_argument(
        "--forget-class", type=int, help="retrain without this class (when the spec names no forget_set)"
    )
    p.add_argument("--threads", type=int, default=1)


def _train(args: argparse.Namespace) -> None:
    from .jobs import train

    train.run(args.spec, args.model, args.info, args.forget_class, args.threads)


def _unlearn_arguments(p: argparse.ArgumentParser) -> None:
    _with_spec(p, "base", "model", "info")
    p.add_argument("--threads", type=int, default=1)
    for name in ("logits", "features", "similarity", "summary"):
        p.add_argument(f"--{name}", help="evaluate the unlearned model in the same job (all four or none)")
    p.add_argument(
        "--reference-grams", type=json.loads, default=None, help='{"original": path, "retrained": path}'
    )


def _unlearn(args: argparse.Namespace) -> None:
    from .jobs import unlearn
    from .jobs.evaluate import EvaluationOutputs

    paths = [args.logits, args.features, args.similarity, args.summary]
    if any(paths) and not all(paths):
        raise SystemExit("unlearn: give --logits, --features, --similarity and --summary together, or none")
    evaluation = EvaluationOutputs(*paths) if all(paths) else None
    unlearn.run(args.spec, args.base, args.model, args.info, args.threads, evaluation, args.reference_grams)


def _import_checkpoint_arguments(p: argparse.ArgumentParser) -> None:
    _with_spec(p, "checkpoint", "model", "info")


def _import_checkpoint(args: argparse.Namespace) -> None:
    from .jobs import external

    external.run(args.spec, args.checkpoint, args.model, args.info)


# ---------------------------------------------------------------------------------- evaluation, tables


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    _with_spec(p, "model", "info", "logits", "features", "similarity", "summary")
    p.add_argument("--grams-out")
    p.add_argument(
        "--reference-grams", type=json.loads, default=None, help='{"original": path, "retrained": path}'
    )
    p.add_argument("--threads", type=int, default=1)


def _evaluate(args: argparse.Namespace) -> None:
    from .jobs import evaluate

    evaluate.run(
        args.spec,
        args.model,
        args.info,
        args.logits,
        args.features,
        args.similarity,
        args.summary,
        args.grams_out,
        args.reference_grams,
        args.threads,
    )


def _analyze_arguments(p: argparse.ArgumentParser) -> None:
    _with_spec(p)
    p.add_argument(
        "--models",
        required=True,
        type=_spec,
        help="JSON list of {run_id, setting_id, seed, folder} (folder: under the spec's results/models and "
        "results/evaluation) or {run_id, setting_id, seed, info, logits, features, similarity}",
    )
    p.add_argument(
        "--reference-grams",
        required=True,
        type=json.loads,
        help='JSON {"<replicate seed>": {"original": path, "retrained": path}}',
    )
    p.add_argument("--out", required=True, type=json.loads, help="JSON {table: path}")


def _analyze(args: argparse.Namespace) -> None:
    from .jobs import analyze

    analyze.run(args.spec, args.models, args.reference_grams, args.out)


def _audit_arguments(p: argparse.ArgumentParser) -> None:
    _with_spec(p)
    p.add_argument("--models", required=True, type=_spec, help="JSON list, as analyze's --models")
    p.add_argument("--out", required=True, type=json.loads, help="JSON {audit: path, audit_instances: path}")


def _audit(args: argparse.Namespace) -> None:
    from .jobs import audit

    audit.run(args.spec, args.models, args.out)


def _tables_arguments(p: argparse.ArgumentParser) -> None:
    _with_spec(p, "subset")
    p.add_argument("--fragments", required=True, type=_spec)
    p.add_argument("--out", required=True, type=json.loads)


def _tables(args: argparse.Namespace) -> None:
    from .jobs import tables

    tables.run(args.spec, args.fragments, args.subset, args.out)


def _import_comparator_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="folder with {fc}/{id}.json files")
    p.add_argument("out", help="tables folder to write")


def _import_comparator(args: argparse.Namespace) -> None:
    from .interop.comparator_json import convert

    convert(args.src, args.out)


def _table_docs_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="the Markdown file to update, docs/tables.md")


def _table_docs(args: argparse.Namespace) -> None:
    from .tables.schema import write_column_docs

    write_column_docs(args.path)


# ------------------------------------------------------------------------------------------ the table

COMMANDS: dict[str, Command] = {
    "check-config": Command(
        "validate a config file and print the resolved config", _check_config_arguments, _check_config
    ),
    "fetch-data": Command(
        "find or download a data set (torchvision's download)", _fetch_data_arguments, _fetch_data
    ),
    "data": Command(
        "make sure the configured data set is on disk; write its manifest (the data rule)",
        _data_arguments,
        _data,
    ),
    "subsets": Command(
        "choose the evaluation subset; write subset.arrow and thumbnails.png",
        _subsets_arguments,
        _subsets,
        reads_data=True,
    ),
    "train": Command(
        "train the original model, or retrain without the spec's forget_set (or --forget-class)",
        _train_arguments,
        _train,
        reads_data=True,
    ),
    "unlearn": Command("run one method at one grid point", _unlearn_arguments, _unlearn, reads_data=True),
    "evaluate": Command(
        "one forward pass per split: logits, features, Grams, similarity",
        _evaluate_arguments,
        _evaluate,
        reads_data=True,
    ),
    "analyze": Command(
        "metrics, attack, embeddings and reference similarity of one forget set, over every replicate",
        _analyze_arguments,
        _analyze,
        reads_data=True,
    ),
    "audit": Command(
        "the per-example privacy audit (U-LiRA, RMIA, the challenge's epsilon) of one forget set",
        _audit_arguments,
        _audit,
    ),
    "tables": Command(
        "consolidate the forget sets' fragments into the experiment's tables", _tables_arguments, _tables
    ),
    "import-checkpoint": Command(
        "bring in an externally unlearned model (weights_only loading)",
        _import_checkpoint_arguments,
        _import_checkpoint,
    ),
    "import-comparator": Command(
        "convert the upstream Comparator's result JSONs into tables",
        _import_comparator_arguments,
        _import_comparator,
    ),
    "table-docs": Command(
        "regenerate the column tables of docs/tables.md from the table schemas",
        _table_docs_arguments,
        _table_docs,
    ),
}

# The commands whose rules must wait for the data rule (tests/test_data_rule.py checks the rule files).
DATA_READERS = frozenset(name for name, command in COMMANDS.items() if command.reads_data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unlearning_comparator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.arguments(sub.add_parser(name, help=command.help))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command].run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
