"""Job: make sure the configured data set is on disk, then write its manifest (the workflow's ``data`` rule).

This is the only job that may download (torchvision, when the config's ``data.download`` allows it);
every other job reads the files it found and never downloads. A data set that cannot be had stops
here with where its files must go and how to fetch them on another machine.
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path
from typing import Any

from .. import atomic
from ..data import manifest as manifests
from ..data.datasets import DatasetMissingError, ensure, first_per_class, load_dataset
from ..data.sources import DEBIAN_PACKAGE, Found, download_url
from .common import log


def _origin(found: Found, downloaded: bool) -> str:
    if downloaded:
        return "downloaded with torchvision"
    if found.from_debian:
        return f"Debian's package {DEBIAN_PACKAGE}"
    return "found under data.root"


def _images(dataset: str, root: str, data_cfg: dict[str, Any]) -> dict[str, Any]:
    """Image counts of the published splits and of the part the experiment uses (``*_per_class``)."""
    data = load_dataset(dataset, root=root, download=False)
    counts: dict[str, Any] = {}
    for split_name, split in (("train", data.train), ("test", data.test)):
        per_class = data_cfg.get(f"{split_name}_per_class")
        counts[split_name] = len(split)
        counts[f"{split_name}_used"] = len(first_per_class(split.labels, per_class))
        counts[f"{split_name}_per_class"] = per_class
    return counts


def build(spec: dict[str, Any], found: Found, downloaded: bool) -> dict[str, Any]:
    dataset, data_cfg = spec["dataset"], spec["data"]
    return {
        "version": manifests.VERSION,
        "dataset": dataset,
        "root": data_cfg["root"],
        "folder": str(found.folder),
        "origin": _origin(found, downloaded),
        "url": download_url(dataset) if downloaded else None,
        "files": [manifests.file_record(path) for path in found.files],
        "images": _images(dataset, data_cfg["root"], data_cfg),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run(spec: dict[str, Any], manifest_path: str, allow_download: bool) -> int:
    """Write the manifest; 1 with the reason on stderr when the data set cannot be had or read."""
    dataset, root = spec["dataset"], spec["data"]["root"]
    try:
        found, downloaded = ensure(dataset, root, allow_download)
    except DatasetMissingError as error:
        print(error, file=sys.stderr)
        return 1
    log(f"{dataset}: {_origin(found, downloaded)}, in {found.folder}")
    try:
        manifest = build(spec, found, downloaded)
    except (ValueError, pickle.UnpicklingError, OSError) as error:  # truncated, foreign or unreadable files
        print(f"{dataset}: the files in {found.folder} cannot be read: {error}", file=sys.stderr)
        return 1
    atomic.write_json(manifest_path, manifest)
    images = manifest["images"]
    log(
        f"manifest {Path(manifest_path)}: {len(manifest['files'])} files, "
        f"{images['train']} training and {images['test']} test images"
    )
    return 0
