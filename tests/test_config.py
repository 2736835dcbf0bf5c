"""The config schema: what it refuses (naming the key), what it fills in, and the run grid."""

from __future__ import annotations

import time

import pytest

from conftest import METHODS_DIR, snakemake, tiny_config, write_config
from unlearning_comparator.config import ConfigError, method_grid, unlearning_runs, validate_config


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
    "unknown method": (lambda c: c["methods"].update(magic={"epochs": [1], "lr": [0.1], "batch_size": [8]}), "methods.magic"),
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
    "bad method key value": (lambda c: c["methods"]["salun"].update(saliency_threshold="high"), "methods.salun.saliency_threshold"),
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
    assert resolved["analysis"]["umap"] == {"n_neighbors": 9, "min_dist": 0.45, "n_epochs": 500, "aligned_epochs": 100,
                                            "aligned_learning_rate": 0.1}
    assert resolved["analysis"]["attack"]["thresholds"] == 51
    assert resolved["device"] == "auto"
    # method-specific keys take the module's defaults (the original's constants)
    assert resolved["methods"]["scrub"]["alpha"] == 0.5
    assert resolved["methods"]["salun"]["saliency_threshold"] == 0.75
    assert resolved["methods"]["ga"]["seeds"] == [config["seed"]]


def test_grid_is_the_product_in_the_original_order():
    config = tiny_config()
    config["methods"] = {"ga": {"epochs": [1, 2], "lr": [0.1, 0.01], "batch_size": [8]}}
    resolved = validate_config(config, METHODS_DIR)
    points = method_grid(resolved["methods"]["ga"], {"grad_clip": 100.0})
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


@pytest.mark.parametrize("case", ["forget class out of range", "unknown method", "non-numeric seed", "name with a slash"])
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
    keys = [r.key for r in unlearning_runs(validate_config(config, METHODS_DIR), METHODS_DIR) if r.forget_class == 1]
    assert keys == ["e1-lr0.0003-bs8", "e1-lr0.00030000001-bs8", "e1-lr1e-05-bs8"]


def test_external_models_alone_and_their_forget_class(tmp_path):
    checkpoint = tmp_path / "m.pt"
    checkpoint.write_bytes(b"")
    config = tiny_config(methods={})
    config["external"] = {"theirs": {"checkpoint": str(checkpoint), "forget_class": 3}}
    assert validate_config(config, METHODS_DIR)["methods"] == {}
    config["external"]["theirs"]["forget_class"] = 5  # not among forget_classes [1, 3]: compared with nothing
    assert "external.theirs.forget_class" in refusal(config)
