"""The tiny workflow on a real (throw-away, single-node) SLURM cluster through Snakemake's SLURM executor
plugin and the repository's SLURM profile, compared with a local run of the same config.

The cluster (tests/slurm_cluster.py) runs Debian's slurm-wlm as root. Its node declares two fake GPUs,
so the profile's GPU requests (sbatch --gpus=1) are scheduled unchanged; the jobs see no CUDA device
and run on the CPU. The test changes the profile only where this cluster must differ from a real one:

- account and partitions: SLURM_ACCOUNT is empty (no accounts here), both partitions are `debug`;
- memory: every mem_mb is capped at 1000 MB (a copy of the profile), so jobs fit any test machine
  and two run at once;
- --slurm-status-command squeue: no accounting database, so no sacct; finished jobs stay in squeue
  for MinJobAge (an hour here);
- --slurm-init-seconds-before-status-checks 2: tiny jobs, so poll sooner than the default 40 s;
- --retries 0: a failure should fail the test, not be retried.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pyarrow.feather as feather
import pytest
import yaml

from conftest import ROOT, TABLES, TINY_CONFIG, same_table, snakemake, write_config
from slurm_cluster import SlurmCluster, unavailable_reason

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

PROFILE = ROOT / "workflow" / "profiles" / "slurm" / "config.yaml"
GPU_RULES = {
    "train_original",
    "retrain",
    "unlearn",
    "evaluate_original",
    "evaluate_retrained",
    "evaluate_compared",
}
TEST_MEM_MB = 1000


def _reason_to_skip() -> str | None:
    reason = unavailable_reason()
    if reason is None:
        try:
            import snakemake_executor_plugin_slurm  # noqa: F401
        except ImportError:
            reason = (
                "snakemake-executor-plugin-slurm is not installed "
                "(pip install -e '.[slurm]' into the environment that runs snakemake)"
            )
    return reason


@pytest.fixture(scope="module")
def cluster():
    reason = _reason_to_skip()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the SLURM test cannot run: {reason}")
        pytest.skip(reason)
    with SlurmCluster(gpus=2) as c:
        yield c


def test_profile_covers_every_rule_that_is_not_local():
    """The profile sizes every submitted rule and sends exactly the GPU rules to the GPU partition."""
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    rules = set()
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        rules |= set(re.findall(r"^rule (\w+):", path.read_text(), re.M))
    submitted = rules - {
        "site",
        "data",
    }  # local rules: the site, and getting the data (nodes may lack internet)
    resources = profile["set-resources"]
    assert set(resources) == submitted
    for rule, res in resources.items():
        assert {"mem_mb", "runtime"} <= set(res), rule
        if rule in GPU_RULES:
            assert res["gpu"] == 1 and res["slurm_partition"] == "$SLURM_GPU_PARTITION", rule
        else:
            assert "gpu" not in res and "slurm_partition" not in res, rule  # the default: the CPU partition
    assert profile["default-resources"]["slurm_partition"] == "$SLURM_CPU_PARTITION"


def _test_profile(folder: Path) -> Path:
    """A copy of the SLURM profile with every mem_mb capped at TEST_MEM_MB (nothing else changed)."""
    profile = yaml.safe_load(PROFILE.read_text())
    profile["default-resources"]["mem_mb"] = TEST_MEM_MB
    for res in profile["set-resources"].values():
        res["mem_mb"] = min(res["mem_mb"], TEST_MEM_MB)
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


def _job_stats(output: str) -> Counter:
    """The rule -> job count table Snakemake prints before it starts."""
    block = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return Counter({m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)\s*$", block, re.M)})


def _read_tables(workdir: Path) -> dict:
    return {t: feather.read_table(workdir / "results" / "tiny" / "tables" / f"{t}.arrow") for t in TABLES}


def test_tiny_workflow_through_slurm_matches_a_local_run(cluster, tmp_path, monkeypatch, record_property):
    config = write_config(tmp_path / "tiny.yaml", TINY_CONFIG)

    local = tmp_path / "local"
    local.mkdir()
    start = time.monotonic()
    # The target comes first: Snakemake appends the default profile's flags after the command line, and
    # --configfile takes every following value up to the next flag.
    result = snakemake(local, "tables", "--cores", "2", "--configfile", str(config))
    local_s = time.monotonic() - start
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    for key, value in cluster.env.items():
        if key in ("SLURM_CONF", "PATH"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("SLURM_ACCOUNT", "")
    monkeypatch.setenv("SLURM_CPU_PARTITION", cluster.partition)
    monkeypatch.setenv("SLURM_GPU_PARTITION", cluster.partition)
    remote = tmp_path / "slurm"
    remote.mkdir()
    start = time.monotonic()
    result = snakemake(
        remote,
        "tables",
        "--workflow-profile",
        str(_test_profile(tmp_path / "profile")),
        "--configfile",
        str(config),
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--retries",
        "0",
    )
    slurm_s = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    record_property("local_seconds", round(local_s))
    record_property("slurm_seconds", round(slurm_s))
    print(f"local run {local_s:.0f} s, SLURM run {slurm_s:.0f} s")

    # Every job of the DAG went through sbatch, none ran locally, and SLURM ran each to completion.
    stats = _job_stats(output)
    grid_points = sum(math.prod(len(v) for v in hp.values()) for hp in TINY_CONFIG["methods"].values())
    classes = len(TINY_CONFIG["forget_classes"])
    # data (local), subsets, train_original, evaluate_original, tables; per class retrain, its evaluation,
    # analyze; per class and grid point one unlearn job, which evaluates its model too (21 jobs for the
    # tiny config)
    assert stats["unlearn"] == classes * grid_points, stats
    assert "evaluate_compared" not in stats, stats
    assert sum(stats.values()) == 5 + classes * (3 + grid_points), stats
    assert re.findall(r"^localrule (\w+):", output, re.M) == ["data"]
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output))
    assert len(submitted) == sum(stats.values()) - stats["data"]
    run_id = re.search(r"SLURM run ID: (\S+)", output)[1]
    jobs = {j["JobID"]: j for j in cluster.jobs() if j["Name"] == run_id}
    assert set(jobs) == set(submitted.values())
    assert Counter(
        re.match(r"rule_([a-z_]+?)(_wildcards_.*)?$", j["Comment"])[1] for j in jobs.values()
    ) == stats - Counter(data=stats["data"])
    finished = {j["JobId"]: j for j in cluster.finished_jobs()}
    for job_id, job in jobs.items():
        rule = re.match(r"rule_([a-z_]+?)(_wildcards_.*)?$", job["Comment"])[1]
        assert job["State"] == "COMPLETED" and finished[job_id]["JobState"] == "COMPLETED", job
        assert job["Partition"] == cluster.partition and job["WorkDir"] == str(remote), job
        assert job["MinMemory"] == f"{TEST_MEM_MB}M", job
        # The profile's GPU request reached SLURM for exactly the GPU rules.
        assert (job["tres-per-job"] == "gres:gpu:1") == (rule in GPU_RULES), job
    spans = [
        (datetime.fromisoformat(finished[i]["StartTime"]), datetime.fromisoformat(finished[i]["EndTime"]))
        for i in jobs
    ]
    busy = sum((end - begin).total_seconds() for begin, end in spans)
    wall = (max(e for _, e in spans) - min(b for b, _ in spans)).total_seconds()
    print(
        f"{len(jobs)} SLURM jobs: {busy:.0f} job-seconds in {wall:.0f} s from the first start to the last end"
    )
    limits = {
        re.match(r"rule_([a-z_]+?)(_wildcards_|$)", j["Comment"])[1]: j["TimeLimit"] for j in jobs.values()
    }
    assert (
        limits["train_original"] == "6:00:00"
        and limits["unlearn"] == "1:00:00"
        and limits["tables"] == "30:00"
    )

    # The same tables as the local run (run time, device and error text aside).
    a, b = _read_tables(local), _read_tables(remote)
    varying = {"RTE", "device", "error"}
    first = {r["run_id"]: r for r in a["runs"].to_pylist()}
    second = {r["run_id"]: r for r in b["runs"].to_pylist()}
    assert set(first) == set(second)
    for run_id, row in first.items():
        assert row["status"] == "ok", (run_id, row["error"])
        for key, value in row.items():
            if key not in varying:
                assert second[run_id][key] == value, (run_id, key)
    for name in TABLES[1:]:
        if name == "summary":  # the RTE's mean and spread are run times too
            a[name], b[name] = (t.drop_columns(["RTE_mean", "RTE_std"]) for t in (a[name], b[name]))
        assert same_table(a[name], b[name]), name
