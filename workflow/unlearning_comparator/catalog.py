"""The data sets and models the workflow knows, described without importing PyTorch (for the Snakefile)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    display_name: str
    class_names: tuple[str, ...]
    channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    hflip: bool  # whether a horizontal flip yields a plausible image of the same class
    crop_padding: int

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


DATASETS: dict[str, DatasetInfo] = {
    "fashion_mnist": DatasetInfo(
        name="fashion_mnist",
        display_name="Fashion-MNIST",
        class_names=(
            "T-shirt",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Boot",
        ),
        channels=1,
        image_size=28,
        mean=(0.2860,),
        std=(0.3530,),
        # Fashion-MNIST is aligned: every shoe points left. A flip makes images the test set never has.
        hflip=False,
        crop_padding=2,
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        display_name="CIFAR-10",
        class_names=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),
        channels=3,
        image_size=32,
        mean=(0.4914, 0.4822, 0.4465),  # the original's (docs/the-original-comparator.md §1.1)
        std=(0.2023, 0.1994, 0.2010),
        hflip=True,
        crop_padding=4,
    ),
}


# ------------------------------------------------------------------------------------------------- models

MODELS_DIR = Path(__file__).resolve().parent / "models"


class ModelDeclarationError(ValueError):
    """A ``@register_model`` decorator that cannot be read without running its module."""


def describe_models() -> dict[str, str]:
    """Registered model id -> display name, read from the ``@register_model(display_name=...)`` lines.

    The model registry (``unlearning_comparator.models``) imports PyTorch, which costs seconds for every
    ``snakemake`` call that plans the workflow; reading the same decorators from the source costs
    milliseconds. The modules read are the ones the registry imports (names not starting with ``_``).
    """
    found: dict[str, str] = {}
    for path in sorted(MODELS_DIR.glob("*.py")):
        if not path.name.startswith("_"):
            found.update(_registrations(path))
    return dict(sorted(found.items()))


def _registrations(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    return {
        fn.name: _display_name(path, fn, decorator)
        for fn in functions
        for decorator in fn.decorator_list
        if _names_register_model(decorator)
    }


def _names_register_model(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return getattr(target, "id", getattr(target, "attr", None)) == "register_model"


def _display_name(path: Path, fn: ast.FunctionDef, decorator: ast.expr) -> str:
    keywords = {k.arg: k.value for k in decorator.keywords} if isinstance(decorator, ast.Call) else {}
    try:
        name = ast.literal_eval(keywords["display_name"])
    except (KeyError, ValueError) as exc:
        raise ModelDeclarationError(
            f"models/{path.name}: model {fn.name!r} needs "
            f'@register_model(display_name="...") with a literal text'
        ) from exc
    if not isinstance(name, str) or not name:
        raise ModelDeclarationError(
            f"models/{path.name}: model {fn.name!r}: display_name must be non-empty text"
        )
    return name
