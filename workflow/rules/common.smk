# Helpers shared by the rule files (config validation, the run grid, paths, per-job parameters).

import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from unlearning_comparator.config import ConfigError, unlearning_runs, validate_config

from unlearning_comparator.data.manifest import changed_message, stale
from unlearning_comparator.tables.schema import TABLES  # the consolidated tables, in order

ROOT = Path(workflow.basedir)
METHODS_DIR = ROOT / "methods"
# The software of every rule (used with --use-conda; see the file).
CONDA_ENV = "../envs/comparator.yaml"

# Jobs run `python -m ...`: by default the interpreter running Snakemake (this project's environment)
# comes first on PATH; under --use-conda the rule's environment is activated in front of it. Either
# way the project's code is imported from this repository.
os.environ.update(
    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    PYTHONPATH=os.pathsep.join(
        [str(ROOT / "workflow"), str(ROOT / "site")] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    ),
)

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
        evaluation={
            "batch_size": config["evaluation"]["batch_size"],
            "precision": config["evaluation"]["precision"],
        },
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
    entries += [
        (f"fc{fc}-external-{n}", f"fc{fc}/external/{n}")
        for n, e in EXTERNAL.items()
        if e["forget_class"] == fc
    ]
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


def check_data_unchanged():
    """Snakemake does not watch the data (they are not outputs of this workflow): compare them with the
    manifest before planning, so that results never silently mix two versions of a data set."""
    changed, missing = stale(DATA_MANIFEST, config["dataset"], config["data"]["root"])
    if changed:
        raise WorkflowError(changed_message(DATA_MANIFEST, changed))
    if missing:  # fine for rules that do not read data (tables, site); the others stop with a message
        print(f"Note: files of {DATA_MANIFEST} are gone: {', '.join(missing)}", file=sys.stderr)


def unlearn_spec(wc):
    """An unlearning job's parameters: the run's, and its model's evaluation's (the job does both)."""
    run = RUNS[(int(wc.fc), wc.method, wc.key)]
    params = json.loads(evaluation_spec(run.run_id, run.forget_class))
    params.update(
        method=run.method,
        method_path=run.module_path,
        hyperparameters=run.hp,
        base=f"fc{run.forget_class}-original",
    )
    return json.dumps(params, sort_keys=True)


EVAL_FILES = ["logits.arrow", "features.arrow", "similarity.arrow", "summary.json"]


def eval_outputs(folder):
    return {f.split(".")[0]: f"{RESULTS}/evaluation/{folder}/{f}" for f in EVAL_FILES}


def analysis_models(wc):
    entries = []
    for run_id, folder in models_of(wc.fc):
        entry = {"run_id": run_id, "info": info_path(folder)}
        entry.update(
            {k: f"{RESULTS}/evaluation/{folder}/{k}.arrow" for k in ("logits", "features", "similarity")}
        )
        entries.append(entry)
    return entries


def analysis_inputs(wc):
    files = {
        f"{e['run_id']}:{k}": e[k]
        for e in analysis_models(wc)
        for k in ("info", "logits", "features", "similarity")
    }
    return {**files, **reference_grams(wc), "data": DATA_MANIFEST}
