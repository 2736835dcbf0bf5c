"""Measure what ``evaluation.precision: bf16`` changes against float32 on an experiment's trained models.

    python benchmarks/evaluation_precision.py [results/fashion-mnist-compact]
        [--configfile config/config.yaml] [--cores N] [--candidate bf16|float32] [--rerun-baseline]
        [--keep] [--json out.json]

The trained models of the experiment (``models/``: weights and info.json, timestamps kept) and its
evaluation subset are copied into two scratch experiments in a temporary folder, where the workflow
(a snapshot of the repository's Snakefile, workflow/ and methods/, so that both runs use the same code)
re-runs only the evaluation, the analysis and the tables:

* baseline, float32: the experiment's own evaluations are copied too and reused when they were made in
  float32 on this kind of device (only missing ones run); otherwise, or with ``--rerun-baseline``,
  every evaluation runs again in float32;
* candidate: every evaluation runs again with ``evaluation.precision`` = ``--candidate`` (bf16; float32
  measures the comparison's own noise, which is zero where the workflow is deterministic).

Only the evaluation, analysis and tables rules are allowed (``--allowed-rules``); a dry run first checks
that no training, retraining or unlearning job is planned, and afterwards that no model file changed.
Then every numeric column of every table is compared (max |difference| over matching rows), and the
argmax of every logit of every model. Prints a markdown table. Runs on the CPU or, where PyTorch sees
one, on a CUDA GPU (the workflow picks the device; both runs use the same one).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "workflow"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.feather as feather  # noqa: E402
import yaml  # noqa: E402

from unlearning_comparator.tables import TABLES  # noqa: E402

# The columns that identify a row of each table (the rest are values to compare).
KEYS = {
    "runs": ["run_id"],
    "instances": ["run_id", "index"],
    "predictions": ["run_id", "split", "true", "pred"],
    "similarity": ["run_id", "reference", "split", "subset", "reference_layer", "layer"],
    "attack": ["run_id", "scope", "metric", "direction", "threshold"],
}
ALWAYS_SHOWN = {"pred"}  # the predicted class of each subset image: whether every prediction is identical
EMBEDDING = ("x", "y")  # UMAP of the features: reported apart, a small change of features can move a point
EVALUATION_RULES = ["evaluate_original", "evaluate_retrained", "evaluate_compared"]
ANALYSIS_RULES = ["analyze", "tables"]
DATA_RULES = ["data"]  # writes the scratch experiment's data manifest (reads the data, trains nothing)
TRAINING_RULES = {"train_original", "retrain", "unlearn", "import_external"}


# ---- scratch experiments


def scratch_config(configfile: Path, scratch: Path, precision: str) -> Path:
    """The experiment's config with ``evaluation.precision`` set and its relative paths made absolute."""
    config = yaml.safe_load(configfile.read_text())
    config.setdefault("data", {})["root"] = str(ROOT / config.get("data", {}).get("root", "resources/data"))
    config["extra_methods_dirs"] = [str(ROOT / p) for p in config.get("extra_methods_dirs", [])]
    for entry in config.get("external", {}).values():
        entry["checkpoint"] = str(ROOT / entry["checkpoint"])
    config.setdefault("evaluation", {})["precision"] = precision
    path = scratch / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def copy_experiment(experiment: Path, scratch: Path, with_evaluations: bool) -> None:
    """Copy models/ (and the evaluation subset, and optionally evaluation/) keeping timestamps."""
    target = scratch / "results" / experiment.name
    shutil.copytree(experiment / "models", target / "models", copy_function=shutil.copy2)
    (target / "tables").mkdir(parents=True)
    for name in ("subset.arrow", "thumbnails.png"):
        shutil.copy2(experiment / "tables" / name, target / "tables" / name)
    if with_evaluations:
        shutil.copytree(experiment / "evaluation", target / "evaluation", copy_function=shutil.copy2)


def model_stamps(results: Path) -> dict[str, int]:
    return {
        str(p.relative_to(results)): p.stat().st_mtime_ns
        for p in sorted((results / "models").rglob("*"))
        if p.is_file()
    }


def evaluations_reusable(experiment: Path, device_type: str) -> bool:
    """Whether the experiment's evaluations are a float32 baseline on this kind of device.

    Evaluations from before ``evaluation.precision`` existed record none; on the CPU they were float32,
    on CUDA they used TF32, so they are reused only from the CPU."""
    summaries = [json.loads(p.read_text()) for p in (experiment / "evaluation").rglob("summary.json")]
    if not summaries:
        return False
    for summary in summaries:
        ran_on = "cpu" if summary.get("device", "").startswith("cpu") else "cuda"
        precision = summary.get("precision", "float32" if ran_on == "cpu" else "tf32")
        if precision != "float32" or ran_on != device_type:
            return False
    return True


# ---- the workflow


def snapshot_code(work: Path) -> Path:
    """Copy the Snakefile, workflow/ and methods/ once, so that both runs use the same code even if the
    working tree changes meanwhile; jobs import the package from the copy (PYTHONPATH comes first)."""
    code = work / "code"
    code.mkdir()
    shutil.copy2(ROOT / "Snakefile", code / "Snakefile")
    for folder in ("workflow", "methods"):
        shutil.copytree(ROOT / folder, code / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return code


def snakemake(
    code: Path, scratch: Path, config: Path, rules: list[str], cores: int, *extra: str
) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(code / "Snakefile"),
        "--directory",
        str(scratch),
        "tables",
        "--cores",
        str(cores),
        "--workflow-profile",
        "none",
        "--rerun-triggers",
        "mtime",
        *extra,
        "--allowed-rules",
        *rules,
        "--configfile",
        str(config),
    ]
    gpus = _cuda_devices()
    if gpus:
        command[command.index("--cores") : command.index("--cores")] = ["--resources", f"gpu={gpus}"]
    path = os.pathsep.join(filter(None, [str(code / "workflow"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    return subprocess.run(command, cwd=scratch, capture_output=True, text=True, env=env)


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """Jobs per rule from Snakemake's "Job stats" table."""
    jobs: dict[str, int] = {}
    lines = dry_run_output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Job stats:"), None)
    if start is None:
        return jobs
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        if parts[0] != "total":
            jobs[parts[0]] = int(parts[1])
    return jobs


def run_workflow(
    code: Path, scratch: Path, config: Path, rules: list[str], cores: int
) -> tuple[dict[str, int], float]:
    """Re-run ``rules`` up to the tables; refuse if anything that trains would run.

    Returns (jobs, seconds).
    """
    results = next((scratch / "results").iterdir())
    dry = snakemake(code, scratch, config, rules, cores, "-n")
    if dry.returncode != 0:
        raise SystemExit(f"dry run failed:\n{dry.stdout[-3000:]}\n{dry.stderr[-3000:]}")
    jobs = planned_jobs(dry.stdout + dry.stderr)
    if not jobs or TRAINING_RULES & set(jobs) or not set(jobs) <= set(rules):
        raise SystemExit(f"refusing to run: planned jobs {jobs} (only {rules} may run)")
    before = model_stamps(results)
    start = time.perf_counter()
    done = snakemake(code, scratch, config, rules, cores)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"workflow failed in {scratch}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    if model_stamps(results) != before:
        raise SystemExit("a model file changed: something trained")
    return jobs, seconds


# ---- comparison


def _values(series: pd.Series) -> np.ndarray:
    """A float matrix (rows, k) of a numeric or list-of-numbers column; NaN for nulls."""
    first = next((v for v in series if v is not None), None)
    if isinstance(first, (list, np.ndarray)):
        width = len(first)
        return np.stack([np.full(width, np.nan) if v is None else np.asarray(v, float) for v in series])
    return pd.to_numeric(series, errors="coerce").to_numpy(float).reshape(-1, 1)


def _is_float(series: pd.Series) -> bool:
    """A floating-point column, or a column of lists of floats (per-class accuracies, probabilities)."""
    if pd.api.types.is_float_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    first = next((v for v in series if v is not None), None)
    return (
        isinstance(first, (list, np.ndarray))
        and len(first) > 0
        and isinstance(np.asarray(first).flat[0], np.floating)
    )


def max_abs_difference(a: pd.Series, b: pd.Series) -> tuple[float, int]:
    """(max |a - b| over rows where both are finite, rows where exactly one side is null/NaN)."""
    x, y = _values(a), _values(b)
    both = ~np.isnan(x) & ~np.isnan(y)
    one = np.isnan(x) ^ np.isnan(y)
    diff = np.abs(x - y)[both]
    return (float(diff.max()) if diff.size else 0.0), int(one.any(axis=1).sum())


def compare_table(name: str, base: pd.DataFrame, other: pd.DataFrame) -> list[dict]:
    """One row per column: its max |difference| (numeric) or the number of rows that differ (others)."""
    keys = [k for k in KEYS[name] if k in base.columns]
    joined = base.merge(
        other, on=keys, how="outer", suffixes=("_a", "_b"), indicator=True, validate="one_to_one"
    )
    unmatched = int((joined["_merge"] != "both").sum())
    joined = joined[joined["_merge"] == "both"]
    rows = []
    for column in base.columns:
        if column in keys or column not in other.columns:
            continue
        a, b = joined[f"{column}_a"], joined[f"{column}_b"]
        row = {"table": name, "column": column, "rows": len(joined), "unmatched_rows": unmatched}
        if _is_float(a):
            row["max_abs_diff"], row["null_mismatches"] = max_abs_difference(a, b)
            x, y = _values(a), _values(b)
            row["differing_rows"] = int(((x != y) & ~(np.isnan(x) & np.isnan(y))).any(axis=1).sum())
        else:  # labels, predicted classes, names: equal or not
            row["differing_rows"] = int((~((a == b) | (a.isna() & b.isna()))).sum())
        rows.append(row)
    return rows


def _logits(path: Path) -> np.ndarray:
    column = feather.read_table(path).column("logits").combine_chunks()
    return column.flatten().to_numpy().reshape(len(column), -1)


def compare_logits(base: Path, other: Path) -> dict:
    """Over every image of every model: max |Δ logit|, the largest |logit|, and how many argmaxes changed."""
    worst, largest, changed, images = 0.0, 0.0, 0, 0
    for path in sorted(base.rglob("logits.arrow")):
        if feather.read_table(path).num_rows == 0:  # a failed run
            continue
        a, b = _logits(path), _logits(other / path.relative_to(base))
        worst = max(worst, float(np.abs(a - b).max()))
        largest = max(largest, float(np.abs(a).max()))
        changed += int((a.argmax(1) != b.argmax(1)).sum())
        images += len(a)
    return {"max_abs_diff": worst, "max_abs_logit": largest, "argmax_changed": changed, "images": images}


def embedding_shift(base: pd.DataFrame, other: pd.DataFrame) -> dict:
    joined = base.merge(other, on=KEYS["instances"], suffixes=("_a", "_b"))
    shift = np.hypot(joined["x_a"] - joined["x_b"], joined["y_a"] - joined["y_b"]).to_numpy()
    width = float(max(np.ptp(base["x"]), np.ptp(base["y"])))
    return {"median_shift": float(np.median(shift)), "max_shift": float(shift.max()), "layout_width": width}


def read(results: Path, name: str) -> pd.DataFrame:
    return feather.read_table(results / "tables" / f"{name}.arrow").to_pandas()


# ---- report


def markdown(rows: list[dict], logits: dict, embedding: dict) -> str:
    lines = ["| table | column | max abs difference | rows that differ | rows |", "|---|---|---|---|---|"]
    for r in rows:
        if r["column"] in EMBEDDING and r["table"] == "instances":
            continue
        if "max_abs_diff" not in r and r["differing_rows"] == 0 and r["column"] not in ALWAYS_SHOWN:
            continue  # an unchanged label or name
        diff = f"{r['max_abs_diff']:.3g}" if "max_abs_diff" in r else "—"
        if r.get("null_mismatches"):
            diff += f" ({r['null_mismatches']} null on one side)"
        lines.append(f"| {r['table']} | {r['column']} | {diff} | {r['differing_rows']} | {r['rows']} |")
    lines.append(
        f"| evaluation | logits (every image) | {logits['max_abs_diff']:.3g} (largest logit "
        f"{logits['max_abs_logit']:.3g}) | argmax changed for {logits['argmax_changed']} | "
        f"{logits['images']} |"
    )
    lines += [
        "",
        "Embedding (UMAP of the features, aligned): points moved by a median "
        f"{embedding['median_shift']:.3g}, "
        f"at most {embedding['max_shift']:.3g}, in a layout {embedding['layout_width']:.3g} wide.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("experiment", nargs="?", default="results/fashion-mnist-compact", type=Path)
    parser.add_argument(
        "--configfile",
        type=Path,
        default=ROOT / "config" / "config.yaml",
        help="the config the experiment was run with (its name must be the folder's)",
    )
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--candidate",
        choices=["bf16", "float32"],
        default="bf16",
        help="the precision compared with float32; float32 measures the comparison's own noise",
    )
    parser.add_argument(
        "--rerun-baseline", action="store_true", help="evaluate the float32 baseline again too"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch experiments")
    parser.add_argument("--json", type=Path, help="also write the comparison here")
    args = parser.parse_args()
    experiment = args.experiment.resolve()
    name = yaml.safe_load(args.configfile.read_text())["name"]
    if name != experiment.name or not (experiment / "tables" / "subset.arrow").is_file():
        raise SystemExit(
            f"{experiment} is not a run of {args.configfile} (name {name!r}) with trained models"
        )

    device_type = "cuda" if _cuda_devices() else "cpu"
    reuse = not args.rerun_baseline and evaluations_reusable(experiment, device_type)
    # (scratch folder, precision, copy the experiment's evaluations, rules allowed to run)
    rules = DATA_RULES + EVALUATION_RULES + ANALYSIS_RULES
    runs = [
        ("baseline", "float32", reuse, rules),  # reused evaluations are up to date
        ("candidate", args.candidate, False, rules),
    ]
    report = {"device": device_type, "candidate": args.candidate, "baseline_reused": reuse, "runs": {}}
    work = Path(tempfile.mkdtemp(prefix="uc-precision-"))
    started = time.perf_counter()
    try:
        code = snapshot_code(work)
        for folder, precision, with_evaluations, rules in runs:
            scratch = work / folder
            scratch.mkdir()
            copy_experiment(experiment, scratch, with_evaluations)
            config = scratch_config(args.configfile, scratch, precision)
            jobs, seconds = run_workflow(code, scratch, config, rules, args.cores)
            report["runs"][folder] = {"precision": precision, "jobs": jobs, "seconds": seconds}
            print(
                f"{folder} ({precision}): {sum(jobs.values())} jobs "
                f"({', '.join(f'{k} {v}' for k, v in jobs.items())}) in {seconds:.0f} s on the {device_type}",
                flush=True,
            )
        report["seconds"] = time.perf_counter() - started
        base, other = (work / folder / "results" / experiment.name for folder in ("baseline", "candidate"))
        rows = [r for t in TABLES for r in compare_table(t, read(base, t), read(other, t))]
        report["columns"] = rows
        report["logits"] = compare_logits(base / "evaluation", other / "evaluation")
        report["embedding"] = embedding_shift(read(base, "instances"), read(other, "instances"))
        print(
            f"\n{args.candidate} against float32 "
            f"({'reused' if reuse else 're-evaluated'} float32 evaluations), on the "
            f"{device_type}, {report['seconds']:.0f} s in all:\n"
        )
        print(markdown(rows, report["logits"], report["embedding"]))
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    finally:
        if args.keep:
            print(f"\nscratch experiments kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
