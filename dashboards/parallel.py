"""Parallel coordinates of the filtered designs: their density across numeric inputs and objectives, brushed.

A box drawn on one axis becomes a filter (an input) or a constraint (an
output); the current rules are drawn as bars on their axes.
"""

from __future__ import annotations

from functools import partial

import holoviews as hv
import numpy as np
import panel as pn
import param

from dashboards.state import ExplorerState
from dashboards.style import FRONT_COLOR


class ParallelView(ExplorerState):
    """The rasterized parallel coordinates, their brush and the rules drawn on their axes."""

    def parallel_names(self) -> list[str]:
        """Axes of the parallel coordinates: numeric inputs, then the plotted and other objectives."""
        src = self.source
        outputs = [n for n in dict.fromkeys([self.x, self.y, *src.objectives]) if n in src.outputs]
        return [*src.numeric_inputs, *outputs][:10]

    def parallel_coordinates(self, width: int = 900, height: int = 300):
        """Density of the filtered designs' lines across numeric inputs and objectives (rasterized).

        Box-select a range on one axis to brush it (:meth:`brush_parallel`):
        an input's range becomes a filter, an output's a constraint; the
        axes' current rules are drawn as bars on them.
        """
        src = self.source
        names = self.parallel_names()
        image, drawn = src.parallel_density(names, self.mask(), width, height)
        if len(names) < 2 or drawn == 0:
            return pn.pane.Markdown("Not enough numeric columns or designs for parallel coordinates.")
        density = np.where(image > 0, np.log1p(image), np.nan)
        ticks = [(i, src.label(n, units=False)) for i, n in enumerate(names)]
        plot = hv.Image(np.flipud(density), bounds=(0, 0, len(names) - 1, 1), kdims=["axis", "scaled"]).opts(
            cmap="Blues", responsive=True, height=360, xticks=ticks, xrotation=20, yaxis=None, colorbar=False,
            clipping_colors={"NaN": (0, 0, 0, 0)}, tools=["box_select"], active_tools=["box_select"],
            title=f"Parallel coordinates of {drawn:,} filtered designs (each axis from its minimum to its maximum; "
                  "log axes in log scale) · box-select a range on an axis to filter by it")
        brush = hv.streams.BoundsXY(source=plot)
        brush.add_subscriber(partial(self.brush_parallel, names))
        rules = hv.Rectangles(self.parallel_rules(names), vdims=[]).opts(
            color=FRONT_COLOR, alpha=0.25, line_color=FRONT_COLOR)
        return pn.pane.HoloViews(plot * rules, sizing_mode="stretch_width", linked_axes=False)

    def parallel_rules(self, names: list[str]) -> list[tuple[float, float, float, float]]:
        """The filters and constraints on the parallel axes as boxes ``(x0, y0, x1, y1)`` in the plot's coordinates."""
        boxes = []
        for i, name in enumerate(names):
            rule = (self.constraints if name in self.source.outputs else self.filters).get(name)
            if not isinstance(rule, list | tuple) or len(rule) != 2:
                continue
            axis = self.source.axis(name)
            lo, hi = (axis.from_plot(axis.lo) if rule[0] is None else rule[0],
                      axis.from_plot(axis.hi) if rule[1] is None else rule[1])
            s0, s1 = ((axis.to_plot(np.array([float(v)]))[0] - axis.lo) / (axis.hi - axis.lo) for v in (lo, hi))
            if np.isfinite(s0) and np.isfinite(s1):
                boxes.append((i - 0.06, float(np.clip(s0, 0, 1)), i + 0.06, float(np.clip(s1, 0, 1))))
        return boxes

    def brush_parallel(self, names: list[str], bounds=None) -> None:
        """A box drawn on the parallel coordinates: its vertical range on the axis nearest its centre becomes a rule.

        The box's height (0-1 along the axis, which runs from the padded
        minimum to the maximum, in log10 on a log axis) is turned back into
        values; an input's range is set as a filter and an output's as a
        constraint, as if its slider had been moved there.
        """
        if not bounds or len(names) < 2:
            return
        x0, y0, x1, y1 = (float(v) for v in bounds)
        i = int(np.clip(round(0.5 * (x0 + x1)), 0, len(names) - 1))
        name = names[i]
        axis = self.source.axis(name)
        lo, hi = (axis.from_plot(axis.lo + float(np.clip(s, 0, 1)) * (axis.hi - axis.lo)) for s in sorted((y0, y1)))
        self._set_rule("constraints" if name in self.source.outputs else "filters", name, (lo, hi))

    @param.depends("filters", "constraints", "x", "y", "lower_tab")
    def _parallel_view(self):
        return self.parallel_coordinates() if self.lower_tab == 1 else pn.pane.Markdown("")

