"""The Arrow tables of an experiment: their schemas (the contract) and their reading and writing."""

from .io import TableError, concat, conform, read_table, write_table
from .schema import schemas, column_docs, experiment_metadata

__all__ = ["schemas", "TableError", "concat", "conform", "column_docs", "experiment_metadata", "read_table", "write_table"]
