"""The data sets the workflow knows, described without importing PyTorch (the Snakefile reads this)."""

from __future__ import annotations

from dataclasses import dataclass


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
        class_names=("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"),
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
        class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        channels=3,
        image_size=32,
        mean=(0.4914, 0.4822, 0.4465),  # the original Comparator's normalisation (reference §1.2)
        std=(0.2023, 0.1994, 0.2010),
        hflip=True,
        crop_padding=4,
    ),
}
