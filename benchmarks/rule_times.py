"""Summarise a run's Snakemake benchmark files per rule, as a Markdown table.

    python benchmarks/rule_times.py results/fashion-mnist-compact

Every compute rule writes ``results/<exp>/benchmarks/<rule>/<wildcards>.tsv`` (wall seconds, peak
memory, CPU time). This prints, per rule: the number of jobs, the total, median and largest wall time,
and the largest peak resident memory.
"""

from __future__ import annotations

import csv
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
