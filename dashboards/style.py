"""The plotting backend and the look every view of the dashboard shares: sizes, colours, units."""

from __future__ import annotations

import holoviews as hv
import numpy as np

from dse.explore import display_unit
from dse.vocabulary import OUTPUTS

hv.extension("bokeh", logo=False)
#: pixels of the aggregated cloud
CLOUD_WIDTH, CLOUD_HEIGHT = 640, 420
#: the front: a red that neither the category palette nor viridis uses
FRONT_COLOR = "#d62728"
CATEGORY_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#e7ba52",
    "#637939",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#c5b0d5",
    "#c49c94",
)
BAND_OUTPUTS = ("cycle_life", "cycle_life_p10", "cycle_life_p90")
#: measured cells (--cells): gold stars with a black edge, unlike any design or the front
CELL_COLOR = "#ffd700"


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) / 255


def _unit(name: str) -> str:
    """The unit of an output as shown (cycle lives, dimensionless in the vocabulary, in cycles)."""
    unit = display_unit(getattr(OUTPUTS.get(name), "units", ""))
    return unit or ("cycles" if name.startswith("cycle_life") else "")
