"""Job: consolidate the forget sets' fragments into the experiment's tables (docs/tables.md)."""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from typing import Any

import pyarrow as pa

from ..data import DATASETS
from ..forget_sets import ForgetSet
from ..models import create_model, display_name
from ..tables import concat, read_table, schemas, write_table
from .common import log


def _spec_forget_sets(spec: dict[str, Any]) -> list[ForgetSet]:
    """The spec's forget sets; a spec written before forget sets lists classes only."""
    if spec.get("forget_sets"):
        return [ForgetSet.from_json(d) for d in spec["forget_sets"]]
    return [ForgetSet.of_classes(c) for c in spec.get("forget_classes") or []]


def forget_sets_description(
    spec: dict[str, Any], class_names: list[str], table: pa.Table | None = None
) -> list[dict[str, Any]]:
    """The metadata's ``forget_sets``: id, display name, kind, classes, fraction, draw seed and size of each
    forget set, in the config's order; fraction (the actual share for class-wise sets) and size come from
    the forget_sets table, which the analysis computed from the data (null without it)."""
    measured = {r["forget_set"]: r for r in (table.to_pylist() if table is not None else [])}
    described = []
    for fs in _spec_forget_sets(spec):
        row = measured.get(fs.id, {})
        described.append(
            {
                "id": fs.id,
                "name": fs.display_name(class_names),
                "kind": fs.kind,
                "classes": list(fs.classes),
                "fraction": row.get("fraction", fs.fraction),
                "seed": fs.seed,
                "size": row.get("size"),
            }
        )
    return described


def experiment_description(
    spec: dict[str, Any],
    subset_meta: dict[bytes, bytes],
    umap_meta: bytes | None,
    selection_meta: bytes | None = None,
    forget_sets_table: pa.Table | None = None,
) -> dict[str, Any]:
    info = DATASETS[spec["dataset"]]
    sets = _spec_forget_sets(spec)
    model = create_model(spec["model"], info.num_classes, info.channels)
    return {
        "name": spec["name"],
        "title": spec.get("title") or spec["name"],
        "dataset": spec["dataset"],
        "dataset_name": info.display_name,
        "model": spec["model"],
        "model_name": display_name(spec["model"]),
        "class_names": list(info.class_names),
        "num_classes": info.num_classes,
        "channels": info.channels,
        "image_size": info.image_size,
        "layers": [name for name, _ in model.layer_groups()],
        # the one-class sets' classes, as before forget sets (readers of older experiments use it)
        "forget_classes": [fs.forget_class for fs in sets if fs.forget_class is not None],
        "forget_sets": forget_sets_description(spec, list(info.class_names), forget_sets_table),
        "seed": spec["seed"],
        "seeds": [int(s) for s in (spec.get("seeds") or [spec["seed"]])],
        # methods the workflow did not run on some forget set ({method, forget_set, reason})
        "refused": list(spec.get("refused") or []),
        "sprite_columns": int(subset_meta.get(b"sprite_columns", b"0")),
        "sprite_rows": int(subset_meta.get(b"sprite_rows", b"0")),
        "umap": json.loads(umap_meta) if umap_meta else None,
        # the validation split the settings were chosen on (written by the analysis, the same for every
        # forget class): validation_fraction, its images in all and per class, the test images left
        "selection": json.loads(selection_meta) if selection_meta else None,
        "attack": spec["analysis"]["attack"],
        # the privacy audit's settings (shadow_models, rmia_a); null when the experiment ran without it
        "audit": spec.get("audit") if (spec.get("audit") or {}).get("shadow_models") else None,
        "training": spec["training"],
        "versions": {p: version(p) for p in ("torch", "torchvision", "umap-learn", "scikit-learn", "pyarrow")}
        | {"python": platform.python_version()},
        **_evaluation_precision(spec),
    }


def _evaluation_precision(spec: dict[str, Any]) -> dict[str, str]:
    """The evaluation's arithmetic (config evaluation.precision), recorded when the job's spec carries it."""
    precision = (spec.get("evaluation") or {}).get("precision")
    return {"evaluation_precision": precision} if precision else {}


def run(
    spec: dict[str, Any], fragments: dict[str, list[str]], subset_table: str, out: dict[str, str]
) -> None:
    table_schemas = schemas(DATASETS[spec["dataset"]].num_classes)
    parts = {name: [read_table(p) for p in paths] for name, paths in fragments.items()}
    umap_meta = next(
        ((t.schema.metadata or {}).get(b"umap") for t in parts["instances"] if t.schema.metadata), None
    )
    selection_meta = next(
        ((t.schema.metadata or {}).get(b"selection") for t in parts["runs"] if t.schema.metadata), None
    )
    subset_meta = read_table(subset_table).schema.metadata or {}
    tables = {name: concat(parts[name], table_schemas[name]) for name in parts}
    description = experiment_description(
        spec, subset_meta, umap_meta, selection_meta, tables.get("forget_sets")
    )
    for name, table in tables.items():
        if name == "runs":
            table = table.replace_schema_metadata({b"experiment": json.dumps(description).encode()})
        elif name == "instances" and umap_meta:
            table = table.replace_schema_metadata({b"umap": umap_meta})
        write_table(table, out[name])
        log(f"{name}: {len(table)} rows")
