"""Reading and writing Arrow IPC (Feather v2) tables, atomically and with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather

from ..atomic import atomic_path


class TableError(RuntimeError):
    """A table is missing, truncated, corrupt or does not have the expected columns."""


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table``'s columns of ``schema``, in its order and types (schema metadata: the table's over the
    schema's)."""
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise TableError(f"table lacks columns {missing}")
    metadata = {**(schema.metadata or {}), **(table.schema.metadata or {})}
    return table.select(schema.names).cast(schema).replace_schema_metadata(metadata or None)


def concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    """Concatenate fragments after conforming each to ``schema`` (an empty list gives an empty table)."""
    if not tables:
        return schema.empty_table()
    return pa.concat_tables([conform(t, schema) for t in tables])


def write_table(table: pa.Table, path: str | os.PathLike, schema: pa.Schema | None = None) -> None:
    """Write ``table`` (conformed to ``schema`` when given) as an uncompressed, memory-mappable Feather
    v2 file."""
    if schema is not None:
        try:
            table = conform(table, schema)
        except TableError as exc:
            raise TableError(f"table for {path}: {exc}") from exc
    with atomic_path(path) as tmp:
        feather.write_feather(table, tmp, compression="uncompressed")


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    path = Path(path)
    if not path.is_file():
        raise TableError(f"table {path} does not exist; rerun the workflow (snakemake) to make it")
    try:
        table = feather.read_table(path, columns=columns, memory_map=False)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise TableError(
            f"table {path} is truncated or corrupt ({exc}). Delete it and rerun the workflow "
            f"(snakemake --rerun-incomplete) to make it again."
        ) from exc
    if columns is not None:
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise TableError(f"table {path} lacks columns {missing}")
    return table
