"""Forget sets: what an experiment forgets, with a stable id, a display name and its members.

Three kinds, as the unlearning literature uses them:

* ``class`` — every training image of one class (the Unlearning Comparator's setting; id ``fc4``);
* ``classes`` — every training image of several classes at once (id ``fc2_4``, classes ascending);
* ``random`` — a seeded, uniform random fraction of the training split, drawn across all classes
  (SalUn's and ℓ1-sparse's random-data forgetting, the NeurIPS 2023 challenge's setting; id
  ``rnd10s1`` for 10 % drawn with seed 1).

The members are positions in the training split as the experiment loads it (after
``data.train_per_class``); the draw of a random set depends only on the split's size, the fraction and
the set's seed, so every job of an experiment finds the same members without passing them around.

A class-wise set also has a *test counterpart* (the test images of its classes): TUA, val_UA and the
✖ rows of the prediction matrix use it. A random set has none: its forgotten images are training images
like any other, and the retrained model still classifies them about as well as unseen test images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

KINDS = ("class", "classes", "random")


def _percent_text(fraction: float) -> str:
    """10 for 0.1, 2.5 for 0.025: the percentage, with no float noise (0.07 * 100 = 7.000000000000001)."""
    percent = round(fraction * 100, 6)
    return str(int(percent)) if percent == int(percent) else repr(percent)


@dataclass(frozen=True)
class ForgetSet:
    """One forget set. Build it with :meth:`of_classes` or :meth:`random_fraction` (or :meth:`from_json`)."""

    kind: str
    classes: tuple[int, ...] = ()  # ascending; empty for a random set
    fraction: float | None = None  # of the training split; random sets only
    seed: int | None = None  # the draw's seed; random sets only
    name: str | None = None  # a display name given in the config (else one is made from the classes)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"forget-set kind {self.kind!r} is not one of {KINDS}")
        if self.kind == "random":
            if self.classes or self.fraction is None or self.seed is None:
                raise ValueError("a random forget set has a fraction and a seed, and no classes")
            if not (0 < self.fraction < 1) or not math.isfinite(self.fraction):
                raise ValueError(
                    f"the fraction of a random forget set must lie in (0, 1), not {self.fraction}"
                )
        else:
            if not self.classes or list(self.classes) != sorted(set(self.classes)):
                raise ValueError(
                    f"a class-wise forget set needs distinct classes in ascending order, not {self.classes}"
                )
            if (self.kind == "class") != (len(self.classes) == 1):
                raise ValueError(f"kind {self.kind!r} does not fit {len(self.classes)} class(es)")

    # ------------------------------------------------------------------------------------ construction
    @classmethod
    def of_classes(cls, classes: int | Sequence[int], name: str | None = None) -> ForgetSet:
        chosen = sorted({int(c) for c in ([classes] if isinstance(classes, int) else classes)})
        return cls("class" if len(chosen) == 1 else "classes", tuple(chosen), name=name)

    @classmethod
    def random_fraction(cls, fraction: float, seed: int, name: str | None = None) -> ForgetSet:
        return cls("random", (), float(fraction), int(seed), name)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ForgetSet:
        """The set :meth:`to_json` wrote (extra keys, such as ``id``, are ignored)."""
        return cls(
            obj["kind"],
            tuple(int(c) for c in obj.get("classes") or ()),
            None if obj.get("fraction") is None else float(obj["fraction"]),
            None if obj.get("seed") is None else int(obj["seed"]),
            obj.get("name"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "classes": list(self.classes),
            "fraction": self.fraction,
            "seed": self.seed,
            "name": self.name,
        }

    # ------------------------------------------------------------------------------------ description
    @property
    def id(self) -> str:
        """Stable and path-safe: ``fc4``, ``fc2_4``, ``rnd10s1``. The id of one class is the old
        ``fc<class>``, so class-wise experiments keep their folders and run ids."""
        if self.kind == "random":
            return f"rnd{_percent_text(self.fraction)}s{self.seed}"
        return "fc" + "_".join(str(c) for c in self.classes)

    @property
    def is_class_wise(self) -> bool:
        """Whether the set is whole classes (and so has a test counterpart)."""
        return self.kind != "random"

    @property
    def forget_class(self) -> int | None:
        """The class, when the set is exactly one whole class; else None."""
        return self.classes[0] if self.kind == "class" else None

    def display_name(self, class_names: Sequence[str] | None = None) -> str:
        """ "Coat", "Coat + Bag", "random 10 % · seed 1" (the config's ``name`` when it gives one)."""
        if self.name:
            return self.name
        if self.kind == "random":
            return f"random {_percent_text(self.fraction)} % · seed {self.seed}"
        names = [class_names[c] if class_names else f"class {c}" for c in self.classes]
        return " + ".join(names)

    # ---------------------------------------------------------------------------------------- members
    def train_mask(self, train_labels: torch.Tensor | np.ndarray) -> np.ndarray:
        """Which positions of the training split (with these labels) belong to the set, as a bool array."""
        labels = _numpy(train_labels)
        if self.kind == "random":
            n = len(labels)
            k = int(round(self.fraction * n))
            if not 0 < k < n:
                raise ValueError(
                    f"forget set {self.id}: {self.fraction:g} of {n} training images is {k} images; "
                    f"a forget set must hold at least one image and leave at least one"
                )
            mask = np.zeros(n, dtype=bool)
            mask[np.random.default_rng(self.seed).choice(n, size=k, replace=False)] = True
            return mask
        return np.isin(labels, self.classes)

    def test_mask(self, test_labels: torch.Tensor | np.ndarray) -> np.ndarray:
        """The test counterpart: the test images of the set's classes; none for a random set."""
        labels = _numpy(test_labels)
        if self.kind == "random":
            return np.zeros(len(labels), dtype=bool)
        return np.isin(labels, self.classes)

    def split_masks(self, train_labels, test_labels) -> dict[str, torch.Tensor]:
        """``{"train": mask, "test": mask}`` as bool tensors (what the CKA sub-blocks are cut by)."""
        return {
            "train": torch.from_numpy(self.train_mask(train_labels)),
            "test": torch.from_numpy(self.test_mask(test_labels)),
        }


def _numpy(labels: torch.Tensor | np.ndarray) -> np.ndarray:
    return labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)


def forget_sets_of(config: dict[str, Any]) -> list[ForgetSet]:
    """The forget sets a validated config names, in order: one per entry of ``forget_classes`` (the
    shorthand), then the entries of ``forget_sets``. A random set without a seed draws with the
    experiment's ``seed``."""
    sets = [ForgetSet.of_classes(c) for c in config.get("forget_classes") or []]
    for entry in config.get("forget_sets") or []:
        if "random" in entry:
            sets.append(
                ForgetSet.random_fraction(
                    entry["random"], entry.get("seed", config["seed"]), entry.get("name")
                )
            )
        else:
            sets.append(ForgetSet.of_classes(entry["classes"], entry.get("name")))
    return sets
