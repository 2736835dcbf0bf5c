"""Read an experiment's tables and lay them out as the compact columns the page ships.

Everything the browser needs is packed here into a handful of flat, typed "store" columns (one
ColumnDataSource each, see :mod:`comparator_site.store`). Every run has a fixed-size block in each
store at an offset recorded in the runs store, so the page's JavaScript copies A's and B's slices
into the small plotted sources on a switch and never searches.

:func:`load` reads the tables and calls one ``_pack_<store>`` function per store, in this order:
``acc`` (per-class accuracies), ``pred`` (prediction matrices), ``sim`` (layer similarity), ``atk``
(attack curves), ``inst`` (the evaluation subset's instances) and ``fgt`` (the attack view's dots); and,
per *setting* (a forget set's model type, method and grid point, across replicate seeds: runs.arrow's
``setting_id``), ``sacc`` (the class-wise accuracy's mean and standard deviation over the replicates,
from summary.arrow). Tables with the privacy audit (audit.arrow, optional audit_instances.arrow) add
``roc`` (each audited run's ROC curves) and ``vul`` (its per-image scores of the subset's forget images);
every run also gets its audit figures (``AUDIT_RUN_FIELDS``, ``audit_note``), and every setting their
mean and standard deviation. Without audit.arrow none of this exists and the page is as before.
Each one's docstring gives its block layout, a contract with the page's JavaScript (``js/*.js``;
tests/test_wiring_site.py checks it value by value). In those layouts ``C`` is the number of
classes, ``N`` of subset instances, ``L`` of layers and ``T`` of thresholds.

Tables made before forget sets and seeds (no ``forget_set`` / ``setting_id`` columns, no forget_sets.arrow
or summary.arrow) still load: each run's forget set is ``fc<forget_class>``, its setting is its run id,
and every setting holds one run (n = 1).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unlearning_comparator.summary import mean_std, summary_rows
from unlearning_comparator.tables import experiment_metadata, read_table
from unlearning_comparator.tables.schema import AUDIT_ROC_FPR

TYPE_ORDER = {"original": 0, "retrained": 1, "unlearned": 2, "external": 3}
METRICS = ("entropy", "confidence")
DIRECTIONS = ("above_unlearn", "above_retrain")
REFERENCES = ("original", "retrained")
SPLITS = ("train", "test")
SUBSETS = ("retain", "forget")
RUN_METRICS = ("UA", "RA", "TUA", "TRA", "TA", "RTE", "PS", "PS_challenge", "MIA_efficacy", "avg_gap")
SUMMARY_METRICS = RUN_METRICS + ("val_UA", "val_RA", "val_gap")
DEFAULT_THRESHOLDS = 51  # the workflow's default attack sweep; only used when no run has an attack curve
# the privacy audit (audit.arrow): the experiments table's columns, and what the ROC figure's caption adds
AUDIT_METRICS = ("ulira_auc", "ulira_tpr_1pct", "rmia_auc", "forget_quality")
AUDIT_RUN_FIELDS = AUDIT_METRICS + ("rmia_tpr_1pct",)
# A setting's rows show its figures pooled over its replicates (audit.arrow's *_setting: the literature's
# many-target-model protocol), not the mean of per-model figures, each of which is one draw of training noise
AUDIT_POOLED = {m: f"{m}_setting" for m in ("ulira_auc", "ulira_tpr_1pct", "rmia_auc", "rmia_tpr_1pct")}
ROC_CURVES = ("ulira", "rmia")  # audit.arrow's <curve>_roc_tpr, the columns of the roc store
VUL_FIELDS = ("ulira", "rmia", "epsilon")  # audit_instances.arrow's scores, the columns of the vul store
VUL_QUANTILE = 95  # the vulnerability colours span ± this percentile of a forget set's |U-LiRA| scores


class SiteDataError(ValueError):
    """The tables cannot be turned into a site (missing table, column or rows); the message names the fix."""


@dataclass
class SiteData:
    meta: dict[str, Any]
    title: str
    name: str
    dataset_name: str
    model_name: str
    class_names: list[str]
    layers: list[str]
    forget_classes: list[int]  # the one-class forget sets' classes
    sets: list[dict[str, Any]]  # the forget sets, in the experiment's order (see _forget_sets)
    seeds: list[int]  # the replicate seeds, in order
    refused: list[dict[str, Any]]  # methods not run on a forget set: {method, forget_set, reason}
    runs: list[dict[str, Any]]  # ordered by forget set, then type, then setting, then seed
    settings: list[dict[str, Any]]  # one per (forget set, setting_id), in the runs' order (see _settings)
    subset_index: np.ndarray
    subset_label: np.ndarray
    subset_sprite: np.ndarray  # -1 where there is no thumbnail
    sprite_png: bytes | None
    image_size: int
    sprite_columns: int
    thresholds: int
    # the embedding's coordinates are shipped quantized (see _quantize): per axis [lowest value, step]
    embedding_scale: dict[str, list[float]] = field(default_factory=dict)
    stores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    # per run: start of its block in each store, -1: none
    offsets: dict[str, np.ndarray] = field(default_factory=dict)
    # per setting: start of its block in the sacc store, -1: none
    setting_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    # the privacy audit, None without audit.arrow: {"fpr": the ROC's FPR grid, "instances": whether there
    # are per-image scores of the subset's forget images}
    audit: dict[str, Any] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @cached_property
    def methods(self) -> list[tuple[str, str]]:
        """The experiment's methods (id, name), sorted by name: the table's filter, the overview's colours
        and markers."""
        return sorted(
            {
                (r.get("method") or "", r.get("method_name") or r.get("method") or "")
                for r in self.runs
                if r.get("method")
            },
            key=lambda t: t[1].lower(),
        )


class Subset(NamedTuple):
    """The evaluation subset, in the order of the ``inst`` blocks."""

    index: np.ndarray  # dataset index of each instance
    label: np.ndarray
    sprite: np.ndarray  # position in thumbnails.png, -1 where there is no thumbnail
    sprite_png: bytes | None


def _png_size(png: bytes) -> tuple[int, int]:
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise SiteDataError("thumbnails.png is not a PNG file; rerun the workflow to make it again")
    return struct.unpack(">II", png[16:24])


def _meta_str(meta: dict[str, Any], *keys: str, default: str = "") -> str:
    for key in keys:
        value = meta.get(key)
        if value not in (None, ""):
            return str(value)
    return default


def load(tables_dir: str | Path) -> SiteData:
    """Read ``runs``, ``instances``, ``predictions``, ``similarity``, ``attack`` (and ``subset`` and
    ``thumbnails.png`` when present) from ``tables_dir`` and build the stores."""
    tables_dir = Path(tables_dir)
    meta, rows = _read_runs(tables_dir)
    similarity = read_table(tables_dir / "similarity.arrow")
    class_names, layers = _classes_and_layers(rows, meta, similarity)
    _with_sets_and_settings(rows)
    sets = _forget_sets(tables_dir, meta, rows, class_names)
    seeds = _seeds(meta, rows)
    runs = _ordered_runs(rows, sets, seeds)
    audit = _read_audit(tables_dir)
    if audit is not None:
        _with_audit(runs, audit.rows)
    settings = _settings(runs, _summary_rows(tables_dir, runs))
    instances = read_table(tables_dir / "instances.arrow")
    subset = _subset(tables_dir, instances)
    image_size, sprite_columns = _sprite_geometry(meta, subset.sprite_png)
    row_of = {run["run_id"]: k for k, run in enumerate(runs)}
    _member_positions(sets, instances, runs, row_of, subset)
    C = len(class_names)
    acc = _pack_acc(runs, C)
    pred = _pack_pred(read_table(tables_dir / "predictions.arrow"), row_of, C)
    sim = _pack_sim(similarity, row_of, layers)
    atk, thresholds = _pack_atk(read_table(tables_dir / "attack.arrow"), row_of)
    inst, embedding_scale = _pack_inst(instances, row_of, subset, C)
    fgt = _pack_fgt(instances, runs, sets, row_of, subset, inst_offsets=inst[1])
    sacc = _pack_sacc(settings, C)
    data = SiteData(
        meta=meta,
        **_names(meta, tables_dir),
        class_names=class_names,
        layers=layers,
        forget_classes=[fs["forget_class"] for fs in sets if fs["forget_class"] is not None],
        sets=sets,
        seeds=seeds,
        refused=[r for r in meta.get("refused") or [] if isinstance(r, dict)],
        runs=runs,
        settings=settings,
        subset_index=subset.index,
        subset_label=subset.label,
        subset_sprite=subset.sprite,
        sprite_png=subset.sprite_png,
        image_size=image_size,
        sprite_columns=sprite_columns,
        thresholds=thresholds,
        embedding_scale=embedding_scale,
    )
    packed = {"acc": acc, "pred": pred, "sim": sim, "atk": atk, "inst": inst, "fgt": fgt}
    if audit is not None:
        packed["roc"] = _pack_roc(audit, runs)
        packed["vul"] = _pack_vul(audit.instances, runs, sets, row_of, subset)
        _vulnerability_ranges(sets, runs, *packed["vul"])
        data.audit = {"fpr": audit.fpr, "instances": bool(len(packed["vul"][0]["ulira"]))}
    data.stores = {name: store for name, (store, _) in packed.items()} | {"subset": _pack_subset(subset)}
    data.offsets = {name: offsets for name, (_, offsets) in packed.items()}
    data.stores["sacc"], data.setting_offsets = sacc
    _check(data, tables_dir)
    return data


# --- the runs, classes, layers and subset ------------------------------------------------------------------
def _names(meta: dict[str, Any], tables_dir: Path) -> dict[str, str]:
    """The experiment's name, title, and data set and model display names, as the page shows them."""
    return {
        "name": _meta_str(meta, "name", default=tables_dir.parent.name or "experiment"),
        "title": _meta_str(meta, "title", "name", default="Unlearning experiment"),
        "dataset_name": _meta_str(meta, "dataset_name", "dataset"),
        "model_name": _meta_str(meta, "model_name", "model"),
    }


def _read_runs(tables_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The experiment's metadata and the rows of runs.arrow (which must have some)."""
    table = read_table(tables_dir / "runs.arrow")
    rows = table.to_pylist()
    if not rows:
        raise SiteDataError(f"{tables_dir / 'runs.arrow'} has no rows; the workflow has not finished any run")
    return experiment_metadata(table.schema), rows


def _classes_and_layers(
    rows: list[dict[str, Any]], meta: dict[str, Any], similarity: pa.Table
) -> tuple[list[str], list[str]]:
    """The class names (``class i`` unless the metadata names as many classes as the accuracies have)
    and the layer names (the metadata's, else their order of first appearance in the similarity table)."""
    num_classes = next((len(r["train_acc"]) for r in rows if r.get("train_acc")), None)
    class_names = [str(c) for c in meta.get("class_names") or []]
    if num_classes is None:  # no run has accuracies (all failed)
        num_classes = len(class_names) or 10
    if len(class_names) != num_classes:
        class_names = [f"class {i}" for i in range(num_classes)]
    layers = [str(x) for x in meta.get("layers") or []]
    if not layers:
        layers = list(dict.fromkeys(similarity.column("layer").to_pylist()))
    return class_names, layers


def _with_sets_and_settings(rows: list[dict[str, Any]]) -> None:
    """Each run's forget set and setting (in place); tables made before forget sets have neither column:
    their forget set is ``fc<forget_class>`` and each run is its own setting."""
    for r in rows:
        fc = r.get("forget_class")
        r["forget_class"] = None if fc is None else int(fc)
        if not r.get("forget_set"):
            if fc is None:
                raise SiteDataError(f"run {r['run_id']!r} has neither a forget_set nor a forget_class")
            r["forget_set"] = f"fc{int(fc)}"
        r["setting_id"] = r.get("setting_id") or r["run_id"]


def _forget_sets(
    tables_dir: Path, meta: dict[str, Any], rows: list[dict[str, Any]], class_names: list[str]
) -> list[dict[str, Any]]:
    """The forget sets with a run, in the metadata's order (forget_sets.arrow's, else by forget class, then
    id, for older tables): id, display name, kind, classes and forget class (None unless one class)."""
    described: dict[str, dict[str, Any]] = {}
    if (tables_dir / "forget_sets.arrow").is_file():
        for row in read_table(tables_dir / "forget_sets.arrow").to_pylist():
            described[row["forget_set"]] = {
                "name": row["name"],
                "kind": row["kind"],
                "classes": row["classes"],
            }
    for entry in meta.get("forget_sets") or []:
        if isinstance(entry, dict) and entry.get("id"):
            described[str(entry["id"])] = {**described.get(str(entry["id"]), {}), **entry}
    first_class = {}
    for r in rows:
        first_class.setdefault(r["forget_set"], r["forget_class"])
    order = [i for i in described if i in first_class]
    rest = sorted(
        set(first_class) - set(order), key=lambda i: (first_class[i] is None, first_class[i] or 0, i)
    )
    return [_describe_set(i, described.get(i, {}), first_class[i], class_names) for i in order + rest]


def _describe_set(
    set_id: str, entry: dict[str, Any], forget_class: int | None, class_names: list[str]
) -> dict[str, Any]:
    classes = [int(c) for c in entry.get("classes") or ([] if forget_class is None else [forget_class])]
    kind = str(entry.get("kind") or ("class" if len(classes) == 1 else "classes" if classes else "random"))
    default = " + ".join(class_names[c] if 0 <= c < len(class_names) else str(c) for c in classes) or set_id
    return {
        "id": set_id,
        "name": str(entry.get("name") or default),
        "kind": kind,
        "classes": classes,
        "forget_class": classes[0] if kind == "class" and len(classes) == 1 else None,
    }


def _seeds(meta: dict[str, Any], rows: list[dict[str, Any]]) -> list[int]:
    """The replicate seeds: the metadata's, else one (the runs' first), as before seeds."""
    seeds = [int(s) for s in meta.get("seeds") or []]
    return seeds or [int(rows[0].get("seed") or 0)]


def _ordered_runs(
    rows: list[dict[str, Any]], sets: list[dict[str, Any]], seeds: list[int]
) -> list[dict[str, Any]]:
    """The runs by forget set, then type (original, retrained, unlearned, external), then setting, then
    replicate seed; a run's row in this list is its row in every store's offsets. Each run also gets the
    position of its forget set (``fs``) and of its seed (``seed_pos``; 0 for a seed not listed)."""
    set_pos = {fs["id"]: k for k, fs in enumerate(sets)}
    seed_pos = {s: k for k, s in enumerate(seeds)}
    for r in rows:
        r["fs"] = set_pos[r["forget_set"]]
        r["seed_pos"] = seed_pos.get(r.get("seed"), 0)
    runs = sorted(
        rows,
        key=lambda r: (
            r["fs"],
            TYPE_ORDER.get(r["type"], 9),
            str(r["setting_id"]),
            r["seed_pos"],
            r["run_id"],
        ),
    )
    ids = [r["run_id"] for r in runs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise SiteDataError(
            f"runs.arrow has duplicate run_id values {dup[:5]}; run ids must be unique in an experiment"
        )
    return runs


# --- settings: a forget set's model across replicate seeds ------------------------------------------------
def _summary_rows(tables_dir: Path, runs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """summary.arrow's rows by (forget set, setting); for tables made before it, the same summary computed
    from the runs (by the workflow's own code, so the two cannot differ)."""
    path = tables_dir / "summary.arrow"
    rows = read_table(path).to_pylist() if path.is_file() else summary_rows(runs)
    return {(r["forget_set"], r["setting_id"]): r for r in rows}


def _settings(
    runs: list[dict[str, Any]], summary: dict[tuple[str, str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per (forget set, setting), in the runs' order, with what the experiments table shows.

    A setting of one run is that run (its values, its ``chosen``), so a single-seed experiment shows
    exactly its runs. A setting of several runs takes the summary's means (``M``), standard deviations
    (``M_std``) and ``chosen``. Every setting also has
    ``rows`` (its run rows), ``n``, ``n_ok``, and ``train_acc`` / ``test_acc`` (mean) with ``*_std``.
    Each run gets the position of its setting (``setting``)."""
    settings: list[dict[str, Any]] = []
    index: dict[tuple[str, str], int] = {}
    for k, r in enumerate(runs):
        key = (r["forget_set"], r["setting_id"])
        if key not in index:
            index[key] = len(settings)
            settings.append({"rows": []})
        r["setting"] = index[key]
        settings[index[key]]["rows"].append(k)
    for key, pos in index.items():
        members = [runs[k] for k in settings[pos]["rows"]]
        settings[pos] |= _setting_values(members, summary.get(key))
    return settings


def _setting_values(members: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    ok = [r for r in members if r["status"] == "ok"]
    values = _setting_values_without_audit(members, ok, summary)
    if "audit_note" in members[0]:  # the audit's figures: one run's own, else over the replicates
        values |= _audit_setting_values(members, ok)
    return values


def _audit_setting_values(members: list[dict[str, Any]], ok: list[dict[str, Any]]) -> dict[str, Any]:
    """A setting's audit figures: those of its one run, else pooled over its replicates (``AUDIT_POOLED``),
    else the mean and sample standard deviation over its ok runs (by the summary's own ``mean_std``);
    forget quality is the setting's (the same on every replicate), so it has no spread to show.
    ``audit_note``: its runs' distinct notes."""
    notes = "; ".join(dict.fromkeys(str(r["audit_note"]) for r in members if r.get("audit_note")))
    if len(members) == 1:
        return {**{f"{m}_std": None for m in AUDIT_RUN_FIELDS}, "audit_note": notes or None}
    out: dict[str, Any] = {"audit_note": notes or None}
    for m in AUDIT_RUN_FIELDS:
        key = AUDIT_POOLED.get(m)  # forget quality has none: it is the setting's figure already
        pooled = next((r[key] for r in ok if key and r.get(key) is not None), None)
        if pooled is not None:  # one figure of all the replicates: no spread to show
            out[m], out[f"{m}_std"] = pooled, None
        else:  # tables without the pooled figures: the mean and spread of the per-model ones
            out[m], out[f"{m}_std"], _ = mean_std(r.get(m) for r in ok)
    out["forget_quality_std"] = None
    return out


def _setting_values_without_audit(
    members: list[dict[str, Any]], ok: list[dict[str, Any]], summary: dict[str, Any]
) -> dict[str, Any]:
    first = members[0]
    base = {k: first.get(k) for k in ("forget_set", "fs", "type", "method", "method_name", "epochs", "lr")}
    base |= {"batch_size": first.get("batch_size"), "run_id": first["setting_id"], "n": len(members)}
    base["n_ok"] = len(ok)
    if len(members) == 1:
        return {
            **first,
            **base,
            **{f"{m}_std": None for m in RUN_METRICS},
            "train_acc_std": None,
            "test_acc_std": None,
        }
    values = {
        "status": "ok" if ok else "failed",
        "error": None if ok else first.get("error"),
        "hyperparameters": summary["hyperparameters"],
        "chosen": bool(summary["chosen"]),
        "val_gap": summary["val_gap_mean"],
    }
    for m in RUN_METRICS:
        values[m], values[f"{m}_std"] = summary[f"{m}_mean"], summary[f"{m}_std"]
    for split in ("train", "test"):
        values[f"{split}_acc"] = summary[f"{split}_acc_mean"]
        values[f"{split}_acc_std"] = summary[f"{split}_acc_std"]
    return {**base, **values}


# --- the privacy audit (optional) ------------------------------------------------------------------------
class Audit(NamedTuple):
    rows: dict[str, dict[str, Any]]  # audit.arrow's rows by run id
    fpr: list[float]  # the FPR grid of its ROC curves
    instances: pa.Table  # audit_instances.arrow (no rows when absent)


def _read_audit(tables_dir: Path) -> Audit | None:
    """audit.arrow and audit_instances.arrow, None without the former (experiments without the audit)."""
    path = tables_dir / "audit.arrow"
    if not path.is_file():
        return None
    table = read_table(path)
    raw = (table.schema.metadata or {}).get(b"roc_fpr")
    fpr = [float(x) for x in json.loads(raw)] if raw else list(AUDIT_ROC_FPR)
    columns = ["run_id", "index", *VUL_FIELDS]
    inst_path = tables_dir / "audit_instances.arrow"
    if inst_path.is_file():
        instances = read_table(inst_path, columns=columns)
    else:
        types = {"run_id": pa.string(), "index": pa.int32()}
        instances = pa.table({c: pa.array([], types.get(c, pa.float32())) for c in columns})
    return Audit({r["run_id"]: r for r in table.to_pylist()}, fpr, instances)


def _with_audit(runs: list[dict[str, Any]], rows: dict[str, dict[str, Any]]) -> None:
    """Each run's audit figures and note (in place); a run without an audit row (not audited: an external
    model, say) gets null figures and says so."""
    for r in runs:
        row = rows.get(r["run_id"])
        for m in (*AUDIT_RUN_FIELDS, *AUDIT_POOLED.values()):
            r[m] = None if row is None else row.get(m)
        r["audit_note"] = "not audited" if row is None else row.get("note")


def _subset(tables_dir: Path, instances: pa.Table) -> Subset:
    """The evaluation subset from subset.arrow (sprite positions only if thumbnails.png is there too);
    without it (the upstream converter writes none) the first run's instances, by label, then index."""
    subset_path, thumbs_path = tables_dir / "subset.arrow", tables_dir / "thumbnails.png"
    if not subset_path.is_file():
        first = instances.filter(pc.equal(instances.column("run_id"), instances.column("run_id")[0]))
        index = np.asarray(first.column("index").to_numpy(), dtype=np.int64)
        label = np.asarray(first.column("label").to_numpy(), dtype=np.int64)
        order = np.lexsort((index, label))
        return Subset(index[order], label[order], np.full(len(index), -1), None)
    table = read_table(subset_path)
    index = np.asarray(table.column("index").to_numpy(), dtype=np.int64)
    label = np.asarray(table.column("label").to_numpy(), dtype=np.int64)
    sprite = np.asarray(table.column("sprite").to_numpy(), dtype=np.int64)
    if not thumbs_path.is_file():
        return Subset(index, label, np.full(len(index), -1), None)
    return Subset(index, label, sprite, thumbs_path.read_bytes())


def _sprite_geometry(meta: dict[str, Any], sprite_png: bytes | None) -> tuple[int, int]:
    """(image size, thumbnails per row of the sprite sheet); the latter from the sheet's width when the
    metadata does not say."""
    image_size = int(meta.get("image_size") or 28)
    sprite_columns = int(meta.get("sprite_columns") or 0)
    if sprite_png is not None and not sprite_columns:
        sprite_columns = max(1, _png_size(sprite_png)[0] // image_size)
    return image_size, sprite_columns or 1


# --- the stores: one function each, returning (columns, offset of each run's block) ------------------------
Packed = tuple[dict[str, np.ndarray], np.ndarray]


def _codes(values: list[Any], position: dict[Any, int]) -> np.ndarray:
    """Each value's position (a run's row, a split's index, ...), -1 for values without one."""
    return np.array([position.get(v, -1) for v in values])


def _index_of(names: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}


def _block_offsets(runs_with_block: list[int], num_runs: int, block: int) -> np.ndarray:
    """Blocks back to back in run order: each run's start, -1 for runs without a block."""
    offsets = np.full(num_runs, -1, dtype=np.int32)
    for j, k in enumerate(runs_with_block):
        offsets[k] = j * block
    return offsets


def _pack_acc(runs: list[dict[str, Any]], C: int) -> Packed:
    """``acc``: per run with accuracies, ``C`` rows (class order): columns train, test (float32)."""
    with_acc = [
        k for k, r in enumerate(runs) if r.get("train_acc") is not None and r.get("test_acc") is not None
    ]
    offsets = _block_offsets(with_acc, len(runs), C)
    acc = {split: np.full(len(with_acc) * C, np.nan, np.float32) for split in ("train", "test")}
    for k in with_acc:
        for split in ("train", "test"):
            acc[split][offsets[k] : offsets[k] + C] = np.asarray(runs[k][f"{split}_acc"], dtype=np.float32)
    return acc, offsets


def _pack_pred(predictions: pa.Table, row_of: dict[str, int], C: int) -> Packed:
    """``pred``: per run, ``2·C·C`` rows — split (train, test), then true class, then predicted class:
    columns prop (proportion), conf (mean confidence), as uint16 shares (:func:`_unit_uint16`), 65535 where
    the table has no row."""
    run = _codes(predictions.column("run_id").to_pylist(), row_of)
    split = _codes(predictions.column("split").to_pylist(), _index_of(SPLITS))
    true = predictions.column("true").to_numpy().astype(np.int64)
    pred = predictions.column("pred").to_numpy().astype(np.int64)
    ok = (run >= 0) & (split >= 0) & (true < C) & (pred < C) & (true >= 0) & (pred >= 0)
    block = 2 * C * C
    with_rows = sorted(set(run[ok].tolist()))
    offsets = _block_offsets(with_rows, len(row_of), block)
    where = offsets[run[ok]] + split[ok] * C * C + true[ok] * C + pred[ok]
    store = {}
    for name, column in (("prop", "proportion"), ("conf", "mean_confidence")):
        values = np.full(len(with_rows) * block, np.nan, np.float64)
        values[where] = predictions.column(column).to_numpy()[ok]
        store[name] = _unit_uint16(values)
    return store, offsets


def _pack_sim(similarity: pa.Table, row_of: dict[str, int], layers: list[str]) -> Packed:
    """``sim``: per run, ``2·2·2·L`` rows — reference (original, retrained), then split (train, test),
    then subset (retain, forget), then layer: column cka (float32). Only the diagonal of the CKA matrix
    (reference layer = model layer) is kept: the site shows no more."""
    L = len(layers)
    run = _codes(similarity.column("run_id").to_pylist(), row_of)
    layer_pos = _index_of(tuple(layers))
    model_layers = similarity.column("layer").to_pylist()
    reference_layers = similarity.column("reference_layer").to_pylist()
    layer = np.array([layer_pos.get(a, -1) if a == b else -1 for a, b in zip(reference_layers, model_layers)])
    ref = _codes(similarity.column("reference").to_pylist(), _index_of(REFERENCES))
    split = _codes(similarity.column("split").to_pylist(), _index_of(SPLITS))
    sub = _codes(similarity.column("subset").to_pylist(), _index_of(SUBSETS))
    ok = (run >= 0) & (layer >= 0) & (ref >= 0) & (split >= 0) & (sub >= 0)
    block = 8 * L
    with_rows = sorted(set(run[ok].tolist()))
    offsets = _block_offsets(with_rows, len(row_of), block)
    store = {"cka": np.full(len(with_rows) * block, np.nan, np.float32)}
    where = offsets[run[ok]] + ((ref[ok] * 2 + split[ok]) * 2 + sub[ok]) * L + layer[ok]
    store["cka"][where] = similarity.column("cka").to_numpy()[ok]
    return store, offsets


def _pack_atk(attack: pa.Table, row_of: dict[str, int]) -> tuple[Packed, int]:
    """``atk``: per run, ``2·2·T`` rows — metric (entropy, confidence), then direction (above_unlearn,
    above_retrain), then threshold (ascending): columns thr, fpr, fnr, score (float32). A run's curves
    are its ``subset``-scope ones, or its ``forget_set`` ones if it has none. Also returns ``T``."""
    scope = attack.column("scope").to_pylist()
    run_all = _codes(attack.column("run_id").to_pylist(), row_of)
    scopes_of: dict[int, set[str]] = {}
    for k, s in zip(run_all.tolist(), scope):
        scopes_of.setdefault(k, set()).add(s)
    shown_scope = {k: ("subset" if "subset" in scopes else "forget_set") for k, scopes in scopes_of.items()}
    shown = np.array(
        [k >= 0 and shown_scope.get(k) == s for k, s in zip(run_all.tolist(), scope)], dtype=bool
    )
    col = {
        "run": run_all[shown],
        "metric": _codes(attack.column("metric").to_pylist(), _index_of(METRICS))[shown],
        "direction": _codes(attack.column("direction").to_pylist(), _index_of(DIRECTIONS))[shown],
        **{
            name: attack.column(source).to_numpy()[shown]
            for name, source in (
                ("thr", "threshold"),
                ("fpr", "fpr"),
                ("fnr", "fnr"),
                ("score", "attack_score"),
            )
        },
    }
    ok = (col["metric"] >= 0) & (col["direction"] >= 0)
    col = {name: values[ok] for name, values in col.items()}
    order = np.lexsort((col["thr"], col["direction"], col["metric"], col["run"]))
    col = {name: values[order] for name, values in col.items()}
    run, metric, direction = col["run"], col["metric"], col["direction"]
    # the position of each row in its (run, metric, direction) curve, in threshold order
    curve = run * 4 + metric * 2 + direction
    if len(curve):
        starts = np.r_[0, np.flatnonzero(np.diff(curve)) + 1]
        rank = np.arange(len(curve)) - np.repeat(starts, np.diff(np.r_[starts, len(curve)]))
    else:
        rank = np.array([], dtype=np.int64)
    T = int(rank.max()) + 1 if len(rank) else DEFAULT_THRESHOLDS
    block = 4 * T
    with_rows = sorted(set(run.tolist()))
    offsets = _block_offsets(with_rows, len(row_of), block)
    store = {
        name: np.full(len(with_rows) * block, np.nan, np.float32) for name in ("thr", "fpr", "fnr", "score")
    }
    where = offsets[run] + (metric * 2 + direction) * T + rank
    for name, values in store.items():
        values[where] = col[name]
    return (store, offsets), T


def _instance_slots(
    instances: pa.Table, row_of: dict[str, int], subset: Subset
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of the instances table: its run's row, its position in the subset, and whether it has both."""
    run = _codes(instances.column("run_id").to_pylist(), row_of)
    position = {int(i): p for p, i in enumerate(subset.index)}
    pos = np.array([position.get(int(x), -1) for x in instances.column("index").to_numpy()])
    return run, pos, (run >= 0) & (pos >= 0)


QUANT_MISSING = 65535  # a quantized coordinate with no value (the instance has no row for the run)


UNIT_STEPS = QUANT_MISSING - 1  # the top quantized value: a share in [0, 1] is q / UNIT_STEPS


def _to_uint16(scaled: np.ndarray) -> np.ndarray:
    """Values already scaled to [0, UNIT_STEPS] as uint16 (rounded, clipped); NaN as QUANT_MISSING."""
    finite = np.isfinite(scaled)
    q = np.full(scaled.shape, QUANT_MISSING, np.uint16)
    q[finite] = np.clip(np.rint(scaled[finite]), 0, UNIT_STEPS).astype(np.uint16)
    return q


def _quantize(values: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Coordinates as uint16 over their common range: value = lowest + q × step, q = 65535 where there is
    none. A step of 1/65534 of the range is far below a pixel, and the store is half the size of float32
    (random-looking coordinates hardly gzip: they were the largest part of the page)."""
    finite = np.isfinite(values)
    lo = float(values[finite].min()) if finite.any() else 0.0
    hi = float(values[finite].max()) if finite.any() else 0.0
    step = (hi - lo) / UNIT_STEPS or 1.0
    return _to_uint16((values - lo) / step), [lo, step]


def _unit_uint16(values: np.ndarray) -> np.ndarray:
    """Shares in [0, 1] (proportions, confidences) as uint16 steps of 1/65534, far below the three
    decimals the page shows; NaN as QUANT_MISSING."""
    return _to_uint16(np.clip(values, 0.0, 1.0) * UNIT_STEPS)


def _pack_inst(
    instances: pa.Table, row_of: dict[str, int], subset: Subset, C: int
) -> tuple[Packed, dict[str, list[float]]]:
    """``inst``: per run, ``N`` rows in subset order: columns x, y (the embedding, uint16 quantized: see
    :func:`_quantize`; the returned scale is ``[lowest, step]`` per axis), pred (uint8, 255 where the table
    has no row) and p0 … p{C-1} (the probabilities ×1000, rounded, as uint16)."""
    N = len(subset.index)
    run, pos, ok = _instance_slots(instances, row_of, subset)
    with_rows = sorted(set(run[ok].tolist()))
    offsets = _block_offsets(with_rows, len(row_of), N)
    where = offsets[run[ok]] + pos[ok]
    store, scale = {}, {}
    for axis in ("x", "y"):
        coords = np.full(len(with_rows) * N, np.nan, np.float64)
        coords[where] = instances.column(axis).to_numpy()[ok]
        store[axis], scale[axis] = _quantize(coords)
    store["pred"] = np.full(len(with_rows) * N, 255, np.uint8)
    store["pred"][where] = instances.column("pred").to_numpy()[ok].astype(np.uint8)
    flat = instances.column("probs").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    probs = np.zeros((len(with_rows) * N, C), np.uint16)
    probabilities = np.asarray(flat, dtype=np.float64).reshape(-1, C)[ok]
    probs[where] = np.clip(np.rint(probabilities * 1000), 0, 1000).astype(np.uint16)
    for c in range(C):
        store[f"p{c}"] = probs[:, c].copy()
    return (store, offsets), scale


def _member_positions(
    sets: list[dict[str, Any]],
    instances: pa.Table,
    runs: list[dict[str, Any]],
    row_of: dict[str, int],
    subset: Subset,
) -> None:
    """Each forget set's members in the evaluation subset (``pos``: subset positions, ascending), from
    instances.arrow's ``is_forget`` of the set's first run with instances (membership is the set's, the
    same for all its runs); a class-wise set without instances: its classes' images."""
    run, pos, ok = _instance_slots(instances, row_of, subset)
    is_forget = np.asarray(instances.column("is_forget").to_numpy(zero_copy_only=False), dtype=bool)
    run_set = np.array([r["fs"] for r in runs] + [-1])[run]  # -1: an instance of no listed run
    first_run: dict[int, int] = {}
    for k in run[ok].tolist():
        first_run.setdefault(runs[k]["fs"], k)
    for s, fs in enumerate(sets):
        if s in first_run:
            mine = ok & (run == first_run[s]) & is_forget & (run_set == s)
            fs["pos"] = sorted(set(pos[mine].tolist()))
        else:
            fs["pos"] = np.flatnonzero(np.isin(subset.label, fs["classes"])).tolist()


def _pack_fgt(
    instances: pa.Table,
    runs: list[dict[str, Any]],
    sets: list[dict[str, Any]],
    row_of: dict[str, int],
    subset: Subset,
    inst_offsets: np.ndarray,
) -> Packed:
    """``fgt``: per run with instances, one row per subset instance of its forget set (the set's ``pos``,
    in subset order): columns entropy (T = 2), confidence (T = 1), float32 — the attack view's dots.
    Blocks differ in size between forget sets."""
    run, pos, ok = _instance_slots(instances, row_of, subset)
    with_rows = np.flatnonzero(inst_offsets >= 0)
    where = inst_offsets[run[ok]] + pos[ok]
    grid = {}
    for name in ("entropy", "confidence"):
        grid[name] = np.full(len(with_rows) * len(subset.index), np.nan, np.float32)
        grid[name][where] = instances.column(name).to_numpy()[ok]
    offsets = np.full(len(runs), -1, dtype=np.int32)
    blocks: dict[str, list[np.ndarray]] = {"entropy": [], "confidence": []}
    start = 0
    for k in with_rows:
        positions = np.asarray(sets[runs[k]["fs"]]["pos"], dtype=np.int64)
        offsets[k] = start
        for name, block in blocks.items():
            block.append(grid[name][inst_offsets[k] + positions])
        start += len(positions)
    store = {
        name: (np.concatenate(b).astype(np.float32) if b else np.zeros(0, np.float32))
        for name, b in blocks.items()
    }
    return store, offsets


def _pack_sacc(settings: list[dict[str, Any]], C: int) -> Packed:
    """``sacc``: per setting with accuracies, ``C`` rows (class order): columns train, test (the mean over
    its replicates; a one-run setting's own values) and train_sd, test_sd (the sample standard deviation,
    NaN with fewer than two replicates), float32. Offsets are per setting."""
    with_acc = [
        k for k, s in enumerate(settings) if s.get("train_acc") is not None and s.get("test_acc") is not None
    ]
    offsets = _block_offsets(with_acc, len(settings), C)
    store = {
        name: np.full(len(with_acc) * C, np.nan, np.float32)
        for name in ("train", "test", "train_sd", "test_sd")
    }
    for k in with_acc:
        for split in ("train", "test"):
            store[split][offsets[k] : offsets[k] + C] = np.asarray(
                settings[k][f"{split}_acc"], dtype=np.float32
            )
            sd = settings[k].get(f"{split}_acc_std")
            if sd is not None:
                store[f"{split}_sd"][offsets[k] : offsets[k] + C] = np.asarray(
                    [np.nan if v is None else v for v in sd], dtype=np.float32
                )
    return store, offsets


def _pack_roc(audit: Audit, runs: list[dict[str, Any]]) -> Packed:
    """``roc``: per run with an audit row that has a curve, ``G`` rows (the FPR grid, ascending): columns
    ulira, rmia (float32, the TPR at each FPR; NaN for a null curve)."""
    G = len(audit.fpr)
    curves: dict[int, dict[str, Any]] = {}
    for k, r in enumerate(runs):
        row = audit.rows.get(r["run_id"]) or {}
        got = {c: row.get(f"{c}_roc_tpr") for c in ROC_CURVES}
        if any(v is not None and len(v) == G for v in got.values()):
            curves[k] = got
    offsets = _block_offsets(list(curves), len(runs), G)
    store = {c: np.full(len(curves) * G, np.nan, np.float32) for c in ROC_CURVES}
    for k, got in curves.items():
        for c, tpr in got.items():
            if tpr is not None and len(tpr) == G:
                store[c][offsets[k] : offsets[k] + G] = [np.nan if v is None else v for v in tpr]
    return store, offsets


def _pack_vul(
    instances: pa.Table,
    runs: list[dict[str, Any]],
    sets: list[dict[str, Any]],
    row_of: dict[str, int],
    subset: Subset,
) -> Packed:
    """``vul``: per run with audit instances in the evaluation subset, one row per subset instance of its
    forget set (the set's ``pos``, in subset order, as ``fgt``): columns ulira, rmia, epsilon (float32, NaN
    where the table has no row; epsilon may be inf). Only the subset's images ship: the page shows no more."""
    keep = pc.is_in(instances.column("index"), value_set=pa.array(subset.index.astype(np.int32)))
    instances = instances.filter(keep)
    run, pos, ok = _instance_slots(instances, row_of, subset)
    with_rows = sorted(set(run[ok].tolist()))
    N = len(subset.index)
    slot = {k: j for j, k in enumerate(with_rows)}
    where = np.array([slot[k] for k in run[ok].tolist()], dtype=np.int64) * N + pos[ok].astype(np.int64)
    offsets = np.full(len(runs), -1, dtype=np.int32)
    blocks: dict[str, list[np.ndarray]] = {name: [] for name in VUL_FIELDS}
    grid = {}
    for name in VUL_FIELDS:
        grid[name] = np.full(len(with_rows) * N, np.nan, np.float32)
        grid[name][where] = instances.column(name).to_numpy(zero_copy_only=False)[ok]
    start = 0
    for j, k in enumerate(with_rows):
        positions = np.asarray(sets[runs[k]["fs"]]["pos"], dtype=np.int64)
        offsets[k] = start
        for name, block in blocks.items():
            block.append(grid[name][j * N + positions])
        start += len(positions)
    store = {
        name: (np.concatenate(b).astype(np.float32) if b else np.zeros(0, np.float32))
        for name, b in blocks.items()
    }
    return store, offsets


def _vulnerability_ranges(
    sets: list[dict[str, Any]], runs: list[dict[str, Any]], vul: dict[str, np.ndarray], offsets: np.ndarray
) -> None:
    """Each forget set's colour range of the vulnerability highlight (``vul_range``, in place): R for the
    symmetric range −R … R, the ``VUL_QUANTILE``th percentile of |U-LiRA| over the subset's forget images
    under all the set's models (fixed per set, so that the panels and the models compare); None without
    scores."""
    for s, fs in enumerate(sets):
        F = len(fs["pos"])
        values = [vul["ulira"][o : o + F] for k, o in enumerate(offsets) if o >= 0 and runs[k]["fs"] == s]
        finite = np.abs(np.concatenate(values)) if values else np.zeros(0)
        finite = finite[np.isfinite(finite)]
        R = float(np.percentile(finite, VUL_QUANTILE)) if len(finite) else None
        fs["vul_range"] = None if R is None else R or 1.0  # all scores 0: any range shows them


def _pack_subset(subset: Subset) -> dict[str, np.ndarray]:
    """``subset``: one row per subset instance: columns index (int32), label (uint8), sprite (int32)."""
    return {
        "index": subset.index.astype(np.int32),
        "label": subset.label.astype(np.uint8),
        "sprite": subset.sprite.astype(np.int32),
    }


def _check(data: SiteData, tables_dir: Path) -> None:
    for fs in data.sets:
        kinds = [r["type"] for r in data.runs if r["forget_set"] == fs["id"] and r["status"] == "ok"]
        if not kinds:
            raise SiteDataError(f"forget set {fs['id']} has no successful run in {tables_dir / 'runs.arrow'}")


def hyperparameters_text(run: dict[str, Any]) -> str:
    """The run's hyperparameters as indented JSON (for the table's tooltip)."""
    raw = run.get("hyperparameters")
    if not raw:
        return ""
    try:
        return json.dumps(json.loads(raw), indent=1, sort_keys=True)
    except (TypeError, ValueError):
        return str(raw)


FORGET_MARK = " (\u2716)"


def class_label(data: SiteData, c: int, classes: list[int]) -> str:
    name = data.class_names[c] if 0 <= c < data.num_classes else str(c)
    return name + FORGET_MARK if c in classes else name


def tick_labels(data: SiteData, classes: list[int], reversed_: bool) -> dict[int, str]:
    """Axis label overrides for class ticks (as js/util.js tick_labels), set at build time for the first
    forget set so the first render needs no relayout: its classes are marked ✖ (none for a random set).
    BokehJS looks overrides up by the numeric tick."""
    C = data.num_classes
    return {(C - 1 - c if reversed_ else c): class_label(data, c, classes) for c in range(C)}
