"""Read an experiment's tables and lay them out as the compact columns the page ships.

Everything the browser needs is packed here into a handful of flat, typed "store" columns (one
ColumnDataSource each, see :mod:`comparator_site.store`). Every run has a fixed-size block in each
store at an offset recorded in the runs store, so the page's JavaScript copies A's and B's slices
into the small plotted sources on a switch and never searches.

Layout of the blocks (``R`` runs with data, ``C`` classes, ``N`` subset instances, ``L`` layers,
``T`` thresholds):

* ``acc``: per run ``C`` rows (train, test accuracy per class);
* ``pred``: per run ``2·C·C`` rows, split-major (train, test), then true class, then predicted class;
* ``sim``: per run ``2·2·2·L`` rows: reference (original, retrained) × split (train, test) ×
  subset (retain, forget) × layer — the diagonal of the CKA matrix only (the site shows no more);
* ``atk``: per run ``2·2·T`` rows: metric (entropy, confidence) × direction (above_unlearn,
  above_retrain) × threshold, from the ``subset`` scope (falls back to ``forget_set``);
* ``inst``: per run ``N`` rows in subset order (x, y, prediction, probabilities ×1000 as uint16);
* ``fgt``: per run one row per forget-class instance of its forget class, in subset order
  (entropy at T = 2, confidence at T = 1): the attack view's dots.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from unlearning_comparator.tables import experiment_metadata, read_table

TYPE_ORDER = {"original": 0, "retrained": 1, "unlearned": 2, "external": 3}
METRICS = ("entropy", "confidence")
DIRECTIONS = ("above_unlearn", "above_retrain")
REFERENCES = ("original", "retrained")
SPLITS = ("train", "test")
SUBSETS = ("retain", "forget")
RUN_METRICS = ("UA", "RA", "TUA", "TRA", "TA", "RTE", "PS", "PS_challenge", "MIA_efficacy", "avg_gap")


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
    forget_classes: list[int]
    runs: list[dict[str, Any]]  # ordered by forget class, then type, then run_id
    subset_index: np.ndarray
    subset_label: np.ndarray
    subset_sprite: np.ndarray  # -1 where there is no thumbnail
    sprite_png: bytes | None
    image_size: int
    sprite_columns: int
    thresholds: int
    stores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    offsets: dict[str, np.ndarray] = field(default_factory=dict)  # per run: start of its block in each store, -1: none

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _png_size(png: bytes) -> tuple[int, int]:
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise SiteDataError("thumbnails.png is not a PNG file; rerun the workflow to make it again")
    return struct.unpack(">II", png[16:24])


def _meta_str(meta: dict[str, Any], *keys: str, default: str = "") -> str:
    for key in keys:
        value = meta.get(key)
        if isinstance(value, dict):
            value = value.get("display_name") or value.get("name")
        if value not in (None, ""):
            return str(value)
    return default


def load(tables_dir: str | Path) -> SiteData:
    """Read ``runs``, ``instances``, ``predictions``, ``similarity``, ``attack`` (and ``subset`` and
    ``thumbnails.png`` when present) from ``tables_dir`` and build the stores."""
    tables_dir = Path(tables_dir)
    runs_t = read_table(tables_dir / "runs.arrow")
    meta = experiment_metadata(runs_t.schema)
    runs_raw = runs_t.to_pylist()
    if not runs_raw:
        raise SiteDataError(f"{tables_dir / 'runs.arrow'} has no rows; the workflow has not finished any run")

    # --- classes and layers -------------------------------------------------------------------------
    C = None
    for r in runs_raw:
        if r.get("train_acc"):
            C = len(r["train_acc"])
            break
    class_names = [str(c) for c in meta.get("class_names") or []]
    if C is None:
        C = len(class_names) or 10
    if len(class_names) != C:
        class_names = [f"class {i}" for i in range(C)]

    sim_t = read_table(tables_dir / "similarity.arrow")
    layers = [str(x) for x in (meta.get("layers") or meta.get("layer_groups") or meta.get("layer_names") or [])]
    if not layers:  # fall back to the order of first appearance in the similarity table
        layers = list(dict.fromkeys(sim_t.column("layer").to_pylist()))
    L = len(layers)

    # --- runs, ordered ---------------------------------------------------------------------------------
    for r in runs_raw:
        r["forget_class"] = int(r["forget_class"])
    runs = sorted(runs_raw, key=lambda r: (r["forget_class"], TYPE_ORDER.get(r["type"], 9), str(r["run_id"])))
    ids = [r["run_id"] for r in runs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise SiteDataError(f"runs.arrow has duplicate run_id values {dup[:5]}; run ids must be unique in an experiment")
    fcs = sorted({r["forget_class"] for r in runs})
    row_of = {rid: k for k, rid in enumerate(ids)}

    # --- subset ----------------------------------------------------------------------------------------
    inst_t = read_table(tables_dir / "instances.arrow")
    sprite_png = None
    subset_path = tables_dir / "subset.arrow"
    thumbs_path = tables_dir / "thumbnails.png"
    if subset_path.is_file():
        sub = read_table(subset_path)
        s_index = np.asarray(sub.column("index").to_numpy(), dtype=np.int64)
        s_label = np.asarray(sub.column("label").to_numpy(), dtype=np.int64)
        s_sprite = np.asarray(sub.column("sprite").to_numpy(), dtype=np.int64)
        if thumbs_path.is_file():
            sprite_png = thumbs_path.read_bytes()
        else:
            s_sprite = np.full(len(s_index), -1)
    else:
        first = inst_t.filter(pc.equal(inst_t.column("run_id"), inst_t.column("run_id")[0]))
        s_index = np.asarray(first.column("index").to_numpy(), dtype=np.int64)
        s_label = np.asarray(first.column("label").to_numpy(), dtype=np.int64)
        order = np.lexsort((s_index, s_label))
        s_index, s_label = s_index[order], s_label[order]
        s_sprite = np.full(len(s_index), -1)
    N = len(s_index)
    pos_of = {int(i): p for p, i in enumerate(s_index)}
    image_size = int(meta.get("image_size") or 28)
    sprite_columns = int(meta.get("sprite_columns") or 0)
    if sprite_png is not None and not sprite_columns:
        sprite_columns = max(1, _png_size(sprite_png)[0] // image_size)
    sprite_columns = sprite_columns or 1

    # --- stores ----------------------------------------------------------------------------------------
    R = len(runs)
    offsets = {k: np.full(R, -1, dtype=np.int32) for k in ("acc", "pred", "sim", "atk", "inst", "fgt")}

    # accuracies
    acc_rows = [k for k, r in enumerate(runs) if r.get("train_acc") is not None and r.get("test_acc") is not None]
    acc = {"train": np.full(len(acc_rows) * C, np.nan, np.float32), "test": np.full(len(acc_rows) * C, np.nan, np.float32)}
    for j, k in enumerate(acc_rows):
        offsets["acc"][k] = j * C
        acc["train"][j * C:(j + 1) * C] = np.asarray(runs[k]["train_acc"], dtype=np.float32)
        acc["test"][j * C:(j + 1) * C] = np.asarray(runs[k]["test_acc"], dtype=np.float32)

    # predictions
    pred_t = read_table(tables_dir / "predictions.arrow")
    p_run = np.array([row_of.get(x, -1) for x in pred_t.column("run_id").to_pylist()])
    p_split = np.array([SPLITS.index(s) if s in SPLITS else -1 for s in pred_t.column("split").to_pylist()])
    p_true = pred_t.column("true").to_numpy().astype(np.int64)
    p_pred = pred_t.column("pred").to_numpy().astype(np.int64)
    ok = (p_run >= 0) & (p_split >= 0) & (p_true < C) & (p_pred < C) & (p_true >= 0) & (p_pred >= 0)
    pred_runs = sorted(set(p_run[ok].tolist()))
    block = 2 * C * C
    pred = {"prop": np.full(len(pred_runs) * block, np.nan, np.float32),
            "conf": np.full(len(pred_runs) * block, np.nan, np.float32)}
    for j, k in enumerate(pred_runs):
        offsets["pred"][k] = j * block
    where = offsets["pred"][p_run[ok]] + p_split[ok] * C * C + p_true[ok] * C + p_pred[ok]
    pred["prop"][where] = pred_t.column("proportion").to_numpy()[ok]
    pred["conf"][where] = pred_t.column("mean_confidence").to_numpy()[ok]

    # similarity (diagonal)
    s_run = np.array([row_of.get(x, -1) for x in sim_t.column("run_id").to_pylist()])
    ref_l = sim_t.column("reference_layer").to_pylist()
    lay_l = sim_t.column("layer").to_pylist()
    layer_pos = {name: i for i, name in enumerate(layers)}
    s_layer = np.array([layer_pos.get(a, -1) if a == b else -1 for a, b in zip(ref_l, lay_l)])
    s_ref = np.array([REFERENCES.index(x) if x in REFERENCES else -1 for x in sim_t.column("reference").to_pylist()])
    s_split = np.array([SPLITS.index(x) if x in SPLITS else -1 for x in sim_t.column("split").to_pylist()])
    s_sub = np.array([SUBSETS.index(x) if x in SUBSETS else -1 for x in sim_t.column("subset").to_pylist()])
    ok = (s_run >= 0) & (s_layer >= 0) & (s_ref >= 0) & (s_split >= 0) & (s_sub >= 0)
    sim_runs = sorted(set(s_run[ok].tolist()))
    block = 8 * L
    sim = {"cka": np.full(len(sim_runs) * block, np.nan, np.float32)}
    for j, k in enumerate(sim_runs):
        offsets["sim"][k] = j * block
    where = offsets["sim"][s_run[ok]] + ((s_ref[ok] * 2 + s_split[ok]) * 2 + s_sub[ok]) * L + s_layer[ok]
    sim["cka"][where] = sim_t.column("cka").to_numpy()[ok]

    # attack curves
    atk_t = read_table(tables_dir / "attack.arrow")
    scope_col = atk_t.column("scope").to_pylist() if "scope" in atk_t.column_names else ["subset"] * atk_t.num_rows
    a_run_all = np.array([row_of.get(x, -1) for x in atk_t.column("run_id").to_pylist()])
    scopes_by_run: dict[int, set[str]] = {}
    for k, s in zip(a_run_all.tolist(), scope_col):
        scopes_by_run.setdefault(k, set()).add(s)
    use_scope = {k: ("subset" if "subset" in v else "forget_set") for k, v in scopes_by_run.items()}
    a_keep = np.array([k >= 0 and use_scope.get(k) == s for k, s in zip(a_run_all.tolist(), scope_col)], dtype=bool)
    a_run = a_run_all[a_keep]
    a_metric = np.array([METRICS.index(x) if x in METRICS else -1 for x in atk_t.column("metric").to_pylist()])[a_keep]
    a_dir = np.array([DIRECTIONS.index(x) if x in DIRECTIONS else -1 for x in atk_t.column("direction").to_pylist()])[a_keep]
    a_thr = atk_t.column("threshold").to_numpy()[a_keep]
    a_fpr = atk_t.column("fpr").to_numpy()[a_keep]
    a_fnr = atk_t.column("fnr").to_numpy()[a_keep]
    a_score = atk_t.column("attack_score").to_numpy()[a_keep]
    ok = (a_metric >= 0) & (a_dir >= 0)
    a_run, a_metric, a_dir, a_thr, a_fpr, a_fnr, a_score = (x[ok] for x in (a_run, a_metric, a_dir, a_thr, a_fpr, a_fnr, a_score))
    # position of each row within its (run, metric, direction) curve, in threshold order
    order = np.lexsort((a_thr, a_dir, a_metric, a_run))
    a_run, a_metric, a_dir, a_thr, a_fpr, a_fnr, a_score = (x[order] for x in (a_run, a_metric, a_dir, a_thr, a_fpr, a_fnr, a_score))
    key = (a_run * 4 + a_metric * 2 + a_dir)
    starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1] if len(key) else np.array([], dtype=np.int64)
    rank = np.arange(len(key)) - np.repeat(starts, np.diff(np.r_[starts, len(key)])) if len(key) else np.array([], dtype=np.int64)
    T = int(rank.max()) + 1 if len(rank) else 51
    atk_runs = sorted(set(a_run.tolist()))
    block = 4 * T
    atk = {name: np.full(len(atk_runs) * block, np.nan, np.float32) for name in ("thr", "fpr", "fnr", "score")}
    for j, k in enumerate(atk_runs):
        offsets["atk"][k] = j * block
    where = offsets["atk"][a_run] + (a_metric * 2 + a_dir) * T + rank
    atk["thr"][where], atk["fpr"][where], atk["fnr"][where], atk["score"][where] = a_thr, a_fpr, a_fnr, a_score

    # instances
    i_run = np.array([row_of.get(x, -1) for x in inst_t.column("run_id").to_pylist()])
    i_pos = np.array([pos_of.get(int(x), -1) for x in inst_t.column("index").to_numpy()])
    ok = (i_run >= 0) & (i_pos >= 0)
    inst_runs = sorted(set(i_run[ok].tolist()))
    inst = {"x": np.full(len(inst_runs) * N, np.nan, np.float32), "y": np.full(len(inst_runs) * N, np.nan, np.float32),
            "pred": np.full(len(inst_runs) * N, 255, np.uint8)}
    probs = np.zeros((len(inst_runs) * N, C), np.uint16)
    for j, k in enumerate(inst_runs):
        offsets["inst"][k] = j * N
    where = offsets["inst"][i_run[ok]] + i_pos[ok]
    inst["x"][where] = inst_t.column("x").to_numpy()[ok]
    inst["y"][where] = inst_t.column("y").to_numpy()[ok]
    inst["pred"][where] = inst_t.column("pred").to_numpy()[ok].astype(np.uint8)
    flat = inst_t.column("probs").combine_chunks()
    pr = np.asarray(flat.flatten().to_numpy(zero_copy_only=False), dtype=np.float64).reshape(-1, C)
    probs[where] = np.clip(np.rint(pr[ok] * 1000), 0, 1000).astype(np.uint16)
    for c in range(C):
        inst[f"p{c}"] = probs[:, c].copy()

    # forget-class per-instance values (attack dots)
    ent_all = inst_t.column("entropy").to_numpy()
    conf_all = inst_t.column("confidence").to_numpy()
    fgt_pos = {fc: np.flatnonzero(s_label == fc) for fc in fcs}
    fgt = {"entropy": [], "confidence": []}
    n = 0
    ent_grid = np.full(len(inst_runs) * N, np.nan, np.float32)
    conf_grid = np.full(len(inst_runs) * N, np.nan, np.float32)
    ent_grid[where] = ent_all[ok]
    conf_grid[where] = conf_all[ok]
    for k in inst_runs:
        fp = fgt_pos[runs[k]["forget_class"]]
        offsets["fgt"][k] = n
        fgt["entropy"].append(ent_grid[offsets["inst"][k] + fp])
        fgt["confidence"].append(conf_grid[offsets["inst"][k] + fp])
        n += len(fp)
    fgt = {k: (np.concatenate(v).astype(np.float32) if v else np.zeros(0, np.float32)) for k, v in fgt.items()}

    data = SiteData(
        meta=meta,
        name=_meta_str(meta, "name", default=tables_dir.parent.name or "experiment"),
        title=_meta_str(meta, "title", "name", default="Unlearning experiment"),
        dataset_name=_meta_str(meta, "dataset_name", "dataset_display_name", "dataset"),
        model_name=_meta_str(meta, "model_name", "model_display_name", "model"),
        class_names=class_names, layers=layers, forget_classes=fcs, runs=runs,
        subset_index=s_index, subset_label=s_label, subset_sprite=s_sprite, sprite_png=sprite_png,
        image_size=image_size, sprite_columns=sprite_columns, thresholds=T,
    )
    data.stores = {"acc": acc, "pred": pred, "sim": sim, "atk": atk, "inst": inst, "fgt": fgt,
                   "subset": {"index": s_index.astype(np.int32), "label": s_label.astype(np.uint8),
                              "sprite": s_sprite.astype(np.int32)}}
    data.offsets = offsets
    _check(data, tables_dir)
    return data


def _check(data: SiteData, tables_dir: Path) -> None:
    for fc in data.forget_classes:
        kinds = [r["type"] for r in data.runs if r["forget_class"] == fc and r["status"] == "ok"]
        if not kinds:
            raise SiteDataError(f"forget class {fc} has no successful run in {tables_dir / 'runs.arrow'}")


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


def class_label(data: SiteData, c: int, fc: int) -> str:
    name = data.class_names[c] if 0 <= c < data.num_classes else str(c)
    return name + FORGET_MARK if c == fc else name


def tick_labels(data: SiteData, fc: int, reversed_: bool) -> dict[int, str]:
    """Axis label overrides for class ticks (as js/util.js tick_labels), set at build time for the first
    forget class so the first render needs no relayout. BokehJS looks overrides up by the numeric tick."""
    C = data.num_classes
    return {(C - 1 - c if reversed_ else c): class_label(data, c, fc) for c in range(C)}
