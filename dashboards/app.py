"""The served dashboard: one :class:`~dashboards.explorer.Explorer` per browser tab on a store opened once.

``dse serve STORE`` calls :func:`create_app` (and :func:`warm_up` before the
first request). This module also keeps the import path ``dashboards.app`` of
every name the dashboard had when it was one module: the Explorer and its
parts live in the modules named in :mod:`dashboards.explorer`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn

from dashboards.card import (
    CAPACITY_TITLE,
    capacity_curve,
    comparison_curves,
    comparison_table,
    detail_views,
)
from dashboards.charts import SENSITIVITY_INDICES
from dashboards.cloud import FRONT_POINTS_MAX, HOVER_PREFIX, PixelText
from dashboards.explorer import Explorer
from dashboards.measured import (
    CELL_MEASURE_KEYS,
    CELL_MEASURES,
    cell_axis_values,
    input_differences,
    nearest_front_point,
)
from dashboards.state import FRONT_QUANTILES, MAX_PINNED
from dashboards.style import (
    BAND_OUTPUTS,
    CATEGORY_COLORS,
    CELL_COLOR,
    CLOUD_HEIGHT,
    CLOUD_WIDTH,
    FRONT_COLOR,
)
from dashboards.tables import FRONT_TABLE_MAX
from dse.explore import Axis, ResultsSource, aggregate

__all__ = [
    "ResultsSource",
    "Explorer",
    "load_source",
    "create_app",
    "FRONT_COLOR",
    "CATEGORY_COLORS",
    "cell_axis_values",
    "nearest_front_point",
    "input_differences",
    "capacity_curve",
    "comparison_curves",
    # kept importable from here since the split (docs/architecture.md, "Re-exports")
    "warm_up",
    "detail_views",
    "comparison_table",
    "CAPACITY_TITLE",
    "SENSITIVITY_INDICES",
    "FRONT_POINTS_MAX",
    "HOVER_PREFIX",
    "PixelText",
    "CELL_MEASURE_KEYS",
    "CELL_MEASURES",
    "FRONT_QUANTILES",
    "MAX_PINNED",
    "BAND_OUTPUTS",
    "CELL_COLOR",
    "CLOUD_HEIGHT",
    "CLOUD_WIDTH",
    "FRONT_TABLE_MAX",
]

_SOURCES: dict[tuple[str, str | None], ResultsSource] = {}


def load_source(path: str, endpoint_url: str | None = None, client=None) -> ResultsSource:
    """Open a store once per process (shared by every browser session)."""
    key = (path, endpoint_url)
    if key not in _SOURCES:
        storage_options = {"endpoint_url": endpoint_url} if endpoint_url else None
        _SOURCES[key] = ResultsSource(path, storage_options)
    return _SOURCES[key]


def create_app(
    path: str,
    endpoint_url: str | None = None,
    cells: pd.DataFrame | None = None,
    sensitivity: pd.DataFrame | None = None,
):
    """Session factory for ``pn.serve``: one Explorer per browser tab, URL-synced.

    ``cells`` (:func:`dse.cells.cells_table`) are drawn on every session's
    cloud; ``sensitivity`` (:func:`dse.explore.read_sensitivity`) gets a tab.
    """
    source = load_source(path, endpoint_url)

    def session():
        explorer = Explorer(source, cells=cells, sensitivity=sensitivity)
        if pn.state.location is not None:
            # a value the parameters refuse (a hand-made URL) is not fatal: its valid part is applied
            pn.state.location.sync(explorer, dict(Explorer.URL_PARAMS), on_error=explorer.apply_state)
        return explorer.__panel__()

    return session


def warm_up(source: ResultsSource | None = None) -> None:
    """Compile the aggregation kernels (and read the default columns) before the first request."""
    rng = np.random.default_rng(0)
    x = rng.random(100).astype(np.float32)
    axis = Axis("x", False, 0.0, 1.0)
    aggregate(x, x, np.ones(100, dtype=bool), axis, axis, 4, 4, codes=np.zeros(100, dtype=np.int16), ncat=1)
    aggregate(x, x, np.ones(100, dtype=bool), axis, axis, 4, 4, weights=x)
    ResultsSource.warm_up()
    if source is not None and len(source):
        explorer = Explorer(source)
        explorer.front()
        explorer.cloud_element(*explorer.axes())
