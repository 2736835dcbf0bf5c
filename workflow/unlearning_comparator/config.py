"""Experiment configuration: validation against the schema, defaults, and the run grid.

:func:`validate_config` is called by the Snakefile before any job is planned. It checks the config
against ``workflow/schemas/config.schema.yaml`` extended with each method module's own
hyperparameter declarations, fills in defaults, and raises :class:`ConfigError` with a message that
names the offending key (``methods.ga.lr[0]``) and says what is allowed.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .catalog import DATASETS
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
    if error.validator == "pattern" and error.absolute_path and list(error.absolute_path)[-1] == "name":
        return (f"config key {where}: {error.instance!r} is not a plain name (use letters, digits, '.', '_' "
                f"and '-', starting with a letter or digit, at most 64 characters)")
    return f"config key {where}: {error.message}"


def _set_defaults(instance: Any, schema: dict[str, Any]) -> None:
    """Fill in ``default`` values of missing object properties, recursively (what Snakemake's validate does)."""
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
                raise ConfigError(f"config key extra_methods_dirs[{i}]: method {key!r} is defined twice "
                                  f"({registry[key].path} and {spec.path}); rename one of the modules")
            registry[key] = spec
    return registry


def validate_config(config: dict[str, Any], methods_dir: str | Path) -> dict[str, Any]:
    """Return a validated copy of ``config`` with defaults filled in, or raise :class:`ConfigError`."""
    if not isinstance(config, dict):
        raise ConfigError("the config must be a mapping of keys to values")
    schema = load_schema()
    registry = method_registry(config, methods_dir)
    methods_base = schema["properties"]["methods"]["additionalProperties"]
    method_props = {}
    for key in config.get("methods", {}) if isinstance(config.get("methods"), dict) else {}:
        if key not in registry:
            raise ConfigError(
                f"config key methods.{key}: there is no method module methods/{key}.py "
                f"(available: {', '.join(sorted(registry)) or 'none'})"
            )
        spec = registry[key]
        # A module that failed to import still gets its jobs (recorded as failed), so only check the grid keys.
        method_props[key] = _method_schema(spec, methods_base) if spec.ok else methods_base
    schema["properties"]["methods"]["properties"] = method_props

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(_format_error(e) for e in errors[:10]))

    resolved = copy.deepcopy(config)
    _set_defaults(resolved, schema)
    num_classes = DATASETS[resolved["dataset"]].num_classes
    for i, c in enumerate(resolved["forget_classes"]):
        if c >= num_classes:
            raise ConfigError(
                f"config key forget_classes[{i}]: class {c} is out of range for {resolved['dataset']} "
                f"(classes 0..{num_classes - 1})"
            )
    for name, ext in resolved.get("external", {}).items():
        if ext["forget_class"] not in resolved["forget_classes"]:
            raise ConfigError(f"config key external.{name}.forget_class: class {ext['forget_class']} is not one of "
                              f"forget_classes {resolved['forget_classes']} (the model would be compared with nothing)")
        if not Path(ext["checkpoint"]).is_file():
            raise ConfigError(f"config key external.{name}.checkpoint: file {ext['checkpoint']} does not exist")
    for key, value in resolved["methods"].items():
        spec = registry[key]
        for grid_key in GRID_KEYS:
            value.setdefault(grid_key, [spec.defaults.get(grid_key)] if spec.ok else None)
            if value[grid_key] is None or value[grid_key] == [None]:
                raise ConfigError(f"config key methods.{key}.{grid_key} is required (the module declares no default)")
        value.setdefault("seeds", [resolved["seed"]])
        if spec.ok:
            for own_key, default in spec.own_defaults().items():
                value.setdefault(own_key, default)
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
        return repr(value)  # the shortest text that reads back as the same float: distinct values, distinct keys
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


def method_grid(method_config: dict[str, Any], own_defaults: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Expand one method's config into (key, hyperparameters) points, nested epochs -> lr -> batch size -> rest.

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
        for k in order[len(GRID_KEYS):]:
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
                raise ConfigError(f"config key methods.{method}: grid points {twice} would share a run folder; "
                                  f"make the values of its lists distinct")
            runs += [RunSpec(method, fc, key, str(spec.path), tuple(sorted(hp.items()))) for key, hp in points]
    return runs

