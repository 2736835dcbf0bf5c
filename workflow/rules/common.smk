# Helpers shared by the rule files (config validation, the run grid, paths, per-job parameters).

import json
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from unlearning_comparator.config import (
    ConfigError,
    external_set_id,
    refusal_line,
    replicates_of,
    unlearning_plan,
    validate_config,
)
from unlearning_comparator.data.manifest import changed_message, stale
from unlearning_comparator.forget_sets import forget_sets_of
from unlearning_comparator.tables.schema import AUDIT_TABLES, TABLES  # the consolidated tables, in order

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
    _runs, REFUSED = unlearning_plan(_resolved, METHODS_DIR)
except ConfigError as error:
    raise WorkflowError(str(error)) from None
config.clear()
config.update(_resolved)
if workflow.is_main_process:  # once, when the workflow starts (not again in each job of a cluster run)
    for _refused in REFUSED:
        print(refusal_line(_refused), file=sys.stderr)

RESULTS = f"results/{config['name']}"
FORGET_SETS = forget_sets_of(config)  # in the config's order: forget_classes' sets, then forget_sets
SETS = {s.id: s for s in FORGET_SETS}
# the one-class sets' classes: what the experiment metadata called forget_classes before forget sets
FORGET_CLASSES = [s.forget_class for s in FORGET_SETS if s.forget_class is not None]
REPLICATES = replicates_of(config)
# Folders under models/ and evaluation/ (also logs/ and benchmarks/): one original per replicate, one
# folder per (replicate, forget set). With one replicate they are today's `original` and `fc4`.
ORIGINALS = {r.original_folder: r for r in REPLICATES}
SET_FOLDERS = {r.set_folder(s): (r, s) for r in REPLICATES for s in FORGET_SETS}
RUNS = {r.folder: r for r in _runs}
EXTERNAL = config["external"]
# The privacy audit (audit.smk) is opt-in; with it, its two tables join the experiment's.
AUDIT_ON = config["audit"]["shadow_models"] > 0
OUTPUT_TABLES = TABLES + (AUDIT_TABLES if AUDIT_ON else ())
# Written by the data rule (data.smk); every rule that reads data takes it as an input. Per experiment
# (not beside the shared data): Snakemake owns it, and one experiment's rerun never touches another's.
DATA_MANIFEST = f"{RESULTS}/data/manifest.json"


def one_of(names):
    """A wildcard constraint matching exactly these names (longest first, so none stops at a prefix)."""
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) or "-"


wildcard_constraints:
    orig=one_of(ORIGINALS),
    sf=one_of(SET_FOLDERS),
    forget_set=one_of(SETS),
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


def evaluation_spec(run_id, forget_set=None):
    """An evaluation's parameters; ``forget_set`` (a ForgetSet) for the models compared with references."""
    return spec(
        run_id=run_id,
        forget_set=forget_set.to_json() if forget_set else None,
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


def retrained_evaluation_spec(replicate, forget_set):
    return evaluation_spec(f"{forget_set.id}-retrained{replicate.suffix}", forget_set)


def train_spec(replicate, forget_set=None):
    """A training job's parameters: the replicate's seed, and the forget set left out of a retraining."""
    extra = {"forget_set": forget_set.to_json()} if forget_set else {}
    return spec(training=config["training"], training_seed=replicate.seed, **extra)


def externals_of(folder):
    """(name, external config) of the external models in a set folder: those of its forget set, in the
    first replicate's folder only (an external model is one model, compared with one replicate)."""
    replicate, forget_set = SET_FOLDERS[folder]
    if replicate != REPLICATES[0]:
        return []
    return [(n, e) for n, e in EXTERNAL.items() if external_set_id(e) == forget_set.id]


def run_id_of(folder, kind, key):
    """The run id of the model in ``models/<folder>/<kind>/<key>/`` (an unlearned or external model)."""
    if kind == "external":
        return f"{SET_FOLDERS[folder][1].id}-external-{key}"
    return RUNS[f"{folder}/{kind}/{key}"].run_id


def models_of(forget_set_id):
    """Every model a forget set's analysis reads, over every replicate: (run id, setting id shared by a
    setting's replicates, the replicate's seed, the folder under models/ and evaluation/)."""
    forget_set = SETS[forget_set_id]
    models = []
    for replicate in REPLICATES:
        folder = replicate.set_folder(forget_set)
        settings = [
            (f"{forget_set.id}-original", replicate.original_folder),
            (f"{forget_set.id}-retrained", f"{folder}/retrained"),
            *((r.setting_id, r.folder) for r in RUNS.values() if r.set_folder == folder),
        ]
        models += [(s + replicate.suffix, s, replicate.seed, where) for s, where in settings]
        # an external model has no replicate suffix: it belongs to the first replicate
        models += [
            (f"{forget_set.id}-external-{n}",) * 2 + (replicate.seed, f"{folder}/external/{n}")
            for n, _ in externals_of(folder)
        ]
    return models


def reference_paths(replicate, forget_set):
    """The Gram matrices of a replicate's reference models for a forget set."""
    return {
        "original": f"{RESULTS}/evaluation/{replicate.original_folder}/grams.pt",
        "retrained": f"{RESULTS}/evaluation/{replicate.set_folder(forget_set)}/retrained/grams.pt",
    }


def reference_grams(wc):
    """The Gram matrices of the reference models of a set folder, which every other model of it is
    compared with (its own replicate's original and retrained models)."""
    return reference_paths(*SET_FOLDERS[wc.sf])


def reference_grams_json(wc, input):
    return json.dumps({name: getattr(input, name) for name in ("original", "retrained")})


def original_model(wc):
    """The original model a set folder's runs unlearn: its own replicate's."""
    return f"{RESULTS}/models/{SET_FOLDERS[wc.sf][0].original_folder}/model.pt"


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
    run = RUNS[f"{wc.sf}/{wc.method}/{wc.key}"]
    params = json.loads(evaluation_spec(run.run_id, run.forget_set))
    params.update(
        method=run.method,
        method_path=run.module_path,
        hyperparameters=run.hp,
        base=f"{run.forget_set.id}-original{run.replicate.suffix}",
    )
    return json.dumps(params, sort_keys=True)


EVAL_FILES = ["logits.arrow", "features.arrow", "similarity.arrow", "summary.json"]


def eval_outputs(folder):
    return {f.split(".")[0]: f"{RESULTS}/evaluation/{folder}/{f}" for f in EVAL_FILES}


EVALUATION_ARROWS = ("logits", "features", "similarity")


def analysis_models(wc):
    """The analyze job's MODELS: per model its ids, replicate seed and folder under models/ and evaluation/
    (the job finds its info.json and evaluation tables there). Folders rather than full paths keep the
    command line short: a sweep over several seeds lists hundreds of models, and one argument of a command
    line holds at most 128 KiB."""
    return [
        {"run_id": run_id, "setting_id": setting_id, "seed": seed, "folder": folder}
        for run_id, setting_id, seed, folder in models_of(wc.forget_set)
    ]


# What the analyze job's --models may take of one command-line argument (128 KiB), the rest left for the
# other arguments
MODELS_ARGUMENT_LIMIT = 100_000


def analysis_models_json(wc):
    text = json.dumps(analysis_models(wc))
    if len(text) > MODELS_ARGUMENT_LIMIT:
        raise WorkflowError(
            f"forget set {wc.forget_set}: its analysis would list {len(analysis_models(wc))} models "
            f"({len(text) // 1024} KiB), more than one command-line argument holds; run fewer grid points "
            f"or seeds per experiment (or split the experiment by forget set)"
        )
    return text


def analysis_references(wc):
    """The analyze job's REFS: each replicate's reference Grams, keyed by the replicate's seed as text."""
    forget_set = SETS[wc.forget_set]
    return {str(r.seed): reference_paths(r, forget_set) for r in REPLICATES}


def analysis_inputs(wc):
    files = {}
    for run_id, _, _, folder in models_of(wc.forget_set):
        files[f"{run_id}:info"] = info_path(folder)
        files.update({f"{run_id}:{k}": f"{RESULTS}/evaluation/{folder}/{k}.arrow" for k in EVALUATION_ARROWS})
    grams = {
        f"{seed}:{name}": path
        for seed, refs in analysis_references(wc).items()
        for name, path in refs.items()
    }
    return {**files, **grams, "data": DATA_MANIFEST}


def audit_inputs(wc):
    """Every audited model's info.json and logits (the models of the forget set's analysis)."""
    files = {}
    for run_id, _, _, folder in models_of(wc.forget_set):
        files[f"{run_id}:info"] = info_path(folder)
        files[f"{run_id}:logits"] = f"{RESULTS}/evaluation/{folder}/logits.arrow"
    return files
