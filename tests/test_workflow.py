"""The workflow's plan (dry runs: which jobs, paths and run ids a config gives, fast) and the whole workflow
on a tiny config (real Fashion-MNIST images, 100 per class; slow): every model gets a row, failures are
recorded per run, and what forgetting must look like. That each number of the tables is derived from the
right images and models is checked in test_wiring_tables.py, on the same run."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import yaml

from unlearning_comparator.config import load_config, unlearning_runs

from conftest import (
    BROKEN_METHODS,
    EXTERNAL_MODELS,
    METHODS_DIR,
    ROOT,
    TABLES,
    snakemake,
    tiny_config,
    tiny_run_config,
    write_config,
)

slow = pytest.mark.slow


# ----------------------------------------------------------------------------------------- the plan


def dry_run(workdir, config_path) -> str:
    """``snakemake -n -p`` of a config, stdout and stderr as one stream in the order they were written."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(workdir),
        ]
        + ["-n", "-p", "--configfile", str(config_path)],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def planned(output: str) -> dict:
    """The jobs of a dry run: rule counts, and the output, log and benchmark paths and the shell commands."""
    plan = {"rules": Counter(), "output": set(), "log": set(), "benchmark": set(), "shell": []}
    for line in output.splitlines():
        if line.startswith(("rule ", "localrule ")):
            plan["rules"][line.split()[1].rstrip(":")] += 1
        elif line.startswith(("    output: ", "    log: ", "    benchmark: ")):
            field, _, paths = line.strip().partition(": ")
            plan[field] |= set(paths.split(", "))
        elif line.startswith("Shell command: "):
            plan["shell"].append(line[len("Shell command: ") :])
    return plan


def shell_arguments(plan: dict, command: str) -> list[dict]:
    """The JSON arguments (--spec, --models, ...) of each planned job running ``<command>``."""
    found = []
    for shell in plan["shell"]:
        words = shlex.split(shell.split(" > ")[0])
        if words[:4] == ["python", "-m", "unlearning_comparator", command]:
            found.append(
                {w: json.loads(v) for w, v in zip(words, words[1:]) if w.startswith("--") and v[0] in "[{"}
            )
    return found


def paths_before_forget_sets(config: dict) -> dict[str, set[str]]:
    """The outputs, logs and benchmarks a config of one-class sets and one seed had before forget sets and
    replicates existed (the rule files' path patterns of then, written out)."""
    results = f"results/{config['name']}"
    evaluation = ["logits.arrow", "features.arrow", "similarity.arrow", "summary.json"]
    out, logs, benches = set(), set(), set()

    def job(rule, pattern, outputs, benchmark=True):
        out.update(f"{results}/{o}" for o in outputs)
        logs.add(f"{results}/logs/{rule}/{pattern}.log")
        if benchmark:
            benches.add(f"{results}/benchmarks/{rule}/{pattern}.tsv")

    def model(folder):
        return [f"models/{folder}/model.pt", f"models/{folder}/info.json"]

    def evaluated(folder, grams=False):
        return [f"evaluation/{folder}/{f}" for f in evaluation + (["grams.pt"] if grams else [])]

    job("data", "data", ["data/manifest.json"])
    job("subsets", "subsets", ["tables/subset.arrow", "tables/thumbnails.png"])
    job("train_original", "original", model("original"))
    job("evaluate", "original", evaluated("original", grams=True))
    for c in config["forget_classes"]:
        job("retrain", f"fc{c}", model(f"fc{c}/retrained"))
        job("evaluate", f"fc{c}/retrained", evaluated(f"fc{c}/retrained", grams=True))
        job("analyze", f"fc{c}", [f"analysis/fc{c}/{t}.arrow" for t in TABLES])
    for run in unlearning_runs(config, METHODS_DIR):
        folder = f"fc{run.forget_class}/{run.method}/{run.key}"
        job("unlearn", folder, model(folder) + evaluated(folder))
    for name, external in config["external"].items():
        folder = f"fc{external['forget_class']}/external/{name}"
        job("import_external", f"fc{external['forget_class']}/{name}", model(folder), benchmark=False)
        job("evaluate", folder, evaluated(folder))
    job("tables", "tables", [f"tables/{t}.arrow" for t in TABLES])
    job("site", "site", ["site/index.html"])
    return {"output": out, "log": logs, "benchmark": benches}


@pytest.mark.parametrize("name", ["config", "methods-sweep", "cifar10-resnet18", "tiny-run"])
def test_an_existing_config_plans_the_jobs_paths_and_run_ids_of_before(name, tmp_path):
    """Experiments of one-class sets and one seed keep every folder, file and run id: a results folder of
    before stays where the workflow looks for it."""
    path = tiny_run_config(tmp_path) if name == "tiny-run" else ROOT / "config" / f"{name}.yaml"
    config = load_config(path, METHODS_DIR)
    plan = planned(dry_run(tmp_path, path))
    expected = paths_before_forget_sets(config)
    for field in ("output", "log", "benchmark"):
        assert plan[field] == expected[field], (field, sorted(plan[field] ^ expected[field])[:10])
    for models, spec in ((a["--models"], a["--spec"]) for a in shell_arguments(plan, "analyze")):
        fc = spec["forget_class"]
        run_ids = [m["run_id"] for m in models]
        assert run_ids[:2] == [f"fc{fc}-original", f"fc{fc}-retrained"]
        assert all(r.startswith(f"fc{fc}-") for r in run_ids) and all(
            m["seed"] == config["seed"] for m in models
        )
        assert [m["setting_id"] for m in models] == run_ids  # one replicate: no -seed<s> suffix
    for spec in (a["--spec"] for a in shell_arguments(plan, "unlearn")):
        assert spec["base"] == f"fc{spec['forget_set']['classes'][0]}-original"
        assert spec["hyperparameters"]["seed"] == config["seed"]


def _two_by_two(tmp_path):
    """A plan of two forget sets (class 1, a random 10 %) x two seeds, two methods (one for whole classes
    only) and an external model of the random set."""
    config = tiny_config(seeds=[0, 1], forget_classes=[1], forget_sets=[{"random": 0.1}])
    config["methods"] = {
        "ga": {"epochs": [1], "lr": [0.01], "batch_size": [64]},
        "boundary_shrink": {"epochs": [1], "lr": [0.01], "batch_size": [64]},
    }
    (tmp_path / "theirs.pt").write_bytes(b"")
    config["external"] = {"theirs": {"checkpoint": str(tmp_path / "theirs.pt"), "forget_set": "rnd10s1"}}
    return dry_run(tmp_path, write_config(tmp_path / "two.yaml", config))


def test_two_sets_by_two_seeds_plan_each_model_once_per_seed(tmp_path):
    plan = planned(_two_by_two(tmp_path))
    assert plan["rules"] == {
        "data": 1,
        "subsets": 1,
        "train_original": 2,  # one original per seed
        "evaluate_original": 2,
        "retrain": 4,  # per (seed, set)
        "evaluate_retrained": 4,
        "unlearn": 6,  # ga on 2 sets x 2 seeds; boundary_shrink on the class only
        "import_external": 1,  # the first seed's
        "evaluate_compared": 1,
        "analyze": 2,  # one per set, over both seeds
        "tables": 1,
        "site": 1,
        "all": 1,
    }
    r = "results/tiny"
    assert {
        f"{r}/models/seed1/original/model.pt",
        f"{r}/models/seed1/rnd10s1/retrained/model.pt",
        f"{r}/models/seed0/fc1/boundary_shrink/e1-lr0.01-bs64/model.pt",
        f"{r}/models/seed0/rnd10s1/external/theirs/model.pt",
        f"{r}/evaluation/seed1/rnd10s1/ga/e1-lr0.01-bs64/logits.arrow",
        f"{r}/analysis/rnd10s1/runs.arrow",
    } <= plan["output"]
    assert {f"{r}/logs/train_original/seed1/original.log", f"{r}/logs/analyze/rnd10s1.log"} <= plan["log"]

    analyses = {a["--spec"]["forget_set"]["id"]: a for a in shell_arguments(plan, "analyze")}
    random_set = analyses["rnd10s1"]
    assert random_set["--spec"]["seeds"] == [0, 1] and random_set["--spec"]["forget_set"]["fraction"] == 0.1
    assert [(m["run_id"], m["setting_id"], m["seed"]) for m in random_set["--models"]] == [
        ("rnd10s1-original-seed0", "rnd10s1-original", 0),
        ("rnd10s1-retrained-seed0", "rnd10s1-retrained", 0),
        ("rnd10s1-ga-e1-lr0.01-bs64-seed0", "rnd10s1-ga-e1-lr0.01-bs64", 0),
        ("rnd10s1-external-theirs", "rnd10s1-external-theirs", 0),  # the first seed's, no suffix
        ("rnd10s1-original-seed1", "rnd10s1-original", 1),
        ("rnd10s1-retrained-seed1", "rnd10s1-retrained", 1),
        ("rnd10s1-ga-e1-lr0.01-bs64-seed1", "rnd10s1-ga-e1-lr0.01-bs64", 1),
    ]
    assert random_set["--reference-grams"]["1"] == {
        "original": f"{r}/evaluation/seed1/original/grams.pt",
        "retrained": f"{r}/evaluation/seed1/rnd10s1/retrained/grams.pt",
    }
    assert set(random_set["--out"]) == set(TABLES)
    # every unlearning run starts from its own seed's original and is compared with its own seed's references
    for args in shell_arguments(plan, "unlearn"):
        seed = args["--spec"]["hyperparameters"]["seed"]
        assert args["--spec"]["base"].endswith(f"-original-seed{seed}")
        assert f"/seed{seed}/" in args["--reference-grams"]["retrained"]
    (tables,) = shell_arguments(plan, "tables")
    assert tables["--spec"]["seeds"] == [0, 1] and tables["--spec"]["forget_classes"] == [1]
    assert [s["id"] for s in tables["--spec"]["forget_sets"]] == ["fc1", "rnd10s1"]
    assert [(x["method"], x["forget_set"]) for x in tables["--spec"]["refused"]] == [
        ("boundary_shrink", "rnd10s1")
    ]


def test_the_audit_adds_one_job_per_forget_set_and_its_tables(tmp_path):
    """audit.shadow_models plans an audit per forget set over every replicate's models (externals are
    listed, the job leaves them out) and makes audit.arrow and audit_instances.arrow tables of the
    experiment; without it, neither exists."""
    config = tiny_config(seeds=3, forget_classes=[1], forget_sets=[{"random": 0.1}])
    config["audit"] = {"shadow_models": 2}
    plan = planned(dry_run(tmp_path, write_config(tmp_path / "audit.yaml", config)))
    assert plan["rules"]["audit"] == 2 and plan["rules"]["analyze"] == 2
    audits = {a["--spec"]["forget_set"]["id"]: a for a in shell_arguments(plan, "audit")}
    assert set(audits) == {"fc1", "rnd10s1"}
    random_set = audits["rnd10s1"]
    assert random_set["--spec"]["audit"] == {"shadow_models": 2, "rmia_a": 0.3}
    assert random_set["--spec"]["seeds"] == [1, 2, 3]
    assert {m["seed"] for m in random_set["--models"]} == {1, 2, 3}
    assert random_set["--out"] == {
        "audit": "results/tiny/analysis/rnd10s1/audit.arrow",
        "audit_instances": "results/tiny/analysis/rnd10s1/audit_instances.arrow",
    }
    (tables,) = shell_arguments(plan, "tables")
    assert set(tables["--out"]) == set(TABLES) | {"audit", "audit_instances"}
    assert tables["--fragments"]["audit"] == [
        f"results/tiny/analysis/{s}/audit.arrow" for s in ("fc1", "rnd10s1")
    ]

    del config["audit"]
    plan = planned(dry_run(tmp_path, write_config(tmp_path / "no-audit.yaml", config)))
    assert "audit" not in plan["rules"]
    (tables,) = shell_arguments(plan, "tables")
    assert set(tables["--out"]) == set(TABLES)


def test_a_method_not_run_on_a_set_is_named_before_any_job(tmp_path):
    output = _two_by_two(tmp_path)
    line = "method boundary_shrink is not run on forget set rnd10s1: Boundary Shrink (boundary_shrink) is"
    assert output.count(line) == 1, output[:3000]
    assert output.index(line) < output.index("Building DAG of jobs")
    assert "rnd10s1/boundary_shrink" not in output


def test_an_analysis_too_large_for_a_command_line_is_refused_before_any_job(tmp_path):
    """The analyze job gets its model list on the command line, one argument of which holds 128 KiB: a
    sweep over many seeds must stop at planning with the reason, not fail later with "Argument list too
    long"; five seeds of the methods sweep (270 models) still fit."""
    sweep = yaml.safe_load((ROOT / "config" / "methods-sweep.yaml").read_text())
    fits = write_config(tmp_path / "fits.yaml", {**sweep, "seeds": 5})
    plan = planned(dry_run(tmp_path, fits))
    (analysis,) = shell_arguments(plan, "analyze")
    assert len(analysis["--models"]) == 5 * 54 and {"folder", "run_id"} <= set(analysis["--models"][0])
    too_many = write_config(tmp_path / "too-many.yaml", {**sweep, "seeds": 20})
    refused = snakemake(tmp_path, "-n", "--configfile", str(too_many))
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "forget set fc4: its analysis would list 1080 models" in output
    assert "more than one command-line argument holds" in output


# ------------------------------------------------------------------------------ the tiny workflow run


def rows(table):
    return table.to_pylist()


@pytest.fixture(scope="module")
def tiny(tiny_run):
    return tiny_run[1]


@slow
def test_every_model_has_a_row(tiny):
    runs = rows(tiny["runs"])
    for fc in (1, 3):
        mine = [r for r in runs if r["forget_class"] == fc]
        types = [r["type"] for r in mine]
        assert types.count("original") == 1 and types.count("retrained") == 1
        assert sorted(r["method"] for r in mine if r["type"] == "unlearned") == sorted(
            ["ft", "ga", "rl", "scrub", "salun", *BROKEN_METHODS]
        )
    external = {r["run_id"]: r for r in runs if r["type"] == "external"}
    assert set(external) == {f"fc{e['forget_class']}-external-{name}" for name, e in EXTERNAL_MODELS.items()}
    assert len({r["run_id"] for r in runs}) == len(runs)


@slow
def test_broken_methods_are_recorded_as_failed_and_the_rest_complete(tiny):
    runs = rows(tiny["runs"])
    for r in runs:
        if r["method"] in BROKEN_METHODS or r["run_id"].endswith("external-evil"):
            assert r["status"] == "failed" and r["UA"] is None
        else:
            assert r["status"] == "ok", r["error"]
            assert r["error"] is None
    errors = {r["method"]: r["error"] for r in runs if r["status"] == "failed"}
    assert "this method always fails" in errors["raises"]
    assert "not finite" in errors["nan_weights"]
    assert "a_module_that_does_not_exist" in errors["bad_import"]
    # an external checkpoint that carries code is refused (weights_only loading), a plain one is evaluated
    evil = next(r for r in runs if r["run_id"].endswith("external-evil"))
    assert "run code" in evil["error"] and "evil.pt" in evil["error"]
    good = next(r for r in runs if r["run_id"].endswith("external-plain"))
    assert good["status"] == "ok" and good["method_name"] == "Uploaded <b>model</b>"


@slow
def test_retrained_models_forget_and_methods_lower_forget_accuracy(tiny):
    runs = rows(tiny["runs"])
    for fc in (1, 3):
        mine = {(r["type"], r["method"]): r for r in runs if r["forget_class"] == fc}
        original, retrained = mine[("original", None)], mine[("retrained", None)]
        assert retrained["UA"] == 0.0 and retrained["TUA"] == 0.0
        assert original["UA"] > 0.5
        lowered = [m for m in ("ga", "rl", "salun") if mine[("unlearned", m)]["UA"] < original["UA"] - 0.1]
        assert len(lowered) >= 2, lowered
        assert retrained["RTE"] > 0 and original["RTE"] is None
        assert original["PS"] < 0.9


@slow
def test_every_run_has_the_same_subset_instances(tiny):
    inst = tiny["instances"]
    by_run = {}
    for run_id, index in zip(inst.column("run_id").to_pylist(), inst.column("index").to_pylist()):
        by_run.setdefault(run_id, []).append(index)
    ok_runs = {r["run_id"] for r in rows(tiny["runs"]) if r["status"] == "ok"}
    assert set(by_run) == ok_runs
    subsets = {tuple(v) for v in by_run.values()}
    assert len(subsets) == 1 and len(next(iter(subsets))) == 200


def _cka(sim, run_id, reference, split, subset):
    out = {}
    for r in sim.to_pylist():
        if (r["run_id"], r["reference"], r["split"], r["subset"]) == (run_id, reference, split, subset):
            out[(r["reference_layer"], r["layer"])] = r["cka"]
    return out


@slow
def test_forgetting_shows_in_late_layers_on_forget_data(tiny):
    sim = tiny["similarity"]
    for fc in (1, 3):
        forget = _cka(sim, f"fc{fc}-retrained", "original", "train", "forget")
        retain = _cka(sim, f"fc{fc}-retrained", "original", "train", "retain")
        # the retrained model never saw the class: its late layers drift from the original's most on it
        assert forget[("fc", "fc")] < forget[("stem", "stem")]
        assert forget[("fc", "fc")] < retain[("fc", "fc")]


@slow
def test_the_retrained_models_forgotten_class_moves_in_the_embedding(tiny):
    """The aligned embedding: the original's layout is the frame, and the images whose neighbourhood the
    retrained model changed most (the forgotten class) move further than the others."""
    inst = tiny["instances"].to_pylist()
    for fc in (1, 3):
        xy = {(r["run_id"], r["index"]): (r["x"], r["y"], r["label"]) for r in inst}
        original = {i: v for (run, i), v in xy.items() if run == f"fc{fc}-original"}
        retrained = {i: v for (run, i), v in xy.items() if run == f"fc{fc}-retrained"}
        ref = np.array([original[i][:2] for i in sorted(original)])
        width = np.ptp(ref, axis=0).max()
        shift = np.array(
            [
                np.hypot(retrained[i][0] - original[i][0], retrained[i][1] - original[i][1])
                for i in sorted(original)
            ]
        )
        labels = np.array([original[i][2] for i in sorted(original)])
        assert np.median(shift[labels == fc]) > 1.5 * np.median(shift[labels != fc]), fc
        assert np.median(shift[labels != fc]) < 0.05 * width
