"""Summarise a run's Snakemake benchmark files per rule, as a Markdown table.

    python benchmarks/rule_times.py results/fashion-mnist-compact

Every compute rule writes ``results/<exp>/benchmarks/<rule>/<wildcards>.tsv`` (wall seconds, peak
memory, CPU time). This prints, per rule: the number of jobs, the total, median and largest wall time,
and the largest peak resident memory. Then, for the unlearning and evaluation jobs, how much of their
wall time is the compute they exist for — the methods' loops (RTE, from each model's info.json) and
the forward passes and similarity (from each evaluation's summary.json) — and the ratio of job time to
compute time: what the interpreter start, the imports, the data loading and the writing cost on top.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path


def main() -> int:
    results = Path(sys.argv[1] if len(sys.argv) > 1 else "results/fashion-mnist-compact")
    rows: dict[str, list[tuple[float, float]]] = {}
    for path in sorted((results / "benchmarks").glob("**/*.tsv")):
        rule = path.relative_to(results / "benchmarks").parts[0]
        with open(path) as handle:
            for record in csv.DictReader(handle, delimiter="\t"):
                rss = float(record["max_rss"]) if record.get("max_rss") not in (None, "", "-") else 0.0
                rows.setdefault(rule, []).append((float(record["s"]), rss))
    if not rows:
        print(f"no benchmark files under {results / 'benchmarks'}", file=sys.stderr)
        return 1
    print("| rule | jobs | total s | median s | max s | peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    order = [
        "subsets",
        "train_original",
        "retrain",
        "unlearn",
        "import_external",
        "evaluate",
        "analyze",
        "tables",
        "site",
    ]
    for rule in sorted(rows, key=lambda r: order.index(r) if r in order else len(order)):
        seconds = [s for s, _ in rows[rule]]
        print(
            f"| `{rule}` | {len(seconds)} | {sum(seconds):.0f} | {statistics.median(seconds):.1f} | "
            f"{max(seconds):.1f} | {max(r for _, r in rows[rule]):.0f} |"
        )
    total = sum(s for values in rows.values() for s, _ in values)
    print(f"\nsum of job wall times: {total:.0f} s")
    print_overhead(results)
    return 0


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def print_overhead(results: Path) -> None:
    """Job wall time against the compute inside the jobs, for the unlearning and evaluation rules.

    A model's evaluation counts for the evaluate rule when an evaluate job ran for it, else for the
    unlearning job (which evaluates its own model since the two were merged)."""
    bench = results / "benchmarks"
    table = []
    for rule in ("unlearn", "evaluate"):
        wall = loops = passes = 0.0
        jobs = 0
        for path in sorted((bench / rule).glob("**/*.tsv")):
            folder = path.relative_to(bench / rule).with_suffix("")  # e.g. fc0/ga/e3-lr0.001-bs256
            with open(path) as handle:
                wall += sum(float(r["s"]) for r in csv.DictReader(handle, delimiter="\t"))
            jobs += 1
            if rule == "unlearn":
                loops += float(_json(results / "models" / folder / "info.json").get("rte") or 0.0)
                if (bench / "evaluate" / folder.parent / (folder.name + ".tsv")).exists():
                    continue  # evaluated by a job of its own (before the merge)
            summary = _json(results / "evaluation" / folder / "summary.json")
            passes += float(summary.get("forward_seconds") or 0.0)
            passes += float(summary.get("similarity_seconds") or 0.0)
        if jobs:
            table.append((rule, jobs, wall, loops, passes))
    if not table:
        return
    print("\n| rule | jobs | job wall s | unlearning loops s | evaluation s | job / compute |")
    print("|---|---|---|---|---|---|")
    for rule, jobs, wall, loops, passes in table:
        compute = loops + passes
        ratio = f"{wall / compute:.2f}" if compute else "–"
        print(f"| `{rule}` | {jobs} | {wall:.0f} | {loops:.0f} | {passes:.0f} | {ratio} |")
    wall = sum(t[2] for t in table)
    compute = sum(t[3] + t[4] for t in table)
    if compute:
        print(
            f"\nunlearning and evaluation together: {wall:.0f} s of jobs for {compute:.0f} s of compute "
            f"(ratio {wall / compute:.2f}; {wall - compute:.0f} s around the work)"
        )


if __name__ == "__main__":
    sys.exit(main())
