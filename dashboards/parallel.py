"""Parallel coordinates of the filtered designs: their density across numeric inputs and objectives, brushed.

A box drawn on one axis becomes a filter (an input) or a constraint (an
output); the current rules are drawn as bars on their axes.

Up to ten axes share the plot's width, so their labels stand upright and
wrap (:func:`axis_label`): names on lines of at most :data:`LABEL_CHARS`
characters, the units on a line of their own; the plot is never narrower
than the labels need (:func:`parallel_min_width`), so neighbours never touch.
"""

from __future__ import annotations

import textwrap
from functools import partial

import holoviews as hv
import numpy as np
import panel as pn
import param

from dashboards.state import ExplorerState
from dashboards.style import FRONT_COLOR

#: the longest line of a parallel axis' label [characters]: longer names wrap, the units take a line of their own
LABEL_CHARS = 14
#: the width of a character of Bokeh's tick labels (11 px font), rounded up [px]
LABEL_CHAR_PX = 6
#: space between the labels of neighbouring axes [px]
LABEL_GAP_PX = 10


def axis_label(name: str, units: str = "", chars: int = LABEL_CHARS) -> str:
    r"""A parallel axis' label: the name on lines of at most ``chars`` characters, then the units.

    >>> axis_label("Negative collector thickness", "[µm]")
    'Negative\ncollector\nthickness\n[µm]'
    >>> axis_label("Temperature")
    'Temperature'
    """
    lines = textwrap.wrap(name, chars, break_long_words=True) or [name]
    if units:
        lines += textwrap.wrap(units, chars, break_long_words=True)
    return "\n".join(lines)


def parallel_min_width(axes: int) -> tuple[int, int]:
    """The narrowest plot whose axes' labels do not touch: its width and the border each side [px].

    Neighbouring axes are at least one label apart; the outer labels
    overhang the outer axes by half a label, into the borders.
    """
    label = LABEL_CHARS * LABEL_CHAR_PX + LABEL_GAP_PX
    border = label // 2
    return (max(axes, 2) - 1) * label + 2 * border, border


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
        ticks = list(enumerate(self.parallel_labels(names)))
        min_width, border = parallel_min_width(len(names))
        plot = hv.Image(np.flipud(density), bounds=(0, 0, len(names) - 1, 1), kdims=["axis", "scaled"]).opts(
            cmap="Blues",
            responsive=True,
            height=360,
            min_width=min_width,
            xticks=ticks,
            xrotation=0,
            yaxis=None,
            colorbar=False,
            backend_opts={"plot.min_border_left": border, "plot.min_border_right": border},
            clipping_colors={"NaN": (0, 0, 0, 0)},
            tools=["box_select"],
            active_tools=["box_select"],
            title=f"Parallel coordinates of {drawn:,} filtered designs (each axis from its minimum to its maximum; "
            "log axes in log scale) · box-select a range on an axis to filter by it",
        )
        brush = hv.streams.BoundsXY(source=plot)
        brush.add_subscriber(partial(self.brush_parallel, names))
        rules = hv.Rectangles(self.parallel_rules(names), vdims=[]).opts(
            color=FRONT_COLOR, alpha=0.25, line_color=FRONT_COLOR
        )
        return pn.pane.HoloViews(plot * rules, sizing_mode="stretch_width", linked_axes=False)

    def parallel_labels(self, names: list[str]) -> list[str]:
        """The axes' labels: long names wrapped, units on a line of their own (:func:`axis_label`)."""
        src = self.source
        labels = []
        for name in names:
            short = src.label(name, units=False)
            labels.append(axis_label(short, src.label(name)[len(short) :].strip()))
        return labels

    def parallel_rules(self, names: list[str]) -> list[tuple[float, float, float, float]]:
        """The filters and constraints on the parallel axes as boxes ``(x0, y0, x1, y1)`` in the plot's coordinates."""
        boxes = []
        for i, name in enumerate(names):
            rule = (self.constraints if name in self.source.outputs else self.filters).get(name)
            if not isinstance(rule, list | tuple) or len(rule) != 2:
                continue
            axis = self.source.axis(name)
            lo, hi = (
                axis.from_plot(axis.lo) if rule[0] is None else rule[0],
                axis.from_plot(axis.hi) if rule[1] is None else rule[1],
            )
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
