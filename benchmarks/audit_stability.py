"""How the privacy audit's figures settle as the number of shadow models K grows (the README's table).

    python benchmarks/audit_stability.py results/fashion-mnist-audit --shadow-models 2 4 8

For each K, the audit of an experiment with K + 1 seeds is redone from the logits of the finished
experiment's first K + 1 replicates (no model runs again; the workflow's own audit job, so the figures are
the ones such an experiment would report): per forget set and setting, U-LiRA's and offline RMIA's pooled
AUC and TPR at 1 % FPR, and the challenge's forget quality F over its N = K + 1 models of each kind. The
experiment must have run with at least max(K) + 1 seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pyarrow.feather as feather

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from unlearning_comparator.config import Replicate  # noqa: E402
from unlearning_comparator.forget_sets import ForgetSet  # noqa: E402
from unlearning_comparator.jobs import audit as audit_job  # noqa: E402

FIGURES = ("ulira_auc_setting", "ulira_tpr_1pct_setting", "rmia_auc_setting", "rmia_tpr_1pct_setting")
SHORT = {
    "ulira_auc_setting": "U-LiRA AUC",
    "ulira_tpr_1pct_setting": "U-LiRA TPR@1%",
    "rmia_auc_setting": "RMIA AUC",
    "rmia_tpr_1pct_setting": "RMIA TPR@1%",
    "forget_quality": "F",
}


def _forget_set(row: dict) -> ForgetSet:
    if row["kind"] == "random":
        return ForgetSet.random_fraction(row["fraction"], row["draw_seed"])
    return ForgetSet.of_classes(*row["classes"])


def _folder(run: dict, forget_set: ForgetSet) -> str:
    """Where a model's info.json and evaluation tables are (the workflow's folders of a replicate; an
    audited experiment always has several seeds)."""
    replicate = Replicate(run["seed"], tagged=True)
    if run["type"] == "original":
        return replicate.original_folder
    if run["type"] == "retrained":
        return f"{replicate.set_folder(forget_set)}/retrained"
    key = run["setting_id"].removeprefix(f"{forget_set.id}-{run['method']}-")
    return f"{replicate.set_folder(forget_set)}/{run['method']}/{key}"


def audit_with(results: Path, runs: list[dict], forget_set: dict, seeds: list[int], k: int, rmia_a: float):
    fs = _forget_set(forget_set)
    models = [
        {"run_id": r["run_id"], "setting_id": r["setting_id"], "seed": r["seed"], "folder": _folder(r, fs)}
        for r in runs
        if r["forget_set"] == forget_set["forget_set"] and r["type"] != "external" and r["seed"] in seeds
    ]
    spec = {
        "seeds": seeds,
        "forget_set": fs.to_json(),
        "audit": {"shadow_models": k, "rmia_a": rmia_a},
        "results": str(results),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = {t: f"{tmp}/{t}.arrow" for t in ("audit", "audit_instances")}
        audit_job.run(spec, models, out)
        return feather.read_table(out["audit"]).to_pylist()


def _figure(rows: list[dict], setting: str, figure: str) -> float | None:
    """A setting's figure (the same on each of its audited rows; None where none has it)."""
    return next((r[figure] for r in rows if r["setting_id"] == setting and r[figure] is not None), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--shadow-models", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args()
    tables = args.results / "tables"
    runs_table = feather.read_table(tables / "runs.arrow")
    experiment = json.loads(runs_table.schema.metadata[b"experiment"])
    seeds = experiment["seeds"]
    rmia_a = (experiment.get("audit") or {}).get("rmia_a", 0.3)
    needed = max(args.shadow_models) + 1
    if needed > len(seeds):
        parser.error(f"K = {needed - 1} needs {needed} seeds; {args.results} has {len(seeds)}")
    runs = runs_table.to_pylist()
    names = {r["setting_id"]: r["method_name"] or r["type"] for r in runs}
    for forget_set in feather.read_table(tables / "forget_sets.arrow").to_pylist():
        by_k = {
            k: audit_with(args.results, runs, forget_set, seeds[: k + 1], k, rmia_a)
            for k in args.shadow_models
        }
        print(f"\nforget set {forget_set['name']} ({forget_set['forget_set']}), seeds {seeds[:needed]}:\n")
        ks = " / ".join(str(k) for k in args.shadow_models)
        print("| model | " + " | ".join(f"{SHORT[f]}, K = {ks}" for f in (*FIGURES, "forget_quality")) + " |")
        print("|---|" + "---|" * (len(FIGURES) + 1))
        settings = list(dict.fromkeys(r["setting_id"] for r in by_k[args.shadow_models[0]]))
        for setting in settings:
            cells = []
            for figure in (*FIGURES, "forget_quality"):
                values = [_figure(by_k[k], setting, figure) for k in args.shadow_models]
                cells.append(" / ".join("–" if v is None else f"{v:.3f}" for v in values))
            print(f"| {names.get(setting, setting)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
