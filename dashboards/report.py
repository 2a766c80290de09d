"""A static, self-contained HTML report of a results store (``dse report``).

The main views of the dashboard without a server: datashaded clouds (as
embedded images) with their Pareto fronts, the best designs of each front,
input distributions of the front against all feasible designs, and the
store's provenance. All JavaScript and data are inlined, so the file can be
mailed or attached to a paper's supplementary material.
"""

from __future__ import annotations

import datetime as dt
import html

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

from dashboards.app import ResultsSource

__all__ = ["build_report", "write_report", "DEFAULT_VIEWS"]

DEFAULT_VIEWS = (("energy_density", "cycle_life"), ("specific_energy", "cost"), ("specific_energy", "cycle_life"))


def _cloud(source: ResultsSource, x: str, y: str, colour: str):
    import datashader as ds
    from holoviews.operation.datashader import datashade, dynspread

    table = source.table
    points = hv.Points(table[[x, y, colour]], kdims=[x, y], vdims=[colour])
    if colour in source.categorical:
        shaded = dynspread(datashade(points, aggregator=ds.count_cat(colour), dynamic=False, width=700, height=450),
                           threshold=0.6, dynamic=False)
    else:
        shaded = dynspread(datashade(points, aggregator=ds.mean(colour), cmap="viridis", dynamic=False,
                                     width=700, height=450), threshold=0.6, dynamic=False)
    senses = {x: source.objectives.get(x, "max"), y: source.objectives.get(y, "max")}
    rows = source.front(np.ones(len(table), dtype=bool), senses)
    front = table.iloc[rows]
    hover = [c for c in ["scenario", *source.inputs[:8], x, y] if c in front]
    front_plot = hv.Points(front[hover], kdims=[x, y], vdims=[c for c in hover if c not in (x, y)]).opts(
        color="#d62728", size=6, line_color="white", tools=["hover"])
    plot = (shaded * front_plot).opts(
        hv.opts.Overlay(xlabel=source.label(x), ylabel=source.label(y), width=760, height=480,
                        title=f"{source.label(y)} vs {source.label(x)}: {len(front)} designs on the front"))
    return plot, front


def build_report(source: ResultsSource, views=DEFAULT_VIEWS, top: int = 15) -> pn.Column:
    """The report as a Panel layout (``.save(path, embed=True)`` writes it)."""
    views = [(x, y) for x, y in views if x in source.table and y in source.table]
    colour = source.categorical[0] if source.categorical else source.outputs[0]
    rows = []
    for name, ds in source.results.datasets.items():
        n = int(ds.attrs.get("dse_n_designs", 0))
        feasible = int((source.table["scenario"] == name).sum())
        rows.append({"scenario": name, "kind": ds.attrs.get("dse_kind"), "designs": n, "feasible": feasible,
                     "feasible %": round(100 * feasible / n, 1) if n else 0.0,
                     "swept inputs": ", ".join(d for d in ds.attrs.get("dse_dims", []))
                     if ds.attrs.get("dse_kind") == "grid" else "sampled"})
    summary = pd.DataFrame(rows)
    attrs = source.results.attrs
    header = pn.pane.Markdown(
        f"# dse report · {html.escape(str(source.title))}\n\n"
        f"{source.n_designs:,} designs, {len(source.table):,} feasible, in {len(rows)} scenario(s). "
        f"Store `{html.escape(source.path)}` written by dse {attrs.get('dse_version')} on {attrs.get('created')}; "
        f"report generated {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}.\n\n"
        "Clouds show every feasible design (Datashader images); red points are the exact Pareto front of "
        "the two plotted objectives (hover for inputs).", sizing_mode="stretch_width")
    parts: list = [header, pn.pane.DataFrame(summary, index=False)]
    for x, y in views:
        plot, front = _cloud(source, x, y, colour)
        best = front.sort_values(x, ascending=source.objectives.get(x, "max") == "min").head(top)
        cols = [c for c in ["scenario", *source.inputs, x, y] if c in best]
        parts += [pn.pane.HoloViews(plot), pn.pane.Markdown(f"**Front: {top} best by {source.label(x)}**"),
                  pn.pane.DataFrame(best[cols], index=False, float_format=lambda v: f"{v:.4g}",
                                    sizing_mode="stretch_width")]
    # input distributions of the first front vs all feasible designs
    if views:
        x, y = views[0]
        senses = {x: source.objectives.get(x, "max"), y: source.objectives.get(y, "max")}
        front_rows = source.front(np.ones(len(source.table), dtype=bool), senses)
        hists = []
        for name in source.numeric_inputs[:9]:
            values = source.table[name].to_numpy()
            edges = np.histogram_bin_edges(values, bins=25)
            allh = hv.Histogram(np.histogram(values, edges, density=True), kdims=[name]).opts(alpha=0.4, color="grey")
            fronth = hv.Histogram(np.histogram(values[front_rows], edges, density=True), kdims=[name]).opts(
                alpha=0.7, color="#d62728")
            hists.append((allh * fronth).opts(hv.opts.Histogram(width=300, height=200, title=source.label(name))))
        if hists:
            parts += [pn.pane.Markdown(f"**Inputs of the front of {source.label(y)} vs {source.label(x)} (red) "
                                       "vs all feasible designs (grey), as densities**"),
                      pn.pane.HoloViews(hv.Layout(hists).cols(3))]
    spec_text = attrs.get("dse_spec", "")
    parts += [pn.pane.Markdown("## Provenance"),
              pn.pane.DataFrame(pd.DataFrame({"attribute": k, "value": str(attrs.get(k, ""))[:80]} for k in (
                  "dse_version", "dse_spec_hash", "dse_catalogue_hash", "dse_ce_coefficients_hash", "dse_models",
                  "dse_git_commit", "created")), index=False),
              pn.pane.Markdown(f"```yaml\n{spec_text}\n```", sizing_mode="stretch_width")]
    return pn.Column(*parts, sizing_mode="stretch_width", max_width=1200)


def write_report(source: ResultsSource, path: str) -> None:
    """Write a self-contained HTML file (inline resources, no server)."""
    from bokeh.resources import INLINE

    build_report(source).save(path, embed=True, resources=INLINE, title=f"dse report · {source.title}")
