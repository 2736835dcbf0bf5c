"""The data manifest: which files an experiment's data came from, their sizes and SHA-256, and when.

The workflow's ``data`` rule writes it (:mod:`..jobs.data`); every job that reads data takes it as an
input. Snakemake does not watch the data files themselves (they live outside the results and may be
shared), so the workflow compares them with the manifest when it starts (:func:`stale`): cheap
(sizes and modification times; SHA-256 only of a file whose time moved). No PyTorch here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

VERSION = 1


def sha256(path: str | os.PathLike) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_record(path: str | os.PathLike) -> dict[str, Any]:
    stat = os.stat(path)
    return {"path": str(path), "bytes": stat.st_size, "sha256": sha256(path), "mtime_ns": stat.st_mtime_ns}


def _change(record: dict[str, Any]) -> str | None:
    """How a recorded file differs now ("" if it is gone), or None if it is the same."""
    path = Path(record["path"])
    if not path.is_file():
        return ""
    stat = path.stat()
    if stat.st_size != record["bytes"]:
        return f"{path}: {stat.st_size} bytes, the manifest says {record['bytes']}"
    if stat.st_mtime_ns != record["mtime_ns"]:
        digest = sha256(path)
        if digest != record["sha256"]:
            return f"{path}: SHA-256 {digest[:16]}…, the manifest says {record['sha256'][:16]}…"
    return None


def stale(manifest_path: str | os.PathLike, dataset: str, root: str) -> tuple[list[str], list[str]]:
    """(changed, missing) files of the manifest, when it exists and describes this dataset and root.

    Another dataset or root means the config changed: the data rule then runs again anyway."""
    path = Path(manifest_path)
    if not path.is_file():
        return [], []
    manifest = json.loads(path.read_text())
    if manifest.get("dataset") != dataset or manifest.get("root") != root:
        return [], []
    found = [(record["path"], _change(record)) for record in manifest["files"]]
    changed = [change for _, change in found if change]
    missing = [file for file, change in found if change == ""]
    return changed, missing


def changed_message(manifest_path: str | os.PathLike, changed: list[str]) -> str:
    return "\n".join(
        [
            f"The data set changed since {manifest_path} was written:",
            *(f"    {line}" for line in changed),
            (
                "This experiment's results were computed from the files the manifest describes. "
                "Put those back, or"
            ),
            f"delete {manifest_path} to accept the new files: the data rule then records them, and every job",
            "that reads data runs again.",
        ]
    )
