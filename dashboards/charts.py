"""The charts below the cloud: the inputs of the filtered designs and of the box selection, and the sensitivity."""

from __future__ import annotations

from functools import partial

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from dashboards.state import ExplorerState
from dashboards.style import CATEGORY_COLORS

#: the sensitivity indices drawn, as named in the chart's legend → their column
SENSITIVITY_INDICES = {"first order": "first_order", "total order": "total_order"}


class Charts(ExplorerState):
    """Histograms of every input (filtered vs selected) and the sensitivity indices (``dse serve --sensitivity``)."""

    def histogram_element(self, name: str, **state):
        """One input's distribution in the filtered designs and in the box selection, as fractions.

        Both sets are always drawn (the selection empty without a box), so a
        change of state updates the chart's data in place.
        """
        src = self.source
        title = src.label(name)
        frames = [(label, counts[name]) for label, counts in self.input_counts().items()]
        if name in src.categorical:
            names = src.categories[name]
            df = pd.concat(
                [pd.DataFrame({"value": names, "set": label, "fraction": c / max(c.sum(), 1)}) for label, c in frames]
            )
            return hv.Bars(df, kdims=["value", "set"], vdims=["fraction"]).opts(
                title=title,
                height=230,
                responsive=True,
                xrotation=30 if len(names) > 4 else 0,
                xlabel="",
                ylabel="fraction",
                show_legend=False,
                tools=["hover"],
                color=hv.dim("set").categorize({"filtered": "#bbbbbb", "selected": "#1f77b4"}),
            )
        edges = src.edges(name)
        layers = [
            hv.Histogram(
                (edges, c / max(c.sum(), 1)), kdims=[hv.Dimension(name, label=title)], vdims=["fraction"]
            ).opts(alpha=0.5 if label == "filtered" else 0.8, color="#bbbbbb" if label == "filtered" else "#1f77b4")
            for label, c in frames
        ]
        return hv.Overlay(layers).opts(hv.opts.Histogram(height=230, responsive=True, title=title))

    def _histogram_grid(self) -> pn.GridBox:
        """The input charts, built once: DynamicMaps that redraw (in place) only while shown."""
        if self._histogram_panes is None:
            stream = hv.streams.Params(parameterized=self, parameters=["filters", "constraints", "selection"])
            panes = [
                pn.pane.HoloViews(
                    hv.DynamicMap(partial(self.histogram_element, name), streams=[stream]),
                    sizing_mode="stretch_width",
                    linked_axes=False,
                )
                for name in self.source.inputs
            ]
            self._histogram_panes = pn.GridBox(*panes, ncols=3, sizing_mode="stretch_width")
        return self._histogram_panes

    @param.depends("filters", "constraints", "selection")
    def histogram_header(self):
        """The heading of the input histograms: which sets they compare, and how many designs."""
        if self.selection:
            text = "Selected designs (blue) vs all filtered (grey), as fractions of each set"
            n = self.selected_rows().size
        else:
            text = "Input distributions of the filtered designs: box-select in the cloud to compare"
            n = int(self.mask().sum())
        return pn.pane.Markdown(f"**{text}** · {n:,} designs")

    def histograms(self):
        """Header with the counts, and a chart per input (independent axes)."""
        return pn.Column(self.histogram_header(), self._histogram_grid(), sizing_mode="stretch_width")

    def sensitivity_element(self, output: str, scenario: str):
        """Indices of one output over the inputs of one scenario: total order (light, wide) behind first order.

        Horizontal bars, one per input (labelled as everywhere), named
        by the index they draw (:data:`SENSITIVITY_INDICES`) for the legend.
        """
        df = self.sensitivity
        part = df[(df["output"].astype(str) == output) & (df["scenario"].astype(str) == scenario)]
        method = ", ".join(sorted(set(part["method"].astype(str))))
        inputs = [self.source.label(str(n), units=False) for n in part["input"]]
        layers = []
        for (label, column), width, alpha in zip(
            reversed(SENSITIVITY_INDICES.items()), (0.8, 0.45), (0.45, 1.0), strict=True
        ):
            values = part[column].to_numpy(np.float64)
            shown = np.isfinite(values)
            layers.append(
                hv.Bars(
                    (np.asarray(inputs, dtype=object)[shown], values[shown]),
                    "input",
                    hv.Dimension("value", label="share of the variance"),
                    label=label,
                ).opts(
                    color=CATEGORY_COLORS[list(SENSITIVITY_INDICES).index(label)],
                    bar_width=width,
                    alpha=alpha,
                    tools=["hover"],
                )
            )
        return hv.Overlay(layers).opts(
            hv.opts.Overlay(
                title=f"{self.source.label(output, units=False)} · {scenario} ({method})",
                invert_axes=True,
                height=60 + 26 * max(len(inputs), 1),
                responsive=True,
                xlabel="",
                legend_position="bottom_right",
            )
        )

    def sensitivity_view(self):
        """A chart of indices per output and scenario of :attr:`sensitivity` (first order and total order)."""
        df = self.sensitivity
        outputs = list(dict.fromkeys(df["output"].astype(str)))
        scenarios = list(dict.fromkeys(df["scenario"].astype(str)))
        panes = [
            pn.pane.HoloViews(self.sensitivity_element(o, sc), sizing_mode="stretch_width", linked_axes=False)
            for o in outputs
            for sc in scenarios
            if ((df["output"].astype(str) == o) & (df["scenario"].astype(str) == sc)).any()
        ]
        return pn.Column(
            pn.pane.Markdown(
                "**Sensitivity of each output to the swept inputs**: the share of the "
                "output's variance over a scenario due to an input alone (first order) "
                "and with its interactions (total order); see docs/sensitivity.md"
            ),
            pn.GridBox(*panes, ncols=min(len(scenarios), 3) or 1, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    # the parallel coordinates compute only when shown: their view depends on lower_tab
