"""The sidebar: widgets that set the filters and constraints (and show them, whoever set them), and exports."""

from __future__ import annotations

import math
from collections.abc import Mapping

import panel as pn
import param

from dashboards.state import ExplorerState


class Controls(ExplorerState):
    """Filter and constraint widgets kept in step with the state, the buttons, and the sidebar they make."""

    def _build_controls(self) -> None:
        """The filter and constraint widgets, the export and reset buttons."""
        src = self.source
        self._filter_widgets: dict[str, pn.widgets.Widget] = {}
        for name in src.categorical:
            options = src.categories[name]
            w = pn.widgets.MultiChoice(
                label=src.label(name), options=options, value=list(options), sizing_mode="stretch_width"
            )
            w.param.watch(lambda e, n=name: self._set_rule("filters", n, e.new), "value")
            self._filter_widgets[name] = w
        for name, (lo, hi) in src.ranges.items():
            if not hi > lo:
                continue
            w = pn.widgets.RangeSlider(
                label=src.label(name),
                start=lo,
                end=hi,
                value=(lo, hi),
                step=(hi - lo) / 200,
                sizing_mode="stretch_width",
            )
            w.param.watch(lambda e, n=name: self._set_rule("filters", n, e.new), "value_throttled")
            self._filter_widgets[name] = w
        self._constraint_widgets: dict[str, pn.widgets.Widget] = {}
        for name in self.constraint_outputs():
            lo, hi = src.extent(name)
            if not hi > lo:
                continue
            # a RangeSlider: Panel 1.9's EditableRangeSlider is never freed, nor is what its callbacks reach
            # (a whole session per page load)
            w = pn.widgets.RangeSlider(
                label=src.label(name),
                start=lo,
                end=hi,
                value=(lo, hi),
                step=_step(lo, hi),
                format=_slider_format(lo, hi),
                sizing_mode="stretch_width",
            )
            w.param.watch(lambda e, n=name: self._set_rule("constraints", n, e.new), "value_throttled")
            self._constraint_widgets[name] = w
        self._show_state()
        self._export_front = pn.widgets.FileDownload(
            callback=self._front_csv, filename="pareto_front.csv", label="Export front (CSV)", color="primary"
        )
        self._export_selection = pn.widgets.FileDownload(
            callback=self._selection_csv, filename="selection.csv", label="Export selection (CSV)"
        )
        self._pin_button = pn.widgets.Button(label="Pin design", color="success")
        self._pin_button.on_click(lambda e: self.pin())
        self._clear_pins = pn.widgets.Button(label="Clear pins")
        self._clear_pins.on_click(lambda e: setattr(self, "pinned", []))
        self._clear_selection = pn.widgets.Button(label="Clear box selection")
        self._clear_selection.on_click(lambda e: setattr(self, "selection", None))
        self._reset = pn.widgets.Button(label="Reset filters and constraints")
        self._reset.on_click(lambda e: self.reset())

    def reset(self) -> None:
        """Drop every filter and constraint."""
        with self.batched():
            self.param.update(filters={}, constraints={})

    def constraint_outputs(self) -> list[str]:
        """Outputs offered as constraints: the objectives, then the cycle-life band's lower end."""
        names = [n for n in self.source.objectives if n in self.source.outputs]
        return names + [n for n in ("cycle_life_p10", "cost_per_cycle") if n in self.source.outputs]

    def _set_rule(self, kind: str, name: str, value) -> None:
        """A widget moved: store its rule (or drop it when the widget shows everything)."""
        if self._showing:
            return
        rules = dict(getattr(self, kind))
        if name in self.source.categorical:
            names = self.source.categories[name]
            chosen = [n for n in names if n in set(map(str, value))]
            full = chosen == names
            rule = chosen
        else:
            lo, hi = self.source.extent(name)
            a, b = float(value[0]), float(value[1])
            full = a <= lo and b >= hi
            rule = [None if a <= lo else a, None if b >= hi else b] if kind == "constraints" else [a, b]
        if full:
            rules.pop(name, None)
        else:
            rules[name] = rule
        with self.batched():
            setattr(self, kind, rules)

    def _show_state(self, *events) -> None:
        """Set every filter and constraint widget to what the state says (from a URL too)."""
        self._showing = True
        try:
            for kind, widgets in (("filters", self._filter_widgets), ("constraints", self._constraint_widgets)):
                rules = getattr(self, kind) if isinstance(getattr(self, kind), Mapping) else {}
                for name, w in widgets.items():
                    rule = rules.get(name)
                    if name in self.source.categorical:
                        allowed = self.source.allowed_codes(name, rule)
                        names = self.source.categories[name]
                        value = names if allowed is None else [n for n, a in zip(names, allowed, strict=True) if a]
                    else:
                        lo, hi = w.start, w.end
                        a, b = rule if isinstance(rule, list | tuple) and len(rule) == 2 else (None, None)
                        value = (_clip(a, lo, hi, lo), _clip(b, lo, hi, hi))
                    if w.value != value:
                        w.value = value
                    if "value_throttled" in w.param and w.value_throttled != value:
                        # the browser sends value_throttled only when it changes: keep it in step
                        with param.edit_constant(w):
                            w.value_throttled = value
        finally:
            self._showing = False

    def controls(self):
        """The sidebar: the view (axes, colour, front), then the output constraints, the input filters and the buttons."""
        shown = ["x", "y", "color", "front_scope"]
        if len(self.param.front_on.objects) > 1:
            shown.append("front_on")
        axes = pn.Param(
            self.param,
            parameters=shown,
            show_name=False,
            widgets={
                "front_scope": pn.widgets.RadioButtonGroup,
                "front_on": {"type": pn.widgets.RadioButtonGroup, "name": "Front on cycle life"},
            },
        )
        return pn.Column(
            "### View",
            axes,
            "### Output constraints",
            *self._constraint_widgets.values(),
            "### Filters",
            *self._filter_widgets.values(),
            self._reset,
            "### Export",
            self._export_front,
            self._export_selection,
            self._clear_selection,
            sizing_mode="stretch_width",
        )


def _clip(v, lo: float, hi: float, default: float) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return min(max(f, lo), hi) if math.isfinite(f) else default


def _step(lo: float, hi: float) -> float:
    raw = (hi - lo) / 200
    return float(10.0 ** math.floor(math.log10(raw))) if raw > 0 else 1.0


def _slider_format(lo: float, hi: float) -> str:
    step = _step(lo, hi)
    decimals = max(0, -math.floor(math.log10(step)))
    return "0,0" if decimals == 0 else "0." + "0" * min(decimals, 6)
