"""Job: choose the fixed evaluation subset once and write it, with its thumbnails, for the site."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .. import atomic
from ..data.thumbnails import sprite_sheet
from ..tables import write_table
from ..tables.schema import SUBSET
from .common import evaluation_plan, load_data, log, validation_positions

SPRITE_COLUMNS = 50


def run(spec: dict[str, Any], subset_table: str, thumbnails: str) -> None:
    data = load_data(spec)
    plan = evaluation_plan(spec, data)
    # the analysis draws the validation split; a class too small for it stops the workflow here, not
    # after every model has been trained
    validation = validation_positions(spec, data, plan)
    log(f"validation split: {len(validation)} of {len(data.test)} test images")
    positions = plan.subset_positions
    png, rows, columns = sprite_sheet(data.train.images[positions], SPRITE_COLUMNS)
    atomic.write_bytes(thumbnails, png)
    table = pa.table(
        {
            "index": data.train.indices[positions].numpy().astype("int32"),
            "label": data.train.labels[positions].numpy().astype("int16"),
            "sprite": pa.array(range(len(positions)), pa.int32()),
        }
    )
    meta = {
        b"sprite_columns": str(columns).encode(),
        b"sprite_rows": str(rows).encode(),
        b"image_size": str(data.info.image_size).encode(),
        b"source": data.source.encode(),
    }
    write_table(table.replace_schema_metadata(meta), subset_table, SUBSET)
    log(f"evaluation subset: {len(positions)} images, thumbnails {rows}x{columns} ({len(png) / 1e3:.0f} kB)")
