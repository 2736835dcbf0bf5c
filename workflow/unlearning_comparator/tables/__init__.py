"""The Arrow tables of an experiment: their schemas (the contract) and their reading and writing."""

from .io import TableError, concat, conform, read_table, write_table
from .schema import TABLES, column_docs, experiment_metadata, schemas

__all__ = [
    "TABLES",
    "TableError",
    "column_docs",
    "concat",
    "conform",
    "experiment_metadata",
    "read_table",
    "schemas",
    "write_table",
]
