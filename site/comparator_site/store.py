"""The page's data store: one ColumnDataSource per block layout of :mod:`comparator_site.data`, plus the
runs (one row per model) and the settings (one row per forget set's setting, across replicate seeds: the
experiments table's rows).

They are never plotted. Bokeh ships their numeric columns as gzip-compressed typed arrays; the page's
JavaScript copies the slices of the two chosen models into the small plotted sources.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource

from .data import SiteData
from .views.experiments_table import runs_columns, settings_columns


def build(data: SiteData) -> dict[str, ColumnDataSource]:
    runs = runs_columns(data)
    for key, off in data.offsets.items():
        runs[f"off_{key}"] = np.asarray(off, dtype=np.int32)
    settings = settings_columns(data)
    settings["off_sacc"] = np.asarray(data.setting_offsets, dtype=np.int32)
    out = {"st_runs": ColumnDataSource(runs), "st_settings": ColumnDataSource(settings)}
    for key, cols in data.stores.items():
        out[f"st_{key}"] = ColumnDataSource({k: np.ascontiguousarray(v) for k, v in cols.items()})
    return out
