"""How well the anchored embeddings hold still and how far changed neighbourhoods move, on a finished run.

    python benchmarks/embedding_alignment.py results/fashion-mnist-compact

For every forget class of the experiment it recomputes, from the stored penultimate features
(``evaluation/*/features.arrow``) and the config's UMAP settings (``runs.arrow``'s experiment metadata):

* the reference layout (the original model's UMAP) and the original's own anchored layout, which must
  equal it (displacement 0);
* every other model's anchored layout: the median and 90th-percentile displacement of its forget-class
  points and of its other points, in per cent of the reference layout's width, and their ratio;
* for the retrained model, the same for an independent UMAP fit mapped onto the reference by Procrustes
  (what aligning by rotation and scale alone would give), trustworthiness at k = n_neighbors of both
  (sklearn.manifold.trustworthiness against the model's own features), and the share of a forget-class
  image's nearest neighbours that are forget-class images in the reference layout, in the anchored
  layout and in the retrained model's feature space;
* the seconds each anchored layout took.

It prints one markdown table per forget class and a JSON summary on the last line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.feather as feather

from unlearning_comparator.embedding import (
    UmapParams,
    aligned_layout,
    layout_neighbours,
    nearest_neighbours,
    procrustes,
    reference_layout,
)
from unlearning_comparator.tables import experiment_metadata, read_table


def features(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    table = feather.read_table(folder / "features.arrow")
    values = table.column("features").combine_chunks().flatten().to_numpy()
    # float32 as stored, as the analysis job reads them: the layouts are then exactly the site's
    return values.reshape(len(table), -1), table.column("index").to_numpy()


def displacement(layout: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return 100 * np.linalg.norm(layout - reference, axis=1) / np.ptp(reference, axis=0).max()


def own_class_share(points: np.ndarray, is_forget: np.ndarray, k: int) -> float:
    neighbours, _ = nearest_neighbours(points, k + 1)
    return float(is_forget[neighbours[is_forget, 1:]].mean())


def params_of(experiment: Path) -> UmapParams:
    meta = experiment_metadata(read_table(experiment / "tables" / "runs.arrow").schema)
    umap = meta.get("umap") or {}
    fields = {k: umap[k] for k in UmapParams.__dataclass_fields__ if k in umap}
    return UmapParams(**{**fields, "seed": int(meta.get("seed", fields.get("seed", 0)))})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiment", type=Path, help="results/<name> of a finished run")
    parser.add_argument(
        "--forget-classes", type=int, nargs="*", help="default: every forget class of the run"
    )
    args = parser.parse_args(argv)
    experiment: Path = args.experiment
    params = params_of(experiment)
    subset = read_table(experiment / "tables" / "subset.arrow")
    label_of = dict(zip(subset.column("index").to_pylist(), subset.column("label").to_pylist()))
    original, index = features(experiment / "evaluation" / "original")
    labels = np.array([label_of[int(i)] for i in index])
    runs = read_table(experiment / "tables" / "runs.arrow").to_pylist()
    classes = args.forget_classes or sorted({int(r["forget_class"]) for r in runs})

    t0 = time.perf_counter()
    reference = reference_layout(original, params)
    original_neighbours = layout_neighbours(original, params)
    print(
        f"reference layout (UMAP, {params.n_epochs} epochs, numba compilation included): "
        f"{time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    summary: dict[str, dict] = {}
    for fc in classes:
        is_forget = labels == fc
        folders = {
            "original": experiment / "evaluation" / "original",
            "retrained": experiment / "evaluation" / f"fc{fc}" / "retrained",
        }
        for run in runs:
            if (
                int(run["forget_class"]) == fc
                and run["type"] in ("unlearned", "external")
                and run["status"] == "ok"
            ):
                folder = run["run_id"].split(
                    "-", 2
                )  # fc<c>-<method>-<key> -> evaluation/fc<c>/<method>/<key>
                candidate = (
                    experiment / "evaluation" / folder[0] / folder[1] / folder[2]
                    if len(folder) == 3
                    else None
                )
                if candidate is not None and (candidate / "features.arrow").is_file():
                    folders[run["run_id"]] = candidate
        rows = []
        for name, folder in folders.items():
            model_features, model_index = features(folder)
            assert np.array_equal(model_index, index), f"{folder}: subset order differs from the original's"
            t0 = time.perf_counter()
            layout = aligned_layout(model_features, original_neighbours, reference, params)
            seconds = time.perf_counter() - t0
            shift = displacement(layout, reference)
            forget, retain = np.median(shift[is_forget]), np.median(shift[~is_forget])
            rows.append(
                {
                    "model": name,
                    "forget_median": forget,
                    "retain_median": retain,
                    "ratio": forget / retain if retain > 0 else float("nan"),
                    "forget_p90": np.percentile(shift[is_forget], 90),
                    "retain_p90": np.percentile(shift[~is_forget], 90),
                    "seconds": seconds,
                }
            )
            if name == "retrained":
                from sklearn.manifold import trustworthiness

                independent = procrustes(reference_layout(model_features, params), reference)
                free = displacement(independent, reference)
                k = params.n_neighbors
                retrained = {
                    "independent_forget_median": float(np.median(free[is_forget])),
                    "independent_retain_median": float(np.median(free[~is_forget])),
                    "trustworthiness_anchored": float(trustworthiness(model_features, layout, n_neighbors=k)),
                    "trustworthiness_independent": float(
                        trustworthiness(model_features, independent, n_neighbors=k)
                    ),
                    "forget_share_reference_layout": own_class_share(reference, is_forget, k),
                    "forget_share_anchored_layout": own_class_share(layout, is_forget, k),
                    "forget_share_independent_layout": own_class_share(independent, is_forget, k),
                    "forget_share_model_features": own_class_share(model_features, is_forget, k),
                }
        print(f"\n### forget class {fc}\n")
        print("| model | forget median % | other median % | ratio | forget p90 % | other p90 % | s |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['model']} | {r['forget_median']:.2f} | {r['retain_median']:.2f} | {r['ratio']:.2f} | "
                f"{r['forget_p90']:.2f} | {r['retain_p90']:.2f} | {r['seconds']:.2f} |"
            )
        print("\nretrained model: " + ", ".join(f"{k} {v:.3f}" for k, v in retrained.items()))
        summary[str(fc)] = {"rows": rows, "retrained": retrained}
    print(json.dumps(summary, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
