"""docs/tables.md documents every table and column of the schema (it is generated from it)."""

from pathlib import Path

from unlearning_comparator.tables.schema import column_docs


def test_the_table_documentation_matches_the_schemas():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "tables.md").read_text()
    assert doc.endswith(column_docs(10)), (
        "docs/tables.md is out of date: python -m unlearning_comparator table-docs docs/tables.md"
    )


def test_the_command_rewrites_the_generated_part_and_keeps_the_prose(tmp_path):
    from unlearning_comparator.tables.schema import write_column_docs

    stale = tmp_path / "tables.md"
    stale.write_text("# Tables\n\nHand-written prose.\n\n### `runs.arrow`\n\n| an old column |\n")
    write_column_docs(str(stale))
    assert stale.read_text() == "# Tables\n\nHand-written prose.\n\n" + column_docs(10)
