"""The config schema: what it refuses (naming the key), what it fills in, and the run grid."""

from __future__ import annotations

import math
import shutil
import time

import jsonschema
import pytest
from snakemake.cli import parse_config
from snakemake.utils import update_config

from unlearning_comparator import catalog
from unlearning_comparator.config import (
    ConfigError,
    load_schema,
    method_grid,
    refusal_line,
    replicates_of,
    unlearning_plan,
    unlearning_runs,
    validate_config,
)
from unlearning_comparator.unlearning.registry import discover

from conftest import METHODS_DIR, ROOT, snakemake, tiny_config, write_config


def refusal(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config, METHODS_DIR)
    return str(info.value)


BAD_CONFIGS = {
    # name: (change to the tiny config, text the error must contain)
    "unknown top-level key": (lambda c: c.update(epochz=3), "epochz"),
    "unknown nested key": (lambda c: c["training"].update(lr_decay=0.1), "training.lr_decay"),
    "forget class out of range": (lambda c: c.update(forget_classes=[1, 10]), "forget_classes[1]"),
    "negative forget class": (lambda c: c.update(forget_classes=[-1]), "forget_classes[0]"),
    "unknown method": (
        lambda c: c["methods"].update(magic={"epochs": [1], "lr": [0.1], "batch_size": [8]}),
        "methods.magic",
    ),
    "unknown dataset": (lambda c: c.update(dataset="mnist"), "dataset"),
    "unknown model": (lambda c: c.update(model="vgg16"), "model"),
    "zero learning rate": (lambda c: c["methods"]["ga"].update(lr=[0.0]), "methods.ga.lr[0]"),
    "negative learning rate": (lambda c: c["training"].update(lr=-0.1), "training.lr"),
    "zero batch size": (lambda c: c["methods"]["ft"].update(batch_size=[0]), "methods.ft.batch_size[0]"),
    "zero epochs": (lambda c: c["methods"]["rl"].update(epochs=[0]), "methods.rl.epochs[0]"),
    "non-numeric seed": (lambda c: c.update(seed="abc"), "seed"),
    "name with a slash": (lambda c: c.update(name="../evil"), "name"),
    "name with spaces": (lambda c: c.update(name="my experiment"), "name"),
    "unknown method key": (lambda c: c["methods"]["scrub"].update(alpah=0.5), "methods.scrub.alpah"),
    "bad method key value": (
        lambda c: c["methods"]["salun"].update(saliency_threshold="high"),
        "methods.salun.saliency_threshold",
    ),
    "NaN learning rate": (
        lambda c: c["methods"]["ga"].update(lr=[math.nan]),
        "methods.ga.lr[0]: nan is not a finite number",
    ),
    # forget sets and seeds
    "no forget set": (lambda c: c.update(forget_classes=[]), "config key forget_classes: no forget set"),
    "set class out of range": (
        lambda c: c.update(forget_sets=[{"classes": [2, 10]}]),
        "forget_sets[0].classes: class 10 is out of range",
    ),
    "random fraction 0": (lambda c: c.update(forget_sets=[{"random": 0}]), "forget_sets[0].random"),
    "random fraction 1": (lambda c: c.update(forget_sets=[{"random": 1.0}]), "forget_sets[0].random"),
    "random fraction above 1": (lambda c: c.update(forget_sets=[{"random": 10}]), "forget_sets[0].random"),
    "classes and random": (
        lambda c: c.update(forget_sets=[{"classes": [2], "random": 0.1}]),
        "forget_sets[0]: give either `classes`",
    ),
    "neither classes nor random": (lambda c: c.update(forget_sets=[{"name": "x"}]), "forget_sets[0]: give"),
    "a seed for classes": (
        lambda c: c.update(forget_sets=[{"classes": [2], "seed": 1}]),
        "forget_sets[0].seed",
    ),
    "unknown forget-set key": (lambda c: c.update(forget_sets=[{"random": 0.1, "fraction": 1}]), "fraction"),
    "same class twice": (
        lambda c: c.update(forget_sets=[{"classes": [3]}]),
        "config key forget_sets[0]: forget set fc3 is also given by forget_classes[1]",
    ),
    "same classes in another order": (
        lambda c: c.update(forget_classes=[1], forget_sets=[{"classes": [2, 4]}, {"classes": [4, 2]}]),
        "config key forget_sets[1]: forget set fc2_4 is also given by forget_sets[0]",
    ),
    "same random draw, other name": (
        lambda c: c.update(forget_sets=[{"random": 0.1, "name": "a"}, {"random": 0.1, "seed": 1}]),
        "config key forget_sets[1]: forget set rnd10s1 is also given by forget_sets[0]",  # tiny seed: 1
    ),
    "repeated seeds": (lambda c: c.update(seeds=[0, 0]), "config key seeds: [0, 0] has non-unique elements"),
    "negative seed": (lambda c: c.update(seeds=[0, -1]), "seeds[1]"),
    "empty seeds": (lambda c: c.update(seeds=[]), "config key seeds"),
    "audit without enough seeds": (
        lambda c: c.update(seeds=3, audit={"shadow_models": 4}),
        "config key audit.shadow_models: 4 shadow models need at least 5 replicates (each audited against 4 "
        "others), but seeds gives 3; set seeds: 5",
    ),
    "audit with one shadow model": (
        lambda c: c.update(seeds=3, audit={"shadow_models": 1}),
        "config key audit.shadow_models: 1 shadow model of each kind fits no distribution",
    ),
    "audit's rmia_a out of range": (lambda c: c.update(audit={"rmia_a": 2}), "audit.rmia_a"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_refusals_name_the_key(case):
    change, key = BAD_CONFIGS[case]
    config = tiny_config()
    change(config)
    message = refusal(config)
    assert key in message, message


def test_defaults_are_filled_in():
    config = tiny_config()
    del config["analysis"]
    resolved = validate_config(config, METHODS_DIR)
    assert resolved["analysis"]["umap"] == {
        "n_neighbors": 9,
        "min_dist": 0.45,
        "n_epochs": 500,
        "aligned_epochs": 200,
        "anchor_stiffness": 3.0,
    }
    assert resolved["analysis"]["attack"]["thresholds"] == 51
    assert resolved["device"] == "auto"
    # method-specific keys take the module's defaults (the original's constants)
    assert resolved["methods"]["scrub"]["alpha"] == 0.5
    assert resolved["methods"]["salun"]["saliency_threshold"] == 0.75
    assert "seeds" not in resolved["methods"]["ga"]  # each replicate's own seed, unless the config gives some
    assert resolved["audit"] == {"shadow_models": 0, "rmia_a": 0.3}  # the audit is opt-in


def test_every_run_holds_every_declared_hyperparameter():
    """Methods read hp["key"] with no fallback: each run gets every key its module declares, and the seed."""
    specs = discover(METHODS_DIR)
    for run in unlearning_runs(validate_config(tiny_config(), METHODS_DIR), METHODS_DIR):
        assert set(run.hp) == {*specs[run.method].declared_keys(), "seed"}, run.run_id


def test_dataset_and_model_choices_come_from_the_catalog_and_the_registry():
    assert all(name in refusal(tiny_config(model="vgg16")) for name in catalog.describe_models())
    assert all(name in refusal(tiny_config(dataset="mnist")) for name in catalog.DATASETS)
    schema = load_schema()  # the file alone: a valid schema that does not repeat the lists
    jsonschema.Draft202012Validator.check_schema(schema)
    assert not {"enum"} & (set(schema["properties"]["model"]) | set(schema["properties"]["dataset"]))


def test_a_model_registration_that_cannot_be_read_statically_is_refused(tmp_path, monkeypatch):
    bare_decorator = "@register_model\ndef bad_net(num_classes, in_channels):\n    pass\n"
    (tmp_path / "bad_net.py").write_text(bare_decorator)
    monkeypatch.setattr(catalog, "MODELS_DIR", tmp_path)
    message = refusal(tiny_config())
    assert "models/bad_net.py" in message and "display_name" in message, message


def test_grid_is_the_product_in_the_original_order():
    config = tiny_config()
    config["methods"] = {"ga": {"epochs": [1, 2], "lr": [0.1, 0.01], "batch_size": [8]}}
    resolved = validate_config(config, METHODS_DIR)
    points = method_grid(resolved["methods"]["ga"], {"grad_clip": 100.0}, [resolved["seed"]])
    assert [k for k, _ in points] == ["e1-lr0.1-bs8", "e1-lr0.01-bs8", "e2-lr0.1-bs8", "e2-lr0.01-bs8"]
    runs = unlearning_runs(resolved, METHODS_DIR)
    assert len(runs) == 4 * len(config["forget_classes"])
    assert len({r.run_id for r in runs}) == len(runs)


def test_method_specific_lists_are_grid_axes():
    config = tiny_config()
    config["methods"] = {"scrub": {"epochs": [1], "lr": [0.01], "batch_size": [8], "alpha": [0.5, 0.9]}}
    resolved = validate_config(config, METHODS_DIR)
    keys = [r.key for r in unlearning_runs(resolved, METHODS_DIR) if r.forget_class == 1]
    assert keys == ["e1-lr0.01-bs8-alpha0.5", "e1-lr0.01-bs8-alpha0.9"]


def test_the_default_config_is_valid():
    from unlearning_comparator.config import load_config

    config = load_config(METHODS_DIR.parent / "config" / "config.yaml", METHODS_DIR)
    assert len(config["forget_classes"]) >= 3
    assert set(config["methods"]) >= {"ft", "ga", "rl", "scrub", "salun"}


@pytest.mark.parametrize("path", sorted((METHODS_DIR.parent / "config").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_is_valid(path):
    from unlearning_comparator.config import load_config

    config = load_config(path, METHODS_DIR)
    k = config["audit"]["shadow_models"]
    assert k == 0 or len(config["seeds"]) == k + 1  # an audit config runs exactly the replicates it needs


@pytest.mark.parametrize(
    "case",
    [
        "forget class out of range",
        "unknown method",
        "non-numeric seed",
        "name with a slash",
        "NaN learning rate",
    ],
)
def test_a_refused_config_fails_the_dry_run_before_any_job(tmp_path, case):
    change, key = BAD_CONFIGS[case]
    config = tiny_config()
    change(config)
    path = write_config(tmp_path / "bad.yaml", config)
    start = time.perf_counter()
    result = snakemake(tmp_path, "-n", "--configfile", str(path))
    elapsed = time.perf_counter() - start
    assert result.returncode != 0
    assert key in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
    assert elapsed < 30, f"refusing a config took {elapsed:.1f} s"


def test_near_equal_learning_rates_get_distinct_run_folders():
    config = tiny_config()
    config["methods"] = {"ga": {"epochs": [1], "lr": [0.0003, 0.00030000001, 1e-05], "batch_size": [8]}}
    keys = [
        r.key
        for r in unlearning_runs(validate_config(config, METHODS_DIR), METHODS_DIR)
        if r.forget_class == 1
    ]
    assert keys == ["e1-lr0.0003-bs8", "e1-lr0.00030000001-bs8", "e1-lr1e-05-bs8"]


def test_external_models_alone_and_their_forget_class(tmp_path):
    checkpoint = tmp_path / "m.pt"
    checkpoint.write_bytes(b"")
    config = tiny_config(methods={})
    config["external"] = {"theirs": {"checkpoint": str(checkpoint), "forget_class": 3}}
    assert validate_config(config, METHODS_DIR)["methods"] == {}
    config["external"]["theirs"]["forget_class"] = 5  # not among forget_classes [1, 3]: compared with nothing
    assert "external.theirs.forget_class" in refusal(config)


def test_an_external_model_names_its_forget_set(tmp_path):
    checkpoint = tmp_path / "m.pt"
    checkpoint.write_bytes(b"")
    config = tiny_config(methods={}, forget_sets=[{"random": 0.1}])
    config["external"] = {"theirs": {"checkpoint": str(checkpoint), "forget_set": "rnd10s1"}}
    validate_config(config, METHODS_DIR)
    config["external"]["theirs"]["forget_set"] = "rnd20s1"
    assert "config key external.theirs.forget_set: 'rnd20s1' is not one of the configured" in refusal(config)
    config["external"]["theirs"]["forget_class"] = 1
    assert "config key external.theirs: give either forget_class" in refusal(config)
    del config["external"]["theirs"]["forget_set"], config["external"]["theirs"]["forget_class"]
    assert "config key external.theirs: give either forget_class" in refusal(config)


# ------------------------------------------------------------------------- forget sets and replicates


def _runs(**changes):
    config = tiny_config(**changes)
    config["methods"] = {"ga": {"epochs": [2], "lr": [0.01], "batch_size": [64]}}
    return unlearning_runs(validate_config(config, METHODS_DIR), METHODS_DIR)


def test_forget_sets_come_after_forget_classes_and_forget_classes_may_be_empty():
    resolved = validate_config(
        tiny_config(forget_classes=[], forget_sets=[{"classes": [4, 2], "name": "two"}, {"random": 0.25}]),
        METHODS_DIR,
    )
    assert resolved["forget_classes"] == [] and resolved["seeds"] == [1]  # seeds default: [seed]
    runs = unlearning_runs(resolved, METHODS_DIR)
    assert [r.forget_set.id for r in runs if r.method == "ga"] == ["fc2_4", "rnd25s1"]
    assert runs[0].forget_set.name == "two" and runs[0].forget_class is None


def test_one_replicate_keeps_the_folders_and_run_ids_of_before():
    (run,) = [r for r in _runs() if r.forget_set.id == "fc1"]
    assert run.run_id == run.setting_id == "fc1-ga-e2-lr0.01-bs64"
    assert run.folder == "fc1/ga/e2-lr0.01-bs64" and run.forget_class == 1
    assert run.seed == run.hp["seed"] == 1
    (replicate,) = replicates_of(validate_config(tiny_config(), METHODS_DIR))
    assert (replicate.original_folder, replicate.suffix) == ("original", "")


def test_several_replicates_get_seed_folders_and_run_id_suffixes():
    runs = [r for r in _runs(seeds=[0, 5]) if r.forget_set.id == "fc3"]
    assert [r.run_id for r in runs] == ["fc3-ga-e2-lr0.01-bs64-seed0", "fc3-ga-e2-lr0.01-bs64-seed5"]
    assert [r.folder for r in runs] == ["seed0/fc3/ga/e2-lr0.01-bs64", "seed5/fc3/ga/e2-lr0.01-bs64"]
    assert {r.setting_id for r in runs} == {"fc3-ga-e2-lr0.01-bs64"}  # rows of one setting share it
    assert [r.replicate.original_folder for r in runs] == ["seed0/original", "seed5/original"]


def test_replicates_can_be_asked_for_by_number():
    """``seeds: K`` is K replicates counted from the experiment's seed (what a shadow-model audit needs)."""
    assert validate_config(tiny_config(seed=3, seeds=4), METHODS_DIR)["seeds"] == [3, 4, 5, 6]
    assert [r.seed for r in replicates_of(validate_config(tiny_config(seeds=2), METHODS_DIR))] == [1, 2]
    for bad in (0, -1, "x"):
        with pytest.raises(ConfigError, match="config key seeds: .* is neither a list of distinct seeds"):
            validate_config(tiny_config(seeds=bad), METHODS_DIR)
    with pytest.raises(ConfigError, match=r"config key seeds: \[1, 1\] has non-unique elements"):
        validate_config(tiny_config(seeds=[1, 1]), METHODS_DIR)


def test_a_methods_seed_follows_its_replicate_unless_the_method_gives_seeds():
    assert [(r.seed, r.hp["seed"]) for r in _runs(seeds=[0, 5]) if r.forget_class == 1] == [(0, 0), (5, 5)]
    config = tiny_config(seeds=[0, 5])
    config["methods"] = {"ga": {"epochs": [2], "lr": [0.01], "batch_size": [64], "seeds": [7, 8]}}
    runs = [
        r for r in unlearning_runs(validate_config(config, METHODS_DIR), METHODS_DIR) if r.forget_class == 1
    ]
    assert [(r.seed, r.hp["seed"], r.run_id) for r in runs] == [
        (0, 7, "fc1-ga-e2-lr0.01-bs64-s7-seed0"),
        (0, 8, "fc1-ga-e2-lr0.01-bs64-s8-seed0"),
        (5, 7, "fc1-ga-e2-lr0.01-bs64-s7-seed5"),
        (5, 8, "fc1-ga-e2-lr0.01-bs64-s8-seed5"),
    ]


def test_whole_class_methods_are_not_planned_on_other_sets_and_the_reason_is_given():
    config = tiny_config(forget_sets=[{"random": 0.1}, {"classes": [2, 4]}, {"classes": [5]}], seeds=[0, 1])
    config["methods"] = {
        "ga": {"epochs": [1], "lr": [0.01], "batch_size": [64]},
        "boundary_shrink": {"epochs": [1], "lr": [0.01, 0.001], "batch_size": [64]},
    }
    runs, refused = unlearning_plan(validate_config(config, METHODS_DIR), METHODS_DIR)
    planned = {r.forget_set.id for r in runs if r.method == "boundary_shrink"}
    assert planned == {
        "fc1",
        "fc3",
        "fc5",
    }  # one whole class each (fc5 given as a one-class forget_sets entry)
    assert {r.forget_set.id for r in runs if r.method == "ga"} == {"fc1", "fc3", "fc5", "rnd10s1", "fc2_4"}
    assert [(x["method"], x["forget_set"]) for x in refused] == [
        ("boundary_shrink", "rnd10s1"),
        ("boundary_shrink", "fc2_4"),
    ]  # once per (method, set), not per seed or grid point
    assert "WHOLE_CLASS_ONLY" in refused[0]["reason"]
    assert refusal_line(refused[0]).startswith("method boundary_shrink is not run on forget set rnd10s1: ")


# ------------------------------------------------------------------------------- non-finite numbers

NON_FINITE_KEYS = {
    # key named in the error: where the value goes (JSON-schema bounds compare false with NaN)
    "seed": lambda c, v: c.update(seed=v),
    "methods.ga.lr[1]": lambda c, v: c["methods"]["ga"].update(lr=[0.1, v]),
    "training.lr": lambda c, v: c["training"].update(lr=v),
    "analysis.umap.min_dist": lambda c, v: c["analysis"]["umap"].update(min_dist=v),
    "analysis.attack.entropy_range[1]": lambda c, v: c["analysis"].update(attack={"entropy_range": [0.0, v]}),
    "methods.scrub.alpha": lambda c, v: c["methods"]["scrub"].update(alpha=v),  # a method module's own key
    "methods.salun.saliency_threshold[0]": lambda c, v: c["methods"]["salun"].update(
        saliency_threshold=[v, 0.5]
    ),
}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", sorted(NON_FINITE_KEYS))
def test_non_finite_numbers_are_refused_naming_the_key(key, value):
    config = tiny_config()
    NON_FINITE_KEYS[key](config, value)
    assert f"config key {key}: {value!r} is not a finite number" in refusal(config)


def test_every_non_finite_key_is_listed_at_once():
    config = tiny_config()
    for put in NON_FINITE_KEYS.values():
        put(config, math.nan)
    message = refusal(config)
    assert all(f"config key {key}: nan" in message for key in NON_FINITE_KEYS), message


# ------------------------------------------------------------------ values from `snakemake --config`


def with_overrides(*entries: str) -> dict:
    """The tiny config updated with ``--config`` entries exactly as Snakemake parses and merges them."""
    config = tiny_config()
    update_config(config, parse_config(list(entries)))
    return config


def test_command_line_text_becomes_the_numbers_the_schema_asks_for():
    config = validate_config(
        with_overrides(
            "forget_classes=[4, 8]",
            (
                "methods={ga: {lr: [0.1, 1e-3], epochs: [2]}, scrub: {alpha: [0.3, 0.9]}, "
                "salun: {use_random_labels: false}}"
            ),
            "data={train_per_class: 7, test_per_class: null}",
            "analysis={attack: {entropy_range: [0, 2.5]}}",
        ),
        METHODS_DIR,
    )
    assert config["forget_classes"] == [4, 8]
    assert config["methods"]["ga"]["lr"] == [0.1, 0.001] and config["methods"]["ga"]["epochs"] == [2]
    assert config["methods"]["ga"]["batch_size"] == [64]  # a nested override changes only the keys it names
    assert config["methods"]["scrub"]["alpha"] == [0.3, 0.9]  # a method module's key: anyOf scalar or list
    assert config["methods"]["salun"]["use_random_labels"] is False
    assert (
        config["data"]["train_per_class"] == 7 and config["data"]["test_per_class"] is None
    )  # [integer, null]
    assert config["analysis"]["attack"]["entropy_range"] == [0, 2.5]


def test_seeds_and_forget_sets_from_the_command_line():
    config = validate_config(
        with_overrides(
            "seeds=[0, 2]",
            "forget_classes=[]",
            "forget_sets=[{classes: [2, 4]}, {random: 0.05, seed: 3, name: 5 %}]",
        ),
        METHODS_DIR,
    )
    assert config["seeds"] == [0, 2] and config["forget_classes"] == []
    assert config["forget_sets"] == [{"classes": [2, 4]}, {"random": 0.05, "seed": 3, "name": "5 %"}]
    assert [r.forget_set.id for r in unlearning_runs(config, METHODS_DIR) if r.method == "ga"] == [
        "fc2_4",
        "fc2_4",
        "rnd5s3",
        "rnd5s3",
    ]


def test_text_is_kept_where_the_schema_wants_text():
    config = tiny_config(name="007", title="1e3")
    resolved = validate_config(config, METHODS_DIR)
    assert (resolved["name"], resolved["title"]) == ("007", "1e3")


COMMAND_LINE_REFUSALS = {
    # --config entry: text the error must contain
    "seed=abc": "config key seed: 'abc' is not of type 'integer'",
    "forget_classes=[4.5]": "config key forget_classes[0]: '4.5' is not of type 'integer'",
    "forget_classes=[x]": "config key forget_classes[0]: 'x' is not of type 'integer'",
    "seed=nan": "config key seed: nan is not a finite number",
    "methods={ga: {lr: [inf]}}": "config key methods.ga.lr[0]: inf is not a finite number",
    "training={lr: .nan}": "config key training.lr: nan is not a finite number",
    "methods={scrub: {alpha: -inf}}": "config key methods.scrub.alpha: -inf is not a finite number",
    "name=123": "config key name: 123 is a number, but text is wanted here",
    "seeds=[0, x]": "config key seeds[1]: 'x' is not of type 'integer'",
    "seeds=[nan]": "config key seeds[0]: 'nan' is not of type 'integer'",
    "forget_sets=[{random: .nan}]": "config key forget_sets[0].random: nan is not a finite number",
    "forget_sets=[{random: 1.5}]": "config key forget_sets[0].random: 1.5 is greater than or equal to",
    "forget_sets=[{classes: [a]}]": "config key forget_sets[0].classes[0]: 'a' is not of type 'integer'",
    "forget_sets=[4]": "config key forget_sets[0]: '4' is not of type 'object'",
}


@pytest.mark.parametrize("entry", sorted(COMMAND_LINE_REFUSALS))
def test_bad_command_line_values_are_refused_naming_the_key(entry):
    assert COMMAND_LINE_REFUSALS[entry] in refusal(with_overrides(entry))


@pytest.fixture
def default_workdir(tmp_path):
    """A working folder holding the repository's default config where the Snakefile looks for it."""
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    return tmp_path


def dry_run_with(workdir, *entries: str) -> str:
    result = snakemake(workdir, "-n", "-p", "--config", *entries, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


def test_a_scalar_override_on_the_command_line(default_workdir):
    assert '"seed": 5' in dry_run_with(default_workdir, "seed=5")


def test_a_list_override_on_the_command_line(default_workdir):
    output = dry_run_with(default_workdir, "forget_classes=[4]")
    assert "wildcards: sf=fc4" in output
    assert "sf=fc0" not in output and "sf=fc8" not in output  # the default's other classes are gone


def test_a_nested_grid_override_on_the_command_line(default_workdir):
    output = dry_run_with(default_workdir, "methods={ga: {lr: [0.1, 0.01]}}")
    assert "models/fc0/ga/e3-lr0.1-bs256/" in output and "models/fc0/ga/e3-lr0.01-bs256/" in output
    assert "lr0.0003" not in output  # the default's ga learning rates were replaced, its epochs kept


def test_a_bad_command_line_value_stops_the_dry_run(default_workdir):
    result = snakemake(default_workdir, "-n", "--config", "forget_classes=[x]", timeout=120)
    assert result.returncode != 0
    assert "config key forget_classes[0]: 'x' is not of type 'integer'" in result.stdout + result.stderr
    assert not (default_workdir / "results").exists()
