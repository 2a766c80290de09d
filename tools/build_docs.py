"""Regenerate the generated sections of docs/*.md from the models.

Each generated section sits between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` markers; ``tests/test_docs.py`` fails when a section is
out of date. Run ``python tools/build_docs.py`` after changing a model.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dse.evaluate import evaluate_design  # noqa: E402
from dse.spec import load_design  # noqa: E402


def seed001_table() -> str:
    loadings = (2.0, 3.0, 6.0, 10.0)
    head = "| case | " + " | ".join(f"{q:g} mAh/cm² Wh/kg / Wh/L" for q in loadings) + " |"
    lines = [head, "|---" * (len(loadings) + 1) + "|"]
    for case in range(1, 8):
        base = load_design(ROOT / "examples" / "seed001" / f"case{case}.yaml")
        cells = []
        for q in loadings:
            d = copy.deepcopy(base)
            d.inputs["cathode_loading"] = q
            o = evaluate_design(d).outputs
            cells.append(f"{o['specific_energy_stack']:.0f} / {o['energy_density_stack']:.0f}")
        name = base.name.split(":", 1)[-1].strip()
        lines.append(f"| {case}: {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def feasibility_table() -> str:
    from dse.models.feasibility import REASONS

    lines = ["| code (bit) | name | meaning |", "|---|---|---|"]
    lines += [f"| {bit} | `{name}` | {meaning} |" for bit, (name, meaning) in REASONS.items()]
    return "\n".join(lines)


def vocabulary_tables() -> str:
    from dse.vocabulary import INPUTS, OUTPUTS

    lines = [
        "### Inputs",
        "",
        "| name | units | default | typical | physical range | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for v in INPUTS.values():
        typical = f"{v.typical[0]:g}–{v.typical[1]:g}" if v.typical else f"catalogue: {v.catalogue}"
        bounds = ""
        if v.bounds:
            lo = "(" if v.open_bounds[0] else "["
            hi = ")" if v.open_bounds[1] else "]"
            bounds = f"{lo}{v.bounds[0]:g}, {v.bounds[1]:g}{hi}"
        meaning = v.long_name + (f". {v.description}" if v.description else "")
        lines.append(f"| `{v.name}` | {v.units} | {v.default} | {typical} | {bounds} | {meaning} |")
    lines += ["", "### Outputs", "", "| name | units | sense | meaning |", "|---|---|---|---|"]
    for v in OUTPUTS.values():
        lines.append(f"| `{v.name}` | {v.units} | {v.sense or ''} | {v.long_name} |")
    return "\n".join(lines)


SECTIONS = {
    "docs/seed001.md": {"seed001-table": seed001_table},
    "docs/feasibility.md": {"feasibility-table": feasibility_table},
    "docs/vocabulary.md": {"vocabulary-tables": vocabulary_tables},
}


def render(text: str, sections: dict) -> str:
    for name, fn in sections.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"section {name} not found")
        body = fn()
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> None:
    for rel, sections in SECTIONS.items():
        path = ROOT / rel
        path.write_text(render(path.read_text(), sections))
        print(f"updated {rel}")


if __name__ == "__main__":
    main()
