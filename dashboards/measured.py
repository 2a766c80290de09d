"""Measured cells (``dse serve --cells DIR``) on the cloud: black-edged stars at their measured values.

Each star's hover names the cell, its measured and predicted life, the
nearest front design at least as good on both axes and the inputs the cell
would change to become it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import holoviews as hv
import numpy as np
import pandas as pd

from dashboards.state import ExplorerState
from dashboards.style import CELL_COLOR, _unit
from dse.explore import Axis, display_unit, format_value
from dse.vocabulary import INPUTS

#: what a measured cell gives for an output axis (measured first, then the model's value where allowed)
CELL_MEASURES = {
    "cycle_life": ("measured_life",),
    "specific_energy": ("measured_specific_energy", "specific_energy"),
    "energy_density": ("measured_energy_density", "energy_density"),
    "coulombic_efficiency": ("measured_ce",),
}
#: the sidecar key whose absence puts a cell at the model's value of an axis
CELL_MEASURE_KEYS = {"specific_energy": "cell_mass", "energy_density": "cell_volume"}


class CellsView(ExplorerState):
    """The measured cells placed on the current axes, their gap to the front, and their stars."""

    def cells_frame(self) -> pd.DataFrame:
        """The measured cells placed on the current axes (plot coordinates) with their hover fields.

        Only cells with a value on both axes (:func:`cell_axis_values`) that
        the axis can show (positive on a log axis) are returned.
        """
        cells = self.cells
        columns = [
            "x_plot",
            "y_plot",
            "cell",
            "x_value",
            "y_value",
            "measured_life_text",
            "measured_energy_text",
            "predicted_life_text",
            "front_design",
            "front_gap_text",
            "differs_text",
        ]
        if cells is None or not len(cells):
            return pd.DataFrame(columns=columns)
        xa, ya = self.axes()
        xv, yv, shown = self._cells_placed()
        if shown is None:
            return pd.DataFrame(columns=columns)
        df = pd.DataFrame(
            {
                "x_plot": xa.to_plot(xv),
                "y_plot": ya.to_plot(yv),
                "cell": cells["cell"].astype(str),
                "x_value": [format_value(v) for v in xv],
                "y_value": [format_value(v) for v in yv],
            }
        )
        df["measured_life_text"] = [_life_text(r) for _, r in cells.iterrows()]
        df["measured_energy_text"] = [_energy_text(r) for _, r in cells.iterrows()]
        df["predicted_life_text"] = [
            f"{format_value(r['cycle_life'])} (p10–p90: {format_value(r['cycle_life_p10'])}"
            f"–{format_value(r['cycle_life_p90'])})"
            for _, r in cells.iterrows()
        ]
        df = df[shown].reset_index(drop=True)
        gaps = self.cells_gap(cells[shown].reset_index(drop=True), xv[shown], yv[shown])
        df["front_design"], df["front_gap_text"], df["differs_text"] = gaps
        return df[columns]

    def cells_gap(self, cells: pd.DataFrame, xv: np.ndarray, yv: np.ndarray) -> tuple[list, list, list]:
        """For each cell, the nearest front design at least as good on both axes, the gap, and the inputs that differ.

        Nearest is in the plot's own coordinates scaled to the axes' extents
        (:func:`nearest_front_point`); where no front design is as good on
        both axes the cell is beyond the front of the filtered designs and the
        nearest front design is named. Returns the front design's label, the
        gap on each axis, and the inputs the cell would change to become it
        (:func:`input_differences`), one entry per row of ``cells``.
        """
        labels, gaps, differs = [], [], []
        rows = self.front()
        xa, ya = self.axes()
        if not len(cells):
            return labels, gaps, differs
        if not rows.size:
            return [""] * len(cells), ["no front among the filtered designs"] * len(cells), [""] * len(cells)
        senses = self.front_objectives()
        sx, sy = (self.source.objectives.get(n, senses.get(n, "max")) for n in (self.x, self.y))
        front = self.source.frame(rows, list(dict.fromkeys((self.x, self.y))))
        fx, fy = front[self.x].to_numpy(np.float64), front[self.y].to_numpy(np.float64)
        for k in range(len(cells)):
            j, beyond = nearest_front_point(xv[k], yv[k], fx, fy, (sx, sy), xa, ya)
            row = int(rows[j])
            labels.append(self.source.design_label(row))
            gap = ", ".join(
                f"{self.source.label(n, units=False)} {format_value(c)} → {format_value(f)}"
                f"{(' ' + _unit(n)) if _unit(n) else ''}"
                for n, c, f in ((self.x, xv[k], fx[j]), (self.y, yv[k], fy[j]))
            )
            gaps.append(f"{labels[-1]}: {gap}" + (" (the cell is beyond the front here)" if beyond else ""))
            differs.append(input_differences(cells.iloc[k], self.source.design(row).inputs) or "no input")
        return labels, gaps, differs

    def _cells_placed(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """The cells' values on the x and y axes, and which of them the axes can show (None: not on these axes)."""
        xv, yv = cell_axis_values(self.cells, self.x), cell_axis_values(self.cells, self.y)
        if xv is None or yv is None:
            return xv, yv, None
        xa, ya = self.axes()
        return xv, yv, np.isfinite(xa.to_plot(xv)) & np.isfinite(ya.to_plot(yv))

    def cells_note(self) -> str:
        """How many measured cells are drawn, and how many the current axes cannot show ('' without cells)."""
        if self.cells is None:
            return ""
        shown = self._cells_placed()[2] if len(self.cells) else None
        total, drawn = len(self.cells), 0 if shown is None else int(shown.sum())  # no front search to count
        hidden = f" ({total - drawn} hidden: no measured value on these axes)" if drawn < total else ""
        modelled = []
        for name in dict.fromkeys((self.x, self.y)):
            measured = cell_axis_values(self.cells, name, model=False)
            if name in CELL_MEASURE_KEYS and measured is not None:
                n = int(np.sum(~np.isfinite(measured)))
                if n:
                    modelled.append(
                        f"{n} at the model's {name.replace('_', ' ')} (no {CELL_MEASURE_KEYS[name]} in the sidecar)"
                    )
        model = f"; {', '.join(modelled)}" if modelled else ""
        return f"{drawn} measured cell{'s' if drawn != 1 else ''} at their measured values{hidden}{model}"

    def cells_element(self):
        """The measured cells as black-edged stars, with cell id, measured and predicted life on hover."""
        src = self.source
        df = self.cells_frame()
        from bokeh.models import HoverTool

        hover = HoverTool(
            tooltips=[
                ("cell", "@cell"),
                (src.label(self.x), "@x_value"),
                (src.label(self.y), "@y_value"),
                ("measured life [cycles to 80 %]", "@measured_life_text"),
                ("measured energy", "@measured_energy_text"),
                ("predicted life", "@predicted_life_text"),
                ("nearest front design", "@front_gap_text"),
                ("it differs in", "@differs_text"),
            ]
        )
        return hv.Points(
            df, kdims=["x_plot", "y_plot"], vdims=[c for c in df.columns if c not in ("x_plot", "y_plot")]
        ).opts(marker="star", size=18, color=CELL_COLOR, line_color="black", line_width=1.2, tools=[hover])


def cell_axis_values(cells: pd.DataFrame, name: str, model: bool = True) -> np.ndarray | None:
    """Where measured cells sit on the axis of ``name``: their measured value, NaN where a cell has none.

    Cycle life is the measured life (cycles to 80 %), specific energy and
    energy density the measured ones (with ``model``, the model's where the
    sidecar gives no ``cell_mass`` or ``cell_volume``), CE the measured mean;
    an input is the cell's own value. None when the cells do not measure
    ``name`` at all.

    >>> cells = pd.DataFrame({"measured_life": [120.0], "measured_specific_energy": [np.nan],
    ...                       "specific_energy": [350.0], "stack_pressure": [0.5]})
    >>> [cell_axis_values(cells, n).tolist() for n in ("cycle_life", "specific_energy", "stack_pressure")]
    [[120.0], [350.0], [0.5]]
    >>> cell_axis_values(cells, "specific_energy", model=False).tolist()
    [nan]
    >>> cell_axis_values(cells, "cost") is None
    True
    """
    sources = CELL_MEASURES.get(name, (name,) if name in INPUTS else ())[: None if model else 1]
    out = None
    for column in sources:
        if column not in cells.columns:
            continue
        values = pd.to_numeric(cells[column], errors="coerce").to_numpy(np.float64)
        out = values if out is None else np.where(np.isfinite(out), out, values)
    return out


def nearest_front_point(
    x: float, y: float, fx: np.ndarray, fy: np.ndarray, senses: tuple[str, str], xa: Axis, ya: Axis
) -> tuple[int, bool]:
    """Index of the front point nearest to (x, y) among those at least as good on both axes; and whether none is.

    Distance is Euclidean in plot coordinates (log10 on a log axis) divided
    by each axis' extent, so a decade of cycle life and the width of the
    energy axis weigh as they look. When no front point is at least as good
    on both (the point is beyond the front), the nearest of all is returned
    with ``True``.

    >>> ax = Axis("a", False, 0.0, 10.0)
    >>> nearest_front_point(5.0, 5.0, np.array([4.0, 6.0, 9.0]), np.array([9.0, 6.0, 4.0]), ("max", "max"), ax, ax)
    (1, False)
    >>> nearest_front_point(9.5, 9.5, np.array([4.0, 6.0, 9.0]), np.array([9.0, 6.0, 4.0]), ("max", "max"), ax, ax)
    (1, True)
    """
    px, py = xa.to_plot(fx), ya.to_plot(fy)
    dx = (px - xa.to_plot(np.array([x]))[0]) / max(xa.hi - xa.lo, 1e-300)
    dy = (py - ya.to_plot(np.array([y]))[0]) / max(ya.hi - ya.lo, 1e-300)
    distance = np.hypot(dx, dy)
    distance[~np.isfinite(distance)] = np.inf
    better = ((fx >= x) if senses[0] == "max" else (fx <= x)) & ((fy >= y) if senses[1] == "max" else (fy <= y))
    if better.any():
        return int(np.flatnonzero(better)[np.argmin(distance[better])]), False
    return int(np.argmin(distance)), True


#: a thickness that means nothing when its layer is "none"
_THICKNESS_OF = {"coating_thickness": "coating"}
#: inputs whose 0 has a meaning of its own (vocabulary)
_ZERO_MEANS = {"electrolyte_amount": "fill"}


def input_differences(cell: Mapping, design: Mapping, limit: int = 4) -> str:
    """The inputs in which a design differs from a measured cell, as ``name cell → design`` (the most different first).

    Materials and other names first, then numbers by their relative
    difference (differences under 0.5 % are equal); at most ``limit`` named,
    then how many more.

    >>> input_differences({"coating": "none", "stack_pressure": 0.5, "temperature": 25.0},
    ...                   {"coating": "Ag-C", "stack_pressure": 1.0, "temperature": 25.0})
    'coating none → Ag-C, stack pressure 0.500 MPa → 1.00 MPa'
    >>> input_differences({"coating": "none", "coating_thickness": 0.0, "electrolyte_amount": 3.0},
    ...                   {"coating": "none", "coating_thickness": 1.0, "electrolyte_amount": 0.0})
    'electrolyte amount 3.00 g/Ah → fill'
    """
    named, numbers = [], []
    for name in INPUTS:
        if name not in cell or name not in design:
            continue
        material = _THICKNESS_OF.get(name)
        if material and str(cell.get(material)) == str(design.get(material)) == "none":
            continue  # the thickness of a layer neither has
        a, b = cell[name], design[name]
        if isinstance(a, str) or isinstance(b, str):
            if str(a) != str(b):
                named.append(f"{name.replace('_', ' ')} {a} → {b}")
            continue
        a, b = float(a), float(b)
        scale = max(abs(a), abs(b))
        if scale > 0 and abs(a - b) > 0.005 * scale:
            unit = display_unit(INPUTS[name].units)
            a_text, b_text = (
                _ZERO_MEANS[name] if v == 0 and name in _ZERO_MEANS else f"{format_value(v)} {unit}".strip()
                for v in (a, b)
            )
            numbers.append((abs(a - b) / scale, f"{name.replace('_', ' ')} {a_text} → {b_text}"))
    parts = named + [t for _, t in sorted(numbers, key=lambda item: -item[0])]
    more = f", and {len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def _life_text(row) -> str:
    life = float(row.get("measured_life", math.nan))
    if not math.isfinite(life):
        return "not measured"
    return format_value(life) if bool(row.get("life_reached", True)) else f"≥ {format_value(life)} (still above 80 %)"


def _energy_text(row) -> str:
    parts = []
    energy = float(row.get("measured_energy", math.nan))
    if math.isfinite(energy):
        parts.append(f"{format_value(energy)} Wh")
    for name, unit, key in (("specific_energy", "Wh/kg", "cell mass"), ("energy_density", "Wh/L", "cell volume")):
        measured = float(row.get(f"measured_{name}", math.nan))
        if math.isfinite(measured):
            parts.append(f"{format_value(measured)} {unit}")
        elif math.isfinite(float(row.get(name, math.nan))):
            parts.append(f"(no {key}: model {format_value(float(row[name]))} {unit})")
    return ", ".join(parts) or "not measured"
