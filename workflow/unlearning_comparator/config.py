"""Experiment configuration: validation against the schema, defaults, and the run grid.

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


def _check_forget_classes(resolved: dict[str, Any]) -> None:
    num_classes = DATASETS[resolved["dataset"]].num_classes
    for i, c in enumerate(resolved["forget_classes"]):
        if c >= num_classes:
            raise ConfigError(
                f"config key forget_classes[{i}]: class {c} is out of range for {resolved['dataset']} "
                f"(classes 0..{num_classes - 1})"
            )


def _check_external(resolved: dict[str, Any]) -> None:
    for name, ext in resolved.get("external", {}).items():
        if ext["forget_class"] not in resolved["forget_classes"]:
            raise ConfigError(
                f"config key external.{name}.forget_class: class {ext['forget_class']} is not "
                f"one of forget_classes {resolved['forget_classes']} (the model would be "
                f"compared with nothing)"
            )
        if not Path(ext["checkpoint"]).is_file():
            raise ConfigError(
                f"config key external.{name}.checkpoint: file {ext['checkpoint']} does not exist"
            )


def _fill_method_defaults(key: str, value: dict[str, Any], spec: MethodSpec, seed: int) -> None:
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
    value.setdefault("seeds", [seed])
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
    _check_forget_classes(resolved)
    _check_external(resolved)
    for key, value in resolved["methods"].items():
        _fill_method_defaults(key, value, registry[key], resolved["seed"])
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
class RunSpec:
    """One unlearning run: a method, a forget class and one point of the method's grid."""

    method: str
    forget_class: int
    key: str  # path-safe, unique within (method, forget class)
    module_path: str  # the method module's file
    hyperparameters: tuple[tuple[str, Any], ...]  # sorted items, seed included

    @property
    def run_id(self) -> str:
        return f"fc{self.forget_class}-{self.method}-{self.key}"

    @property
    def hp(self) -> dict[str, Any]:
        return dict(self.hyperparameters)


def method_grid(
    method_config: dict[str, Any], own_defaults: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """Expand one method's config into (key, hyperparameters) points,
    nested epochs -> lr -> batch size -> rest.

    Every list-valued key is a grid axis. The key names epochs, lr and batch size always, the seed
    when several are configured, and every other key whose value differs from the module's default.
    """
    axes = {k: (v if isinstance(v, list) else [v]) for k, v in method_config.items()}
    seeds = axes.pop("seeds")
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


def unlearning_runs(config: dict[str, Any], methods_dir: str | Path) -> list[RunSpec]:
    """Every unlearning run of a validated config, in a stable order."""
    registry = method_registry(config, methods_dir)
    runs = []
    for fc in config["forget_classes"]:
        for method, method_config in config["methods"].items():
            spec = registry[method]
            points = method_grid(method_config, spec.own_defaults() if spec.ok else {})
            keys = [key for key, _ in points]
            if len(set(keys)) != len(keys):
                twice = sorted({k for k in keys if keys.count(k) > 1})
                raise ConfigError(
                    f"config key methods.{method}: grid points {twice} would share a run folder; "
                    f"make the values of its lists distinct"
                )
            runs += [
                RunSpec(method, fc, key, str(spec.path), tuple(sorted(hp.items()))) for key, hp in points
            ]
    return runs
