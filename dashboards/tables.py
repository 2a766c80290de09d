"""The front as a table (with its header and hypervolume), and the CSV exports of the front and the selection."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import panel as pn
import param

from dashboards.state import ExplorerState
from dse.explore import significant_format

FRONT_TABLE_MAX = 2000


class FrontTable(ExplorerState):
    """The front table (one persistent Tabulator), its header, and the exports."""

    def _build_front_table(self) -> None:
        """The front's Tabulator, filled with the current front; a click shows its design."""
        self._front_tabulator = pn.widgets.Tabulator(
            pd.DataFrame(),
            show_index=False,
            disabled=True,
            selectable=1,
            height=430,
            sizing_mode="stretch_width",
            header_align="center",
            frozen_columns=["design"],
        )
        self._front_tabulator.on_click(self._on_front_click)
        self._update_front_table()

    def front_columns(self, rows: np.ndarray) -> list[str]:
        """The front table's columns: plotted objectives, other objectives, varying inputs, the band."""
        objectives = list(dict.fromkeys([self.x, self.y, *self.front_objectives()]))
        inputs = []
        for name in self.source.inputs:
            values = self.source.values(name, rows)
            if values.size and (values != values[0]).any():
                inputs.append(name)
        extra = [
            n for n in ("cycle_life_p10", "cycle_life_p90") if n in self.source.outputs and "cycle_life" in objectives
        ]
        return [*objectives, *inputs, *extra]

    def front_table(self) -> pd.DataFrame:
        """The current front: design name, plotted objectives first, then inputs that differ; best x first."""
        rows = self.front()
        df = self.source.frame(rows, self.front_columns(rows))
        df.insert(0, "design", self.source.design_labels(rows))
        ascending = self.source.objectives.get(self.x, "max") == "min"
        return df.sort_values(self.x, ascending=ascending, kind="stable")

    def selection_table(self) -> pd.DataFrame:
        """The box-selected designs as a table (what the selection's CSV export holds)."""
        keep = np.zeros(len(self.source), dtype=bool)
        keep[self.selected_rows()] = True
        return self.source.table(keep)

    def _front_csv(self) -> io.StringIO:
        rows = self.front()
        df = self.source.table(np.isin(np.arange(len(self.source)), rows))
        return io.StringIO(df.to_csv(index=False))

    def _selection_csv(self) -> io.StringIO:
        return io.StringIO(self.selection_table().to_csv(index=False))

    @param.depends("filters", "constraints", "x", "y", "front_scope", "front_on", watch=True)
    def _update_front_table(self) -> None:
        """Put the current front into the (one, persistent) front table."""
        df = self.front_table()
        shown = df.head(FRONT_TABLE_MAX)
        src = self.source
        from bokeh.models.widgets.tables import NumberFormatter

        self._front_rows = shown.index.to_numpy()
        self._front_tabulator.param.update(
            value=shown.reset_index(drop=True),
            titles={c: src.label(c) for c in shown.columns if c != "design"},
            formatters={
                c: NumberFormatter(format=significant_format(shown[c].to_numpy()))
                for c in shown.columns
                if c != "design" and c not in src.categorical
            },
        )

    def _on_front_click(self, event) -> None:
        if event.row is not None and 0 <= event.row < len(self._front_rows):
            self.detail = int(self._front_rows[event.row])

    @param.depends("filters", "constraints", "x", "y", "front_scope", "front_on")
    def front_header(self):
        """The front's heading: its size, the filtered designs, the cycle-life quantile it is taken on, its hypervolume."""
        n_front = self.front().size
        more = f" (first {FRONT_TABLE_MAX:,} in the table)" if n_front > FRONT_TABLE_MAX else ""
        on = "" if self.front_on == "median" else f" on {self.front_on} cycle life"
        return pn.pane.Markdown(
            f"**{n_front:,} designs on the front{on}** of {int(self.mask().sum()):,} "
            f"filtered{more}\n\n{self.hypervolume_text()}"
        )

    def front_summary(self):
        """How many designs are on the front, and the front as a sortable table."""
        return pn.Column(self.front_header(), self._front_tabulator, sizing_mode="stretch_width")
