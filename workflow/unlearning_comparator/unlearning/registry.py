"""Discovery of the unlearning methods: every ``methods/<id>.py`` (not starting with ``_``) is one method.

Two ways to look at a module:

* :func:`describe_method` reads its ``NAME``, ``DEFAULTS`` and ``HYPERPARAMETERS`` statically (they must
  be literals), without running it. The Snakefile uses this to validate the config and plan the jobs:
  fast (no PyTorch import), and no user code runs while the workflow is being planned;
* :func:`load_method` imports it (by path: dropping a file into ``methods/`` is all it takes) for the
  job that runs it.

A module that cannot be described or imported is still listed, with its error: its runs are then
recorded as failed instead of stopping the workflow or silently disappearing.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

METHOD_ID = re.compile(r"^[a-z][a-z0-9_]*$")
GRID_KEYS = ("epochs", "lr", "batch_size")


@dataclass
class MethodSpec:
    id: str
    path: Path
    name: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)  # epochs, lr, batch_size
    hyperparameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # JSON schema per own key
    unlearn: Callable[..., Any] | None = None
    error: str | None = None  # why the module could not be used
    whole_class_only: bool = False  # WHOLE_CLASS_ONLY: defined only for forgetting whole classes
    forgets: bool = True  # FORGETS: lowering forget accuracy is part of the method's contract
    preparation: str = ""  # PREPARATION: the one-off work it does outside the timer, if any
    test_settings: dict[str, Any] = field(default_factory=dict)  # TEST_SETTINGS, for a small problem

    @property
    def ok(self) -> bool:
        return self.error is None

    def own_defaults(self) -> dict[str, Any]:
        return {k: s["default"] for k, s in self.hyperparameters.items() if "default" in s}

    def declared_keys(self) -> list[str]:
        """Every hyperparameter ``unlearn`` may read from ``task.hp``: the grid keys and the module's own."""
        return [*GRID_KEYS, *self.hyperparameters]

    def whole_class_reason(self) -> str:
        return (
            f"{self.name} ({self.id}) is defined only for forgetting whole classes (WHOLE_CLASS_ONLY "
            "in its module): it cannot run on a forget set that is not one whole class"
        )

    def with_defaults(self, given: dict[str, Any] | None = None) -> dict[str, Any]:
        """``given`` over the module's declared defaults: complete hyperparameters for a direct call.

        The workflow gets the same from the validated config; this is for callers outside it (tests).
        """
        declared = {key: self.defaults[key] for key in GRID_KEYS if key in self.defaults}
        return {**declared, **self.own_defaults(), **(given or {})}


def _import(path: Path) -> ModuleType:
    name = f"unlearning_comparator_methods.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


_DECLARATIONS = (
    "NAME",
    "DEFAULTS",
    "HYPERPARAMETERS",
    "WHOLE_CLASS_ONLY",
    "FORGETS",
    "PREPARATION",
    "TEST_SETTINGS",
)


def _apply_declarations(spec: MethodSpec, found: dict[str, Any]) -> None:
    spec.name = str(found.get("NAME", spec.id))
    spec.defaults = dict(found.get("DEFAULTS", {}))
    spec.hyperparameters = dict(found.get("HYPERPARAMETERS", {}))
    spec.whole_class_only = bool(found.get("WHOLE_CLASS_ONLY", False))
    spec.forgets = bool(found.get("FORGETS", True))
    spec.preparation = str(found.get("PREPARATION", ""))
    spec.test_settings = dict(found.get("TEST_SETTINGS", {}))


def describe_method(path: Path) -> MethodSpec:
    """The module's declarations, read from its source without running it."""
    spec = MethodSpec(id=path.stem, path=path, name=path.stem)
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (SyntaxError, OSError, UnicodeDecodeError) as exc:
        spec.error = f"methods/{path.name} cannot be read: {type(exc).__name__}: {exc}"
        return spec
    found: dict[str, Any] = {}
    has_unlearn = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "unlearn":
            has_unlearn = True
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _DECLARATIONS and node.value is not None:
                try:
                    found[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    spec.error = (
                        f"methods/{path.name}: {target.id} must be a literal (numbers, strings, lists, dicts)"
                    )
                    return spec
    _apply_declarations(spec, found)
    problems = [] if has_unlearn else ["it defines no function unlearn(task)"]
    problems += _check_declarations(spec)
    if problems:
        spec.error = f"methods/{path.name}: " + "; ".join(problems)
    return spec


def _check_declarations(spec: MethodSpec) -> list[str]:
    problems = [f"DEFAULTS lacks {key!r}" for key in GRID_KEYS if key not in spec.defaults]
    clash = set(spec.hyperparameters) & (set(GRID_KEYS) | {"seeds", "seed"})
    if clash:
        problems.append(f"HYPERPARAMETERS redefines {sorted(clash)}")
    for key, schema in spec.hyperparameters.items():
        if not isinstance(schema, dict) or "default" not in schema:
            problems.append(f"HYPERPARAMETERS[{key!r}] must be a JSON-schema dict with a 'default'")
    unknown = set(spec.test_settings) - set(spec.declared_keys())
    if unknown:
        problems.append(f"TEST_SETTINGS names undeclared keys {sorted(unknown)}")
    return problems


def load_method(path: Path) -> MethodSpec:
    spec = MethodSpec(id=path.stem, path=path, name=path.stem)
    try:
        module = _import(path)
    except Exception as exc:  # a broken module must not stop the others
        spec.error = (
            f"methods/{path.name} failed to import: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        )
        return spec
    _apply_declarations(spec, {key: getattr(module, key) for key in _DECLARATIONS if hasattr(module, key)})
    spec.unlearn = getattr(module, "unlearn", None)
    problems = [] if callable(spec.unlearn) else ["it defines no function unlearn(task)"]
    problems += _check_declarations(spec)
    if problems:
        spec.error = f"methods/{path.name}: " + "; ".join(problems)
    return spec


def discover(methods_dir: str | Path, load: bool = False) -> dict[str, MethodSpec]:
    """All method modules in ``methods_dir``, by id: described statically, or imported when ``load``."""
    methods_dir = Path(methods_dir)
    if not methods_dir.is_dir():
        raise FileNotFoundError(f"methods folder {methods_dir} does not exist")
    found = {}
    for path in sorted(methods_dir.glob("*.py")):
        if path.name.startswith("_") or not METHOD_ID.match(path.stem):
            continue
        found[path.stem] = load_method(path) if load else describe_method(path)
    return found
