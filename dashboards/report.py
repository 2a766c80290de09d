"""A static, self-contained HTML report of a results store (``dse report``).

The main views of the dashboard without a server: the clouds of every
feasible design with their Pareto fronts (drawn by the dashboard's own
:class:`~dashboards.explorer.Explorer`, so the same rules hold: aggregation in the
axes' own coordinates, padded ranges, the front in a colour no category
uses, the p10-p90 cycle-life band), the best designs of each front with
labelled columns, input distributions of the front against all feasible
designs as fractions, and the store's provenance.

The page is plain Bokeh (:func:`bokeh.embed.file_html` with
:data:`bokeh.resources.INLINE`): every script and style is inlined, nothing
is fetched from a CDN and no web font is used, so the file works offline and
can be mailed or attached to a paper's supplementary material.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import holoviews as hv
import numpy as np
import pandas as pd

from dashboards.cloud import CloudView
from dashboards.measured import CellsView
from dashboards.style import FRONT_COLOR
from dashboards.tables import FrontTable
from dse.explore import ResultsSource, format_value

__all__ = ["build_report", "write_report", "DEFAULT_VIEWS"]

DEFAULT_VIEWS = (("energy_density", "cycle_life"), ("specific_energy", "cost"), ("specific_energy", "cycle_life"))
STYLE = (
    "<style>body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5em;max-width:1200px}"
    "table.dse{border-collapse:collapse;font-size:13px;margin:0.5em 0}"
    "table.dse th,table.dse td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}"
    "table.dse th{background:#f4f4f4;position:sticky;top:0}"
    "div.scroll{max-height:420px;overflow:auto}</style>"
)


def _html_table(df: pd.DataFrame, source: ResultsSource) -> str:
    """A labelled table: names with units as headers, numbers to three significant figures."""
    head = "".join(
        f"<th>{html.escape(source.label(c) if c in source.attrs or c == 'scenario' else c)}</th>" for c in df.columns
    )
    body = []
    for _, row in df.iterrows():
        cells = [html.escape(format_value(v) if isinstance(v, float | np.floating) else str(v)) for v in row]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<div class='scroll'><table class='dse'><tr>{head}</tr>{''.join(body)}</table></div>"


class ReportView(CloudView, CellsView, FrontTable):
    """What a static view draws with: the dashboard's state, cloud, front, measured cells and front table.

    The parts of :class:`~dashboards.explorer.Explorer` without its widgets,
    whose sliders read every input column.
    """


def _cloud(source: ResultsSource, x: str, y: str, colour: str, cells: pd.DataFrame | None = None):
    """The dashboard's cloud of (x, y) with its front (and measured cells), as a static overlay; and its view."""
    explorer = ReportView(source, x=x, y=y, color=colour, cells=cells)
    xa, ya = explorer.axes()
    # no hover on the cloud: its design-level hover is looked up by the server, and a report has none
    image = explorer.cloud_element(xa, ya, width=700, height=450).opts(tools=[], hover_tooltips=None)
    rows = explorer.front()
    front = explorer.front_element(rows)
    band = explorer._band()
    opts = {
        "xlabel": source.label(x),
        "ylabel": source.label(y),
        "xlim": (xa.lo, xa.hi),
        "ylim": (ya.lo, ya.hi),
        "width": 760,
        "height": 480,
        "title": f"{source.label(y)} vs {source.label(x)}: {rows.size} designs on "
        "the front (red; hover for values)" + ("; ★ measured cells" if cells is not None else ""),
    }
    if xa.log:
        opts["xticks"] = xa.ticks(8)
    if ya.log:
        opts["yticks"] = ya.ticks(8)
    return (image * band * front * explorer.cells_element()).opts(hv.opts.Overlay(**opts)), explorer


def _cells_table(cells: pd.DataFrame, source: ResultsSource) -> str:
    """The measured cells: measured life and energy against the model's life and its p10-p90 band."""
    df = pd.DataFrame(
        {
            "cell": cells["cell"].astype(str),
            "measured life [cycles to 80 %]": [
                format_value(float(v)) if r else f"≥ {format_value(float(v))}"
                for v, r in zip(cells["measured_life"], cells["life_reached"], strict=True)
            ],
            "predicted life [cycles]": cells["cycle_life"].astype(float),
            "predicted p10": cells["cycle_life_p10"].astype(float),
            "predicted p90": cells["cycle_life_p90"].astype(float),
            "measured energy [Wh]": cells["measured_energy"].astype(float),
            "measured specific energy [Wh/kg]": cells.get(
                "measured_specific_energy", pd.Series(np.nan, index=cells.index)
            ).astype(float),
            "model specific energy [Wh/kg]": cells["specific_energy"].astype(float),
            "measured energy density [Wh/L]": cells.get(
                "measured_energy_density", pd.Series(np.nan, index=cells.index)
            ).astype(float),
            "model energy density [Wh/L]": cells.get("energy_density", pd.Series(np.nan, index=cells.index)).astype(
                float
            ),
        }
    )
    excluded = cells.attrs.get("excluded", [])
    more = ("<p>Excluded: " + "; ".join(html.escape(f"{n}: {why}") for n, why in excluded) + "</p>") if excluded else ""
    return (
        "<h2>Measured cells</h2><p>Drawn as black-edged stars at their measured values (cycle life: cycles "
        "to 80 %; specific energy and energy density: measured where the sidecar gives cell_mass and "
        "cell_volume, else the model's); a cell with no value on a view's axes is not drawn there.</p>"
        + _html_table(df, source)
        + more
    )


def build_report(source: ResultsSource, views=DEFAULT_VIEWS, top: int = 15, cells: pd.DataFrame | None = None):
    """The report as a Bokeh layout (:func:`write_report` writes it); ``cells`` from :func:`dse.cells.cells_table`."""
    from bokeh.layouts import column, gridplot
    from bokeh.models import Div

    views = [(x, y) for x, y in views if x in source.outputs and y in source.outputs]
    colour = source.categorical[0] if source.categorical else source.outputs[0]
    feasible_rows = source.feasible_per_scenario
    rows = []
    for name, ds in source.datasets.items():
        n = int(ds.attrs.get("dse_n_designs", 0))
        feasible = feasible_rows[name]
        rows.append(
            {
                "scenario": name,
                "kind": ds.attrs.get("dse_kind"),
                "designs": n,
                "feasible": feasible,
                "feasible %": f"{100 * feasible / n:.1f}" if n else "0",
                "swept inputs": ", ".join(d for d in ds.attrs.get("dse_dims", []))
                if ds.attrs.get("dse_kind") == "grid"
                else "sampled",
            }
        )
    attrs = source.results.attrs
    parts = [
        Div(
            text=STYLE + f"<h1>dse report · {html.escape(str(source.title))}</h1>"
            f"<p>{source.n_designs:,} designs, {len(source):,} feasible, in {len(rows)} scenario(s). Store "
            f"<code>{html.escape(source.path)}</code> written by dse {html.escape(str(attrs.get('dse_version')))} "
            f"on {html.escape(str(attrs.get('created')))}; report generated "
            f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}.</p>"
            "<p>Clouds show every feasible design, aggregated per pixel in the axes' own coordinates "
            "(log axes bin the logarithm, labelled in the quantity's units); red points are the exact Pareto "
            "front of the two plotted objectives, with the p10–p90 cycle-life band where cycle life is an "
            "axis. Colour: " + html.escape(source.label(colour)) + ".</p>" + _html_table(pd.DataFrame(rows), source),
            sizing_mode="stretch_width",
        )
    ]
    first = None
    for x, y in views:
        overlay, explorer = _cloud(source, x, y, colour, cells)
        first = first or explorer
        best = explorer.front_table().head(top)
        note = f"<p>{html.escape(explorer.cells_note())}</p>" if cells is not None else ""
        gaps = explorer.cells_frame() if cells is not None else pd.DataFrame()
        if len(gaps):
            note += (
                "<p>Each cell's nearest front design at least as good on both axes, and what it changes:</p><ul>"
                + "".join(
                    f"<li><b>{html.escape(r.cell)}</b> → {html.escape(r.front_gap_text)}; it differs in "
                    f"{html.escape(r.differs_text)}</li>"
                    for r in gaps.itertuples()
                )
                + "</ul>"
            )
        parts += [
            hv.render(overlay, backend="bokeh"),
            Div(
                text=f"{note}<p>{html.escape(explorer.hypervolume_text())}</p>"
                f"<b>Front: the {top} best by {html.escape(source.label(x))}</b>"
                + _html_table(best.rename(columns={"design": "design"}), source),
                sizing_mode="stretch_width",
            ),
        ]
    if first is not None:
        on_front = first.front()
        plots = []
        for name in source.inputs[:12]:
            title = source.label(name)
            frames = [
                (label, c / max(c.sum(), 1))
                for label, c in (
                    ("all feasible", source.counts_all(name)),
                    ("front", source.counts_at(name, on_front)),
                )
            ]
            if name in source.categorical:
                df = pd.concat(
                    [
                        pd.DataFrame({"value": source.categories[name], "set": label, "fraction": f})
                        for label, f in frames
                    ]
                )
                plot = hv.Bars(df, kdims=["value", "set"], vdims=["fraction"]).opts(
                    title=title,
                    width=370,
                    height=250,
                    xrotation=30,
                    xlabel="",
                    show_legend=False,
                    color=hv.dim("set").categorize({"all feasible": "#bbbbbb", "front": FRONT_COLOR}),
                )
            else:
                edges = source.edges(name)
                plot = hv.Overlay(
                    [
                        hv.Histogram((edges, f), kdims=[hv.Dimension(name, label=title)], vdims=["fraction"]).opts(
                            alpha=0.5 if label == "all feasible" else 0.7,
                            color="#bbbbbb" if label == "all feasible" else FRONT_COLOR,
                        )
                        for label, f in frames
                    ]
                ).opts(hv.opts.Histogram(width=370, height=250, title=title))
            plots.append(hv.render(plot, backend="bokeh"))
        x, y = views[0]
        parts += [
            Div(
                text=f"<b>Inputs of the front of {html.escape(source.label(y))} vs "
                f"{html.escape(source.label(x))} (red) vs all feasible designs (grey), as fractions of each "
                "set</b>",
                sizing_mode="stretch_width",
            ),
            gridplot(plots, ncols=3, toolbar_location=None),
        ]
    if cells is not None:
        parts.append(Div(text=_cells_table(cells, source), sizing_mode="stretch_width"))
    provenance = pd.DataFrame(
        {"attribute": k, "value": str(attrs.get(k, ""))[:80]}
        for k in (
            "dse_version",
            "dse_spec_hash",
            "dse_catalogue_hash",
            "dse_ce_coefficients_hash",
            "dse_models",
            "dse_git_commit",
            "created",
        )
    )
    parts.append(
        Div(
            text="<h2>Provenance</h2>"
            + _html_table(provenance, source)
            + f"<pre>{html.escape(attrs.get('dse_spec', ''))}</pre>",
            sizing_mode="stretch_width",
        )
    )
    return column(*parts, sizing_mode="stretch_width")


def write_report(source: ResultsSource, path: str, cells: pd.DataFrame | None = None) -> None:
    """Write a self-contained HTML file (every resource inline, no server, no network)."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    text = file_html(build_report(source, cells=cells), INLINE, title=f"dse report · {source.title}")
    # Panel, once it has drawn a table in this process, adds its extensions' stylesheets (CDN links) to
    # every Bokeh bundle; the report uses only Bokeh's own models, whose code and styles are inline
    text = re.sub(r"""<link[^>]*\bhref=["']?(?:https?:)?//[^>]*>\s*""", "", text)
    text = re.sub(r"""<script[^>]*\bsrc=["']?(?:https?:)?//[^>]*>\s*</script>\s*""", "", text)
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
