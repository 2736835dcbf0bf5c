"""evaluation.precision: the default, the flags the evaluation sets and restores, what bf16 changes,
and that the setting reaches the evaluation jobs."""

from __future__ import annotations

import importlib.util
import json
import shlex

import pandas as pd
import pytest
import torch

from unlearning_comparator import device as devices
from unlearning_comparator.config import ConfigError, validate_config
from unlearning_comparator.data import normalize
from unlearning_comparator.evaluation import forward_pass
from unlearning_comparator.jobs.common import evaluation_plan, start
from unlearning_comparator.models import create_model
from unlearning_comparator.training import train_classifier

from conftest import METHODS_DIR, ROOT, snakemake, tiny_config, write_config

# bf16 keeps 8 bits of mantissa (relative rounding 2^-9 per operation); through the compact network's
# layers the logits of a random-weight model stay within this share of the largest logit.
BF16_RELATIVE_TOLERANCE = 0.03
PLAN_SPEC = {
    "seed": 0,
    "analysis": {
        "subset_per_class": 10,
        "cka": {"train_per_class": 20, "test_per_class": 20, "batch_per_class": 10},
    },
}


@pytest.fixture(autouse=True)
def restore_tf32_flags():
    """These tests change process-wide flags; leave them as they were for the other tests."""
    before = devices.tf32_flags()
    yield
    devices.set_tf32(*before)


def state() -> dict:
    return {
        "tf32": devices.tf32_flags(),
        "grad": torch.is_grad_enabled(),
        "inference": torch.is_inference_mode_enabled(),
        "autocast": torch.is_autocast_enabled("cpu"),
        "autocast_dtype": torch.get_autocast_dtype("cpu"),
    }


# ---- the setting


def test_default_is_float32_and_tf32_is_not_offered():
    assert validate_config(tiny_config(), METHODS_DIR)["evaluation"]["precision"] == "float32"
    assert (
        validate_config(tiny_config(evaluation={"precision": "bf16"}), METHODS_DIR)["evaluation"]["precision"]
        == "bf16"
    )
    with pytest.raises(ConfigError, match="evaluation.precision"):
        validate_config(tiny_config(evaluation={"precision": "tf32"}), METHODS_DIR)
    assert devices.EVALUATION_PRECISIONS == ("float32", "bf16")


# ---- the context manager and the training flags


@pytest.mark.parametrize("flags", [(True, True), (False, True), (False, False)])
def test_float32_evaluation_turns_tf32_off_and_restores_every_flag(flags):
    devices.set_tf32(*flags)
    before = state()
    with devices.evaluation_precision(torch.device("cpu"), "float32"):
        assert devices.tf32_flags() == (False, False)
        assert not torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu")
    assert state() == before


def test_bf16_evaluation_autocasts_on_the_cpu_and_restores():
    devices.set_tf32(True, True)
    before = state()
    with devices.evaluation_precision(torch.device("cpu"), "bf16"):
        assert devices.tf32_flags() == (False, False)
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (torch.ones(4, 4) @ torch.ones(4, 4)).dtype == torch.bfloat16
    assert state() == before


def test_float32_evaluation_overrides_an_enclosing_autocast_and_restores_after_an_error():
    devices.set_tf32(True, False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(RuntimeError, match="inside"):
            with devices.evaluation_precision(torch.device("cpu"), "float32"):
                assert (torch.ones(4, 4) @ torch.ones(4, 4)).dtype == torch.float32
                raise RuntimeError("inside")
        assert torch.is_autocast_enabled("cpu") and torch.is_grad_enabled()
    assert devices.tf32_flags() == (True, False)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="float32, bf16"):
        with devices.evaluation_precision(torch.device("cpu"), "tf32"):
            pass


def test_training_allows_tf32_and_restores_the_flags_after(fmnist_small):
    devices.set_tf32(False, False)
    seen = []
    model = create_model("compact_resnet", 10, 1)
    model.register_forward_hook(lambda *_: seen.append(devices.tf32_flags()) if model.training else None)
    recipe = {
        "epochs": 1,
        "batch_size": 50,
        "lr": 0.01,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 0.0,
        "schedule": "constant",
        "augmentation": False,
    }
    few = fmnist_small.train.select(torch.arange(100))
    train_classifier(model, few, fmnist_small.info, recipe, torch.device("cpu"), 0, log=lambda _: None)
    assert seen and set(seen) == {(True, True)}
    assert devices.tf32_flags() == (False, False)


def test_jobs_that_train_allow_tf32_and_the_evaluation_job_does_not():
    spec = {"device": "cpu"}
    start(spec, trains=True)
    assert devices.tf32_flags() == (True, True)
    start(spec, trains=False)
    assert devices.tf32_flags() == (False, False)
    devices.select_device("cpu")  # choosing a device no longer decides the precision
    assert devices.tf32_flags() == (False, False)


# ---- the one-pass evaluation


@pytest.fixture(scope="module")
def model_and_data(fmnist_small):
    torch.manual_seed(0)
    model = create_model("compact_resnet", 10, 1).to(memory_format=torch.channels_last).eval()
    return model, fmnist_small, evaluation_plan(PLAN_SPEC, fmnist_small)


def test_float32_one_pass_equals_a_plain_forward(model_and_data):
    model, data, plan = model_and_data
    outputs = forward_pass(model, data, plan, 500, precision="float32")
    with torch.inference_mode():
        for name, split in (("train", data.train), ("test", data.test)):
            plain = model(normalize(split.images, data.info))
            torch.testing.assert_close(outputs.logits[name], plain, rtol=0, atol=1e-5)


def test_bf16_one_pass_is_close_to_float32_and_grams_stay_float32(model_and_data):
    model, data, plan = model_and_data
    exact = forward_pass(model, data, plan, 500, precision="float32")
    bf16 = forward_pass(model, data, plan, 500, precision="bf16")
    for name in ("train", "test"):
        assert bf16.logits[name].dtype == torch.float32
        scale = exact.logits[name].abs().max()
        difference = (bf16.logits[name] - exact.logits[name]).abs().max()
        assert 0 < difference <= BF16_RELATIVE_TOLERANCE * scale, (float(difference), float(scale))
    layer = exact.layers[-2]
    gram_exact, gram_bf16 = exact.grams["train"][0][layer], bf16.grams["train"][0][layer]
    assert gram_bf16.dtype == torch.float32  # formed outside autocast, from the bf16 activations
    assert (gram_bf16 - gram_exact).abs().max() <= 2 * BF16_RELATIVE_TOLERANCE * gram_exact.abs().max()


# ---- the setting reaches the evaluation jobs


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """A dry run of the tiny config with bf16, up to the original model's evaluation."""
    workdir = tmp_path_factory.mktemp("dry")
    path = write_config(workdir / "tiny.yaml", tiny_config(evaluation={"precision": "bf16"}))
    result = snakemake(
        workdir, "results/tiny/evaluation/original/summary.json", "-n", "-p", "--configfile", str(path)
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_the_precision_is_a_param_of_the_evaluation_job(dry_run):
    commands = [line for line in dry_run.splitlines() if "unlearning_comparator evaluate" in line]
    assert len(commands) == 1
    words = shlex.split(commands[0])
    spec = json.loads(words[words.index("--spec") + 1])
    assert spec["evaluation"]["precision"] == "bf16"


def test_the_evaluation_job_records_its_precision(tmp_path):
    from unlearning_comparator.checkpoints import save_state_dict
    from unlearning_comparator.jobs import evaluate

    spec = {
        "name": "t",
        "dataset": "fashion_mnist",
        "model": "compact_resnet",
        "seed": 0,
        "device": "cpu",
        "data": {
            "root": str(ROOT / "resources" / "data"),
            "download": False,
            "train_per_class": 20,
            "test_per_class": 10,
        },
        "run_id": "original",
        "forget_set": None,
        "evaluation": {"batch_size": 100, "precision": "bf16"},
        "analysis": {
            "subset_per_class": 10,
            "cka": {"train_per_class": 8, "test_per_class": 8, "batch_per_class": 4},
        },
    }
    save_state_dict(create_model("compact_resnet", 10, 1), tmp_path / "model.pt")
    (tmp_path / "info.json").write_text(json.dumps({"status": "ok"}))
    out = {k: str(tmp_path / f"{k}.arrow") for k in ("logits", "features", "similarity")}
    evaluate.run(
        spec,
        str(tmp_path / "model.pt"),
        str(tmp_path / "info.json"),
        out["logits"],
        out["features"],
        out["similarity"],
        str(tmp_path / "summary.json"),
        grams_out=str(tmp_path / "grams.pt"),
    )
    assert json.loads((tmp_path / "summary.json").read_text())["precision"] == "bf16"


def test_the_experiment_metadata_records_the_precision_when_given():
    from unlearning_comparator.jobs.tables import experiment_description

    spec = {
        "name": "t",
        "dataset": "fashion_mnist",
        "model": "compact_resnet",
        "forget_classes": [1],
        "seed": 0,
        "analysis": {"attack": {}},
        "training": {},
    }
    assert "evaluation_precision" not in experiment_description(spec, {}, None)
    described = experiment_description({**spec, "evaluation": {"precision": "bf16"}}, {}, None)
    assert described["evaluation_precision"] == "bf16"


# ---- the measurement script's safeguards


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "evaluation_precision", ROOT / "benchmarks" / "evaluation_precision.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_reads_the_planned_jobs_of_a_dry_run(dry_run):
    assert _benchmark().planned_jobs(dry_run) == {"data": 1, "evaluate_original": 1, "train_original": 1}


def test_the_benchmark_compares_every_numeric_column():
    bench = _benchmark()
    a = pd.DataFrame(
        {
            "run_id": ["a", "b"],
            "UA": [0.5, 0.25],
            "new_metric": [1.0, None],
            "train_acc": [[0.1, 0.2], [0.3, 0.4]],
            "pred": [1, 2],
            "error": [None, "x"],
        }
    )
    b = pd.DataFrame(
        {
            "run_id": ["b", "a"],
            "UA": [0.25, 0.75],
            "new_metric": [2.0, 1.0],
            "train_acc": [[0.3, 0.4], [0.1, 0.5]],
            "pred": [2, 3],
            "error": ["x", None],
        }
    )
    rows = {r["column"]: r for r in bench.compare_table("runs", a, b)}
    assert rows["UA"]["max_abs_diff"] == pytest.approx(0.25) and rows["UA"]["differing_rows"] == 1
    assert rows["new_metric"]["max_abs_diff"] == 0 and rows["new_metric"]["null_mismatches"] == 1
    assert rows["train_acc"]["max_abs_diff"] == pytest.approx(0.3)
    assert rows["pred"]["differing_rows"] == 1 and "max_abs_diff" not in rows["pred"]
    assert rows["error"]["differing_rows"] == 0
