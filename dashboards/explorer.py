"""The dse dashboard: millions of designs and their Pareto fronts in a browser.

``Explorer`` is a :class:`panel.viewable.Viewer` whose state is declared as
``param`` parameters (axes, colour, input filters, output constraints, zoom,
box selection, the design on the card, pinned designs); every one of them
round-trips through the URL, and the widgets show the state, whoever set it.
The data live in :class:`dse.explore.ResultsSource` (opened once per
process, shared by every session); the dashboard only draws them.

The cloud is aggregated by :func:`dse.explore.aggregate` in the axes' own
coordinates (``log10`` of the values on a log axis, with tick labels in the
values' units), so a design is drawn where its values are; its plot objects
are built once per choice of axes and colour and updated from streams
(filters, constraints, zoom). The front is drawn on top in a colour no
category uses, with the p10-p90 cycle-life band when cycle life is an axis.
Where the store has them, the front can be computed on the p10 or p90 cycle
life instead of the median (its points stay at the plotted values, the band
shows the quantile), and the cloud can be coloured by ``pareto_probability``
or a refined store's ``refinement_level``; the front's exact hypervolume is
shown above its table, from a reference point fixed per store (the worst
feasible value of each objective), so filters compare. Measured cells
(``dse serve --cells DIR``) are drawn as black-edged stars at their measured
values (:func:`dashboards.measured.cell_axis_values`).

The Explorer is put together from parts, one module each (``docs/architecture.md``):
:mod:`dashboards.state` (the parameters, what they select, the URL),
:mod:`dashboards.controls` (the sidebar), :mod:`dashboards.cloud` (cloud,
front, band, hovers), :mod:`dashboards.measured` (measured cells),
:mod:`dashboards.tables` (the front table, exports), :mod:`dashboards.charts`
(histograms, sensitivity), :mod:`dashboards.parallel` (parallel coordinates)
and :mod:`dashboards.card` (design card, pinned comparison); this module lays
them out.

Served by ``dse serve STORE``; tested by driving the parameters
(``tests/dashboards/test_dashboard.py``, ``tests/dashboards/test_dashboard_plots.py``) and once in
a real browser (``tests/integration/test_dashboard_browser.py``).
"""

from __future__ import annotations

import pandas as pd
import panel as pn

from dashboards.card import CardView
from dashboards.charts import Charts
from dashboards.cloud import CloudView
from dashboards.controls import Controls
from dashboards.measured import CellsView
from dashboards.parallel import ParallelView
from dashboards.tables import FrontTable
from dse.explore import ResultsSource


class Explorer(Controls, CloudView, CellsView, FrontTable, Charts, ParallelView, CardView):
    """Explore a results store: cloud, front, filters, constraints, histograms, details."""

    def __init__(
        self,
        source: ResultsSource,
        cells: pd.DataFrame | None = None,
        sensitivity: pd.DataFrame | None = None,
        **params,
    ):
        super().__init__(source, cells=cells, sensitivity=sensitivity, **params)
        self._histogram_panes: pn.GridBox | None = None
        self._build_widgets()
        self.param.watch(self._show_state, ["filters", "constraints"])
        self.param.watch(self._axes_changed, ["x", "y"])

    def _build_widgets(self) -> None:
        """The widgets of the sidebar, the front table and the tabs of the page."""
        self._build_controls()
        self._build_front_table()
        self._side_tabs = pn.Tabs(
            ("Front", pn.Column(self.front_header, self._front_tabulator, sizing_mode="stretch_width")),
            ("Design", self.detail_card),
            ("Pinned", self.comparison),
            dynamic=True,
            sizing_mode="stretch_width",
        )
        self._lower_tabs = pn.Tabs(
            (
                "Inputs of the selection",
                pn.Column(self.histogram_header, self._histogram_grid(), sizing_mode="stretch_width"),
            ),
            ("Parallel coordinates", self._parallel_view),
            dynamic=True,
            sizing_mode="stretch_width",
        )
        if self.sensitivity is not None and len(self.sensitivity):
            self._lower_tabs.append(("Sensitivity", self.sensitivity_view()))
        self._lower_tabs.param.watch(lambda e: setattr(self, "lower_tab", e.new), "active")
        self.param.watch(lambda e: setattr(self._side_tabs, "active", 1) if e.new >= 0 else None, "detail")

    def __panel__(self):
        return pn.template.FastListTemplate(
            title=f"dse · {self.source.title}",
            sidebar=[self.controls()],
            sidebar_width=340,
            main=[
                pn.Row(
                    pn.Column(self.legend, self.cloud, sizing_mode="stretch_both", min_height=480),
                    pn.Column(self._side_tabs, width=560),
                    sizing_mode="stretch_width",
                ),
                self._lower_tabs,
            ],
        )
