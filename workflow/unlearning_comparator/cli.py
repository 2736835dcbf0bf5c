"""Command-line entry points of the workflow's jobs (``python -m unlearning_comparator <command>``).

The Snakemake rules call these; each can also be run by hand. ``--spec`` is a JSON object with the
part of the resolved config that the job needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _spec(text: str) -> dict:
    return json.loads(Path(text[1:]).read_text()) if text.startswith("@") else json.loads(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="unlearning_comparator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check-config", help="validate a config file and print the resolved config")
    p.add_argument("config")
    p.add_argument("--methods-dir", default="methods")

    p = sub.add_parser("fetch-data", help="find or download a data set (torchvision's download)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--root", default="resources/data")

    p = sub.add_parser("subsets", help="choose the evaluation subset; write subset.arrow and thumbnails.png")
    p.add_argument("--spec", required=True, type=_spec)
    p.add_argument("--subset", required=True)
    p.add_argument("--thumbnails", required=True)

    p = sub.add_parser("train", help="train the original model, or retrain without --forget-class")
    p.add_argument("--spec", required=True, type=_spec)
    p.add_argument("--forget-class", type=int)
    p.add_argument("--model", required=True)
    p.add_argument("--info", required=True)
    p.add_argument("--threads", type=int, default=1)

    p = sub.add_parser("unlearn", help="run one method at one grid point")
    p.add_argument("--spec", required=True, type=_spec)
    p.add_argument("--base", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--info", required=True)
    p.add_argument("--threads", type=int, default=1)

    p = sub.add_parser("evaluate", help="one forward pass per split: logits, features, Grams, similarity")
    p.add_argument("--spec", required=True, type=_spec)
    p.add_argument("--model", required=True)
    p.add_argument("--info", required=True)
    p.add_argument("--logits", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--similarity", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--grams-out")
    p.add_argument("--reference-grams", type=json.loads, default=None, help='{"original": path, "retrained": path}')
    p.add_argument("--threads", type=int, default=1)

    p = sub.add_parser("analyze", help="metrics, attack, embeddings and reference similarity of one forget class")
    p.add_argument("--spec", required=True, type=_spec)
    p.add_argument("--models", required=True, type=_spec, help="JSON list of {run_id, info, logits, features, similarity}")
    p.add_argument("--reference-grams", required=True, type=json.loads)
    p.add_argument("--out", required=True, type=json.loads, help="JSON {table: path}")

    p = sub.add_parser("tables", help="consolidate the forget classes' fragments into the experiment's tables")
    p.add_argument("--spec", required=True, type=_spec)
    p.add_argument("--fragments", required=True, type=_spec)
    p.add_argument("--subset", required=True)
    p.add_argument("--out", required=True, type=json.loads)

    p = sub.add_parser("import-checkpoint", help="bring in an externally unlearned model (weights_only loading)")
    p.add_argument("--spec", required=True, type=_spec)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--info", required=True)

    p = sub.add_parser("import-comparator", help="convert the upstream Comparator's result JSONs into tables")
    p.add_argument("src", help="folder with {fc}/{id}.json files")
    p.add_argument("out", help="tables folder to write")

    args = parser.parse_args(argv)
    if args.command == "check-config":
        from .config import ConfigError, load_config

        try:
            print(json.dumps(load_config(args.config, args.methods_dir), indent=2))
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
    elif args.command == "fetch-data":
        from .data import DatasetMissingError, load_dataset

        try:
            data = load_dataset(args.dataset, root=args.root, download=True)
        except (DatasetMissingError, OSError, RuntimeError) as exc:
            print(f"could not get {args.dataset}: {exc}", file=sys.stderr)
            return 1
        print(f"{data.info.display_name}: {len(data.train)} training and {len(data.test)} test images in {data.source}")
    elif args.command == "subsets":
        from .jobs import subsets

        subsets.run(args.spec, args.subset, args.thumbnails)
    elif args.command == "train":
        from .jobs import train

        train.run(args.spec, args.model, args.info, args.forget_class, args.threads)
    elif args.command == "unlearn":
        from .jobs import unlearn

        unlearn.run(args.spec, args.base, args.model, args.info, args.threads)
    elif args.command == "evaluate":
        from .jobs import evaluate

        evaluate.run(args.spec, args.model, args.info, args.logits, args.features, args.similarity, args.summary,
                     args.grams_out, args.reference_grams, args.threads)
    elif args.command == "analyze":
        from .jobs import analyze

        analyze.run(args.spec, args.models, args.reference_grams, args.out)
    elif args.command == "tables":
        from .jobs import tables

        tables.run(args.spec, args.fragments, args.subset, args.out)
    elif args.command == "import-checkpoint":
        from .jobs import external

        external.run(args.spec, args.checkpoint, args.model, args.info)
    elif args.command == "import-comparator":
        from .interop.comparator_json import convert

        convert(args.src, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
