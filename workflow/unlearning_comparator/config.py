"""Experiment configuration: validation against the schema, defaults, the replicates and the run grid.

:func:`validate_config` is called by the Snakefile before any job is planned. It checks the config
against ``workflow/schemas/config.schema.yaml`` extended with what the code declares (the ``dataset``
choices from the catalog, the ``model`` choices from the model registry, each method module's own
hyperparameters), fills in defaults, and raises :class:`ConfigError` with a message that names the
offending key (``methods.ga.lr[0]``) and says what is allowed.

Values given with ``snakemake --config`` arrive partly as text: Snakemake reads a top-level scalar as an
int, a float, True/False or text, but every item of a list or mapping (``forget_classes=[4]``,
``methods={ga: {lr: [0.1]}}``) as text. Text is therefore read as the number, boolean or null the
schema asks for before validating; NaN and infinities are refused everywhere (JSON-schema bounds
compare false with NaN, so ``minimum`` alone lets them through).
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .catalog import DATASETS, ModelDeclarationError, describe_models
from .forget_sets import ForgetSet, forget_sets_of
from .unlearning.registry import GRID_KEYS, MethodSpec, discover

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The config is invalid; the message names the key and the fix."""


def load_schema() -> dict[str, Any]:
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def _key_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _format_error(error: jsonschema.ValidationError) -> str:
    where = _key_path(error.absolute_path)
    if error.validator == "anyOf" and isinstance(error.instance, list):
        # a list that fails "a list or a scalar": what is wrong with it as a list names the item
        for branch in error.validator_value:
            if isinstance(branch, dict) and branch.get("type") == "array":
                found = sorted(jsonschema.Draft202012Validator(branch).iter_errors(error.instance), key=str)
                if found:
                    path = [*error.absolute_path, *found[0].absolute_path]
                    return f"config key {_key_path(path)}: {found[0].message}"
    if isinstance(error.schema, dict) and "x-error" in error.schema:  # the schema's own words for a key
        return f"config key {where}: {error.instance!r} {error.schema['x-error']}"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        keys = ", ".join(f"{where + '.' if error.absolute_path else ''}{k}" for k in extra)
        return f"unknown config key {keys}" + (f" (allowed here: {', '.join(allowed)})" if allowed else "")
    if error.validator == "required":
        return f"config key {where}: {error.message}"
    if error.validator == "type" and _is_number(error.instance) and "string" in _schema_types(error.schema):
        # Snakemake turns `--config name=123` into the number 123 and strips quotes, so say where to put it
        return (
            f"config key {where}: {error.instance!r} is a number, but text is wanted here (set it in a "
            f"config file, quoted, if it must look like a number)"
        )
    if error.validator == "pattern" and error.absolute_path and list(error.absolute_path)[-1] == "name":
        return (
            f"config key {where}: {error.instance!r} is not a plain name (use letters, digits, '.', '_' "
            f"and '-', starting with a letter or digit, at most 64 characters)"
        )
    return f"config key {where}: {error.message}"


# ------------------------------------------------------------------------------- text from the command line

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_YAML_NON_FINITE = {".nan": math.nan, ".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _schema_types(schema: Any) -> set[str]:
    kind = schema.get("type") if isinstance(schema, dict) else None
    return set(kind) if isinstance(kind, list) else ({kind} if kind else set())


def _number_from_text(word: str) -> int | float | None:
    """The number ``word`` spells (``4``, ``1e-3``, YAML's ``.nan``), or None."""
    if _INTEGER_TEXT.fullmatch(word):
        return int(word)
    if word.lower() in _YAML_NON_FINITE:
        return _YAML_NON_FINITE[word.lower()]
    try:
        return float(word)
    except ValueError:
        return None


def _value_from_text(text: str, types: set[str]) -> Any:
    """``text`` read as the integer, number, boolean or null that ``types`` allow; unchanged if it
    spells none."""
    word = text.strip()
    if "string" in types or not types:
        return text
    if "integer" in types and _INTEGER_TEXT.fullmatch(word):
        return int(word)
    if "number" in types and (number := _number_from_text(word)) is not None:
        return number
    if "boolean" in types and word.lower() in ("true", "false"):
        return word.lower() == "true"
    if "null" in types and word in ("null", "~"):
        return None
    return text  # left for the schema to refuse, naming the key


def _coerce_to_a_branch(instance: Any, branches: list[Any]) -> Any:
    """Coerce for ``anyOf``: the first branch's reading that it accepts, else the first reading that
    changed."""
    readings = [_coerce_text(instance, branch) for branch in branches]
    for branch, reading in zip(branches, readings):
        if isinstance(branch, dict) and jsonschema.Draft202012Validator(branch).is_valid(reading):
            return reading
    return next((reading for reading in readings if reading != instance), instance)


def _coerce_text(instance: Any, schema: Any) -> Any:
    """``instance`` with text turned into the values ``schema`` asks for, walking lists and mappings
    alongside it."""
    if not isinstance(schema, dict):
        return instance  # a boolean schema (additionalProperties: false) says nothing about types
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            instance = _coerce_to_a_branch(instance, schema[keyword])
    if isinstance(instance, str):
        return _value_from_text(instance, _schema_types(schema))
    if isinstance(instance, list):
        return [_coerce_text(item, schema.get("items")) for item in instance]
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {key: _coerce_text(value, properties.get(key, extra)) for key, value in instance.items()}
    return instance


def _non_finite(instance: Any, path: tuple = ()) -> list[tuple[tuple, float]]:
    """(key path, value) of every NaN or infinite number anywhere in ``instance``."""
    if isinstance(instance, float):
        return [] if math.isfinite(instance) else [(path, instance)]
    if isinstance(instance, dict):
        items = instance.items()
    elif isinstance(instance, list):
        items = enumerate(instance)
    else:
        return []
    return [found for key, value in items for found in _non_finite(value, (*path, key))]


# ------------------------------------------------------------------------------------ validation


def _set_defaults(instance: Any, schema: dict[str, Any]) -> None:
    """Fill in ``default`` values of missing object properties, recursively (what Snakemake's validate
    does)."""
    if not isinstance(instance, dict) or schema.get("type") not in (None, "object"):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _set_defaults(instance[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in schema.get("properties", {}):
                _set_defaults(value, extra)


def _method_schema(spec: MethodSpec, base: dict[str, Any]) -> dict[str, Any]:
    """The schema of ``methods.<id>``: the shared grid keys plus the module's own keys (scalar or list)."""
    schema = copy.deepcopy(base)
    schema["additionalProperties"] = False
    for key, own in spec.hyperparameters.items():
        scalar = {k: v for k, v in own.items() if k not in ("default",)}
        schema["properties"][key] = {"anyOf": [scalar, {"type": "array", "items": scalar, "minItems": 1}]}
    return schema


def method_registry(config: dict[str, Any], methods_dir: str | Path) -> dict[str, MethodSpec]:
    """The method modules of ``methods_dir`` and of the config's ``extra_methods_dirs``, by id."""
    registry = discover(methods_dir)
    extra = config.get("extra_methods_dirs") or []
    for i, folder in enumerate(extra if isinstance(extra, list) else []):
        if not isinstance(folder, str) or not Path(folder).is_dir():
            raise ConfigError(f"config key extra_methods_dirs[{i}]: folder {folder!r} does not exist")
        for key, spec in discover(folder).items():
            if key in registry:
                raise ConfigError(
                    f"config key extra_methods_dirs[{i}]: method {key!r} is defined twice "
                    f"({registry[key].path} and {spec.path}); rename one of the modules"
                )
            registry[key] = spec
    return registry


def _raise_errors(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` listing every non-finite number and the first schema violations, by key."""
    non_finite = _non_finite(config)
    found = [
        (path, f"config key {_key_path(path)}: {value!r} is not a finite number")
        for path, value in non_finite
    ]
    bad_paths = {path for path, _ in non_finite}
    # a NaN seed is also "not an integer": one message per key is enough
    errors = [
        e
        for e in jsonschema.Draft202012Validator(schema).iter_errors(config)
        if tuple(e.absolute_path) not in bad_paths
    ]
    errors.sort(key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    found += [(tuple(e.absolute_path), _format_error(e)) for e in errors[:10]]
    if found:
        found.sort(key=lambda entry: (len(entry[0]), list(map(str, entry[0]))))
        raise ConfigError("invalid config:\n  " + "\n  ".join(message for _, message in found))


def _with_registry_choices(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the ``dataset`` and ``model`` choices of the catalog and the model registry."""
    try:
        models = list(describe_models())
    except ModelDeclarationError as exc:
        raise ConfigError(f"the model registry cannot be read: {exc}") from None
    schema["properties"]["dataset"]["enum"] = list(DATASETS)
    schema["properties"]["model"]["enum"] = models
    return schema


def _method_properties(
    config: dict[str, Any], registry: dict[str, MethodSpec], methods_base: dict[str, Any]
) -> dict[str, Any]:
    """The schema of each configured method: the grid keys plus its module's own keys."""
    properties = {}
    for key in config.get("methods", {}) if isinstance(config.get("methods"), dict) else {}:
        if key not in registry:
            raise ConfigError(
                f"config key methods.{key}: there is no method module methods/{key}.py "
                f"(available: {', '.join(sorted(registry)) or 'none'})"
            )
        spec = registry[key]
        # A module that failed to import still gets its jobs (recorded as failed): check its grid keys only.
        properties[key] = _method_schema(spec, methods_base) if spec.ok else methods_base
    return properties


def _experiment_schema(config: dict[str, Any], registry: dict[str, MethodSpec]) -> dict[str, Any]:
    """The schema file extended with what the code declares: data sets, models and methods."""
    schema = _with_registry_choices(load_schema())
    methods = schema["properties"]["methods"]
    methods["properties"] = _method_properties(config, registry, methods["additionalProperties"])
    return schema


def _set_keys(config: dict[str, Any]) -> list[str]:
    """The config key of each forget set, in the order :func:`forget_sets_of` gives the sets."""
    return [f"forget_classes[{i}]" for i in range(len(config["forget_classes"]))] + [
        f"forget_sets[{i}]" for i in range(len(config["forget_sets"]))
    ]


def _check_set_entry(key: str, entry: dict[str, Any]) -> None:
    """A forget_sets entry is either classes or a random fraction (the schema allows any of its keys)."""
    if ("classes" in entry) == ("random" in entry):
        raise ConfigError(
            f"config key {key}: give either `classes` (a list of classes) or `random` (a fraction of the "
            f"training split), {'not both' if 'classes' in entry else 'one of them'}"
        )
    if "seed" in entry and "classes" in entry:
        raise ConfigError(f"config key {key}.seed: only a random set is drawn with a seed")


def _check_classes(key: str, classes: list[int], dataset: str) -> None:
    num_classes = DATASETS[dataset].num_classes
    for c in classes:
        if c >= num_classes:
            raise ConfigError(
                f"config key {key}: class {c} is out of range for {dataset} (classes 0..{num_classes - 1})"
            )


def _check_forget_sets(resolved: dict[str, Any]) -> None:
    """Classes in range, at least one set, and no set twice (the id names its folders and run ids)."""
    for i, c in enumerate(resolved["forget_classes"]):
        _check_classes(f"forget_classes[{i}]", [c], resolved["dataset"])
    for i, entry in enumerate(resolved["forget_sets"]):
        _check_set_entry(f"forget_sets[{i}]", entry)
        _check_classes(f"forget_sets[{i}].classes", entry.get("classes", []), resolved["dataset"])
    sets = forget_sets_of(resolved)
    if not sets:
        raise ConfigError(
            "config key forget_classes: no forget set is configured; give forget_classes or forget_sets"
        )
    first: dict[str, str] = {}
    for key, forget_set in zip(_set_keys(resolved), sets):
        if forget_set.id in first:
            raise ConfigError(
                f"config key {key}: forget set {forget_set.id} is also given by {first[forget_set.id]} "
                f"(each set once: its id names its folders and run ids)"
            )
        first[forget_set.id] = key


def external_set_id(external: dict[str, Any]) -> str:
    """The id of the forget set an external model was unlearned for (``forget_set``, or ``forget_class``'s
    one-class set)."""
    if external.get("forget_set") is not None:
        return external["forget_set"]
    return ForgetSet.of_classes(external["forget_class"]).id


def _check_external(resolved: dict[str, Any]) -> None:
    ids = [s.id for s in forget_sets_of(resolved)]
    for name, ext in resolved.get("external", {}).items():
        key = f"external.{name}"
        if ("forget_class" in ext) == ("forget_set" in ext):
            raise ConfigError(
                f"config key {key}: give either forget_class (the class of a one-class set) or forget_set "
                f"(a forget set's id, one of {ids}), {'not both' if 'forget_class' in ext else 'one of them'}"
            )
        if external_set_id(ext) not in ids:
            which = "forget_class" if "forget_class" in ext else "forget_set"
            raise ConfigError(
                f"config key {key}.{which}: {ext[which]!r} is not one of the configured forget sets "
                f"{ids} (the model would be compared with nothing)"
            )
        if not Path(ext["checkpoint"]).is_file():
            raise ConfigError(f"config key {key}.checkpoint: file {ext['checkpoint']} does not exist")


def _check_audit(resolved: dict[str, Any]) -> None:
    """The audit judges each replicate's models by K other replicates': it needs K + 1 seeds."""
    k = resolved["audit"]["shadow_models"]
    if k == 0:
        return
    if k < 2:
        raise ConfigError(
            "config key audit.shadow_models: 1 shadow model of each kind fits no distribution; give 2 or "
            "more (or 0 to turn the audit off)"
        )
    if len(resolved["seeds"]) < k + 1:
        raise ConfigError(
            f"config key audit.shadow_models: {k} shadow models need at least {k + 1} replicates (each "
            f"audited against {k} others), but seeds gives {len(resolved['seeds'])}; set seeds: {k + 1}"
        )


def _fill_method_defaults(key: str, value: dict[str, Any], spec: MethodSpec) -> None:
    """Give ``methods.<key>`` every key the module declares, at its default where the config has none.

    This is where a run's hyperparameters become complete: ``task.hp`` holds every declared key, so
    the methods read ``hp["key"]`` and their defaults live in their declarations alone.
    """
    for grid_key in GRID_KEYS:
        value.setdefault(grid_key, [spec.defaults.get(grid_key)] if spec.ok else None)
        if value[grid_key] is None or value[grid_key] == [None]:
            raise ConfigError(
                f"config key methods.{key}.{grid_key} is required (the module declares no default)"
            )
    # no default for `seeds`: without it, each replicate unlearns with its own seed (see method_grid)
    if spec.ok:
        for own_key, default in spec.own_defaults().items():
            value.setdefault(own_key, default)


def validate_config(config: dict[str, Any], methods_dir: str | Path) -> dict[str, Any]:
    """Return a validated copy of ``config`` with defaults filled in, or raise :class:`ConfigError`."""
    if not isinstance(config, dict):
        raise ConfigError("the config must be a mapping of keys to values")
    registry = method_registry(config, methods_dir)
    schema = _experiment_schema(config, registry)

    config = _coerce_text(config, schema)
    _raise_errors(config, schema)

    resolved = copy.deepcopy(config)
    _set_defaults(resolved, schema)
    resolved.setdefault("seeds", [resolved["seed"]])
    if isinstance(resolved["seeds"], int):  # K replicates asked for by number
        resolved["seeds"] = list(range(resolved["seed"], resolved["seed"] + resolved["seeds"]))
    _check_forget_sets(resolved)
    _check_external(resolved)
    _check_audit(resolved)
    for key, value in resolved["methods"].items():
        _fill_method_defaults(key, value, registry[key])
    return resolved


def load_config(path: str | Path, methods_dir: str | Path) -> dict[str, Any]:
    with open(path) as handle:
        raw = yaml.safe_load(handle) or {}
    return validate_config(raw, methods_dir)


# ------------------------------------------------------------------------------------------------ the grid


def format_value(value: Any) -> str:
    """A compact, path-safe rendering of a hyperparameter value (0.0001 -> '0.0001', 1e-05 -> '1e-05')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(
            value
        )  # the shortest text that reads back as the same float: distinct values, distinct keys
    text = str(value)
    return "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in text)


_SHORT = {"epochs": "e", "lr": "lr", "batch_size": "bs", "seeds": "s"}


@dataclass(frozen=True)
class Replicate:
    """One replicate of the experiment: its seed trains its original and retrained models.

    With several replicates every model folder gets a ``seed<s>/`` prefix and every run id a ``-seed<s>``
    suffix; with one, neither, so an experiment without replicates keeps its folders and run ids."""

    seed: int
    tagged: bool  # whether the experiment has several replicates

    @property
    def prefix(self) -> str:
        return f"seed{self.seed}/" if self.tagged else ""

    @property
    def suffix(self) -> str:
        return f"-seed{self.seed}" if self.tagged else ""

    @property
    def original_folder(self) -> str:
        """The original model's folder under models/ and evaluation/: ``original``, ``seed1/original``."""
        return f"{self.prefix}original"

    def set_folder(self, forget_set: ForgetSet) -> str:
        """A forget set's folder under models/ and evaluation/: ``fc4``, ``seed1/fc4``."""
        return f"{self.prefix}{forget_set.id}"


def replicates_of(config: dict[str, Any]) -> list[Replicate]:
    """The replicates of a validated config, in the order of ``seeds`` (default: the one ``seed``)."""
    seeds = config.get("seeds") or [config["seed"]]
    return [Replicate(int(s), len(seeds) > 1) for s in seeds]


@dataclass(frozen=True)
class RunSpec:
    """One unlearning run: a method, a forget set, a replicate and one point of the method's grid."""

    method: str
    forget_set: ForgetSet
    key: str  # path-safe, unique within (method, forget set)
    module_path: str  # the method module's file
    hyperparameters: tuple[tuple[str, Any], ...]  # sorted items, seed included
    replicate: Replicate

    @property
    def forget_class(self) -> int | None:
        """The class of a one-class set, else None."""
        return self.forget_set.forget_class

    @property
    def seed(self) -> int:
        """The replicate's seed (the seed its original was trained with)."""
        return self.replicate.seed

    @property
    def set_folder(self) -> str:
        return self.replicate.set_folder(self.forget_set)

    @property
    def folder(self) -> str:
        """The run's folder under models/ and evaluation/: ``fc4/ga/<key>``, ``seed1/fc4/ga/<key>``."""
        return f"{self.set_folder}/{self.method}/{self.key}"

    @property
    def setting_id(self) -> str:
        """Shared by the replicates of one forget set, method and grid point: ``fc4-ga-<key>``."""
        return f"{self.forget_set.id}-{self.method}-{self.key}"

    @property
    def run_id(self) -> str:
        return f"{self.setting_id}{self.replicate.suffix}"

    @property
    def hp(self) -> dict[str, Any]:
        return dict(self.hyperparameters)


def method_grid(
    method_config: dict[str, Any], own_defaults: dict[str, Any], seeds: list[int] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Expand one method's config into (key, hyperparameters) points,
    nested epochs -> lr -> batch size -> rest.

    Every list-valued key is a grid axis. The unlearning seeds are the config's ``seeds`` when it gives
    them, else ``seeds`` (the replicate's). The key names epochs, lr and batch size always, the seed
    when several are configured, and every other key whose value differs from the module's default.
    """
    axes = {k: (v if isinstance(v, list) else [v]) for k, v in method_config.items()}
    seeds = axes.pop("seeds", None) or seeds
    if not seeds:
        raise ValueError("method_grid: the method config gives no seeds, and no replicate seed was passed")
    order = list(GRID_KEYS) + sorted(k for k in axes if k not in GRID_KEYS)
    points = []
    for values in itertools.product(*(axes[k] for k in order), seeds):
        hp = dict(zip(order + ["seed"], values))
        parts = [f"{_SHORT[k]}{format_value(hp[k])}" for k in GRID_KEYS]
        for k in order[len(GRID_KEYS) :]:
            if len(axes[k]) > 1 or hp[k] != own_defaults.get(k):
                parts.append(f"{k}{format_value(hp[k])}")
        if len(seeds) > 1:
            parts.append(f"s{hp['seed']}")
        points.append(("-".join(parts), hp))
    return points


def _grid_points(method: str, method_config: dict[str, Any], spec: MethodSpec, seed: int) -> list:
    points = method_grid(method_config, spec.own_defaults() if spec.ok else {}, [seed])
    keys = [key for key, _ in points]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ConfigError(
            f"config key methods.{method}: grid points {twice} would share a run folder; "
            f"make the values of its lists distinct"
        )
    return points


def refusal_line(refused: dict[str, str]) -> str:
    """How the workflow reports, when it starts, a method it does not run on a forget set."""
    return f"method {refused['method']} is not run on forget set {refused['forget_set']}: {refused['reason']}"


def unlearning_plan(
    config: dict[str, Any], methods_dir: str | Path
) -> tuple[list[RunSpec], list[dict[str, str]]]:
    """Every unlearning run of a validated config, in a stable order (forget set, replicate, method,
    grid point), and the (method, forget set) pairs not run, with the reason: a method defined only for
    one whole class (WHOLE_CLASS_ONLY) is not planned on any other set."""
    registry = method_registry(config, methods_dir)
    runs: list[RunSpec] = []
    refused: list[dict[str, str]] = []
    for forget_set in forget_sets_of(config):
        for method, spec in ((m, registry[m]) for m in config["methods"]):
            if spec.whole_class_only and forget_set.forget_class is None:
                refused.append(
                    {"method": method, "forget_set": forget_set.id, "reason": spec.whole_class_reason()}
                )
        for replicate in replicates_of(config):
            for method, method_config in config["methods"].items():
                spec = registry[method]
                if spec.whole_class_only and forget_set.forget_class is None:
                    continue
                points = _grid_points(method, method_config, spec, replicate.seed)
                runs += [
                    RunSpec(method, forget_set, key, str(spec.path), tuple(sorted(hp.items())), replicate)
                    for key, hp in points
                ]
    return runs, refused


def unlearning_runs(config: dict[str, Any], methods_dir: str | Path) -> list[RunSpec]:
    """Every unlearning run of a validated config, in a stable order (see :func:`unlearning_plan`)."""
    return unlearning_plan(config, methods_dir)[0]
