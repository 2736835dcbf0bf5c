"""Faults of long runs: a killed workflow resumes to the same tables, corrupt files give clear errors
and overwrite nothing, and the same config and seed give identical tables."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from unlearning_comparator.checkpoints import load_state_dict
from unlearning_comparator.tables import read_table

from conftest import ROOT, TABLES, read_tables, same_column, snakemake, tiny_run_config

pytestmark = pytest.mark.slow

VARYING = {"RTE", "device"}  # wall-clock measurements differ between runs; nothing else may
# ... and in the summary, the RTE's mean and spread over the seeds
VARYING_SUMMARY = {"RTE_mean", "RTE_std"}


def _relocated(table, workdir):
    """The runs (or summary) table with its own working folder's path (in external checkpoints, errors)
    made neutral."""
    import pyarrow as pa

    for column in ("hyperparameters", "error"):
        if column not in table.column_names:
            continue
        values = [v.replace(str(workdir), "<workdir>") if v else v for v in table.column(column).to_pylist()]
        table = table.set_column(table.column_names.index(column), column, pa.array(values, pa.string()))
    return table


def assert_same_tables(a: dict, b: dict, a_dir, b_dir) -> None:
    for name in TABLES:
        if name == "runs":
            left = _relocated(a[name], a_dir).drop_columns(sorted(VARYING))
            right = _relocated(b[name], b_dir).drop_columns(sorted(VARYING))
        elif name == "summary":
            left = _relocated(a[name], a_dir).drop_columns(sorted(VARYING_SUMMARY))
            right = _relocated(b[name], b_dir).drop_columns(sorted(VARYING_SUMMARY))
        else:
            left, right = a[name], b[name]
        assert left.column_names == right.column_names
        assert left.num_rows == right.num_rows, name
        for column in left.column_names:
            assert same_column(left.column(column), right.column(column)), (name, column)


def _outputs_are_whole(results):
    """After a kill, every file that looks like an output reads back completely."""
    for path in results.rglob("*"):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix == ".arrow":
            read_table(path)
        elif path.suffix == ".pt" and path.name != "grams.pt":
            load_state_dict(path)


def test_a_killed_run_resumes_to_the_same_tables(tiny_run, tmp_path):
    """SIGKILL the whole workflow mid-run, rerun: only what was missing is redone, and the tables equal
    those of the uninterrupted run (which also shows that the same config and seed give the same tables)."""
    first_dir, uninterrupted = tiny_run
    config = tiny_run_config(tmp_path)
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(tmp_path),
        "tables",
        "--cores",
        "2",
        "--configfile",
        str(config),
    ]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    results = tmp_path / "results" / "tiny"
    deadline = time.time() + 600
    # kill once the original model exists and some unlearning runs have finished, while others are running
    while time.time() < deadline:
        done = list(results.glob("models/fc*/*/*/info.json"))
        if len(done) >= 4:
            break
        assert process.poll() is None, "the workflow ended before it could be killed"
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (results / "tables" / "runs.arrow").exists()
    _outputs_are_whole(results)
    finished_before = {
        p: p.stat().st_mtime_ns
        for p in results.glob("models/fc*/*/*/model.pt")
        if (p.parent / "info.json").exists()
    }
    original_mtime = (results / "models" / "original" / "model.pt").stat().st_mtime_ns

    # a killed Snakemake leaves its lock behind: --unlock removes it (as Snakemake's message says), then rerun
    unlock = snakemake(tmp_path, "tables", "--unlock", "--configfile", str(config))
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    rerun = snakemake(tmp_path, "tables", "--cores", "2", "--configfile", str(config))
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    # the original model (finished before the kill) was not trained again
    assert (results / "models" / "original" / "model.pt").stat().st_mtime_ns == original_mtime
    # runs that had finished were kept, not redone (a job that ended in the instant of the kill may not
    # have been recorded as complete by Snakemake yet; at most the two running jobs can be in that state)
    kept = [p for p, t in finished_before.items() if p.stat().st_mtime_ns == t]
    assert len(finished_before) >= 4 and len(kept) >= len(finished_before) - 2
    assert_same_tables(uninterrupted, read_tables(tmp_path), first_dir, tmp_path)


def _copy_run(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return dst


def test_a_corrupt_checkpoint_is_named_and_nothing_else_is_overwritten(tiny_run, tmp_path):
    workdir = _copy_run(tiny_run[0], tmp_path / "run")
    results = workdir / "results" / "tiny"
    tables_before = {t: (results / "tables" / f"{t}.arrow").read_bytes() for t in TABLES}
    victim = next(results.glob("models/fc1/ga/*/model.pt"))
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3])  # truncated, as by a full disk
    evaluation = victim.parent.relative_to(results / "models")
    target = results / "evaluation" / evaluation / "logits.arrow"
    result = snakemake(
        workdir,
        "tables",
        "--cores",
        "2",
        "--configfile",
        str(workdir / "tiny.yaml"),
        "--forcerun",
        str(target.relative_to(workdir)),
        # re-evaluate without re-running the method (which would simply write a new checkpoint)
        "--allowed-rules",
        "evaluate_compared",
        "analyze",
        "tables",
    )
    assert result.returncode != 0
    log = (results / "logs" / "evaluate" / f"{evaluation}.log").read_text()
    assert str(victim.relative_to(workdir)) in log and "truncated or corrupt" in log and "rerun" in log
    for t in TABLES:
        assert (results / "tables" / f"{t}.arrow").read_bytes() == tables_before[t]


def test_a_corrupt_table_is_named(tiny_run, tmp_path):
    workdir = _copy_run(tiny_run[0], tmp_path / "run")
    results = workdir / "results" / "tiny"
    fragment = results / "analysis" / "fc3" / "attack.arrow"
    damaged = fragment.read_bytes()[:100]
    fragment.write_bytes(damaged)
    others = {p: p.read_bytes() for p in results.glob("analysis/*/*.arrow") if p != fragment}
    result = snakemake(
        workdir,
        "tables",
        "--cores",
        "1",
        "--configfile",
        str(workdir / "tiny.yaml"),
        "--forcerun",
        "results/tiny/tables/runs.arrow",
    )
    assert result.returncode != 0
    log = (results / "logs" / "tables" / "tables.log").read_text()
    assert "analysis/fc3/attack.arrow" in log and "truncated or corrupt" in log and "rerun" in log
    # the damaged file is left for the user to inspect and every other fragment is untouched; the failed
    # job's own outputs are removed by Snakemake, so no stale table passes for a current one
    assert fragment.read_bytes() == damaged
    assert all(p.read_bytes() == data for p, data in others.items())
    assert not (results / "tables" / "runs.arrow").exists()
