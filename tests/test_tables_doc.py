"""docs/tables.md documents every table and column of the schema (it is generated from it)."""

from pathlib import Path

from unlearning_comparator.tables.schema import column_docs


def test_the_table_documentation_matches_the_schemas():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "tables.md").read_text()
    assert column_docs(10) in doc, "regenerate docs/tables.md from tables/schema.py (see its header)"
