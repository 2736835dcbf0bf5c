# Helpers shared by the rule files: config validation, the run grid, paths and per-job parameters.

import json
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from unlearning_comparator.config import ConfigError, unlearning_runs, validate_config

METHODS_DIR = Path(workflow.basedir) / "methods"
PYTHON = sys.executable  # the interpreter running Snakemake, with this project installed
from unlearning_comparator.tables.schema import TABLES  # the consolidated tables, in order

try:
    _resolved = validate_config(config, METHODS_DIR)
    _runs = unlearning_runs(_resolved, METHODS_DIR)
except ConfigError as error:
    raise WorkflowError(str(error)) from None
config.clear()
config.update(_resolved)

RESULTS = f"results/{config['name']}"
FORGET_CLASSES = config["forget_classes"]
RUNS = {(r.forget_class, r.method, r.key): r for r in _runs}
EXTERNAL = config["external"]
# Written by the data rule (data.smk); every rule that reads data takes it as an input. Per experiment
# (not beside the shared data): Snakemake owns it, and one experiment's rerun never touches another's.
DATA_MANIFEST = f"{RESULTS}/data/manifest.json"


wildcard_constraints:
    fc=r"\d+",
    method="|".join(sorted(config["methods"])) or "-",
    key=r"[A-Za-z0-9_.\-]+",
    kind="|".join(sorted(config["methods"]) + ["external"]),
    name=r"[A-Za-z0-9_.\-]+",


def job_data_config():
    """The data section as jobs see it: where the data are, not whether the data rule may download them
    (jobs never download; switching data.download thus reruns nothing)."""
    return {k: v for k, v in config["data"].items() if k != "download"}


def spec(**extra):
    """The job parameters every data-handling job needs, plus ``extra``, as a JSON string."""
    base = {k: config[k] for k in ("name", "dataset", "model", "seed", "device")}
    return json.dumps({**base, "data": job_data_config(), **extra}, sort_keys=True)


def evaluation_spec(run_id, forget_class=None):
    return spec(
        run_id=run_id,
        forget_class=forget_class,
        # precision is a param so that changing it reruns every evaluation (and what depends on them)
        evaluation={"batch_size": config["evaluation"]["batch_size"], "precision": config["evaluation"]["precision"]},
        analysis={
            "subset_per_class": config["analysis"]["subset_per_class"],
            "cka": config["analysis"]["cka"],
        },
    )


def models_of(fc):
    """(run_id, model folder relative to models/ and evaluation/) of every model of a forget class."""
    fc = int(fc)
    entries = [(f"fc{fc}-original", "original"), (f"fc{fc}-retrained", f"fc{fc}/retrained")]
    entries += [(r.run_id, f"fc{fc}/{r.method}/{r.key}") for (c, _, _), r in RUNS.items() if c == fc]
    entries += [(f"fc{fc}-external-{n}", f"fc{fc}/external/{n}") for n, e in EXTERNAL.items() if e["forget_class"] == fc]
    return entries


def reference_grams(wc):
    """The Gram matrices of a forget class's reference models, which every other model is compared with."""
    return {
        "original": f"{RESULTS}/evaluation/original/grams.pt",
        "retrained": f"{RESULTS}/evaluation/fc{wc.fc}/retrained/grams.pt",
    }


def reference_grams_json(wc, input):
    return json.dumps({name: getattr(input, name) for name in ("original", "retrained")})


def info_path(folder):
    return f"{RESULTS}/models/{folder}/info.json"


def job_log(rule_name, pattern):
    return f"{RESULTS}/logs/{rule_name}/{pattern}.log"


def job_benchmark(rule_name, pattern):
    return f"{RESULTS}/benchmarks/{rule_name}/{pattern}.tsv"
