"""The generated parts of docs/ are up to date with the models."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def test_generated_doc_sections_are_current():
    spec = importlib.util.spec_from_file_location("build_docs", ROOT / "tools" / "build_docs.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for rel, sections in build.SECTIONS.items():
        text = (ROOT / rel).read_text()
        assert build.render(text, sections) == text, f"{rel} is stale: run python tools/build_docs.py"


def test_readme_quick_start_is_two_commands():
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_response_page_is_current():
    import re
    import sys

    spec = importlib.util.spec_from_file_location("build_response", ROOT / "tools" / "build_response.py")
    build = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = build  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(build)
        text = build.render_markdown()
    finally:
        sys.modules.pop(spec.name, None)
    assert text == (ROOT / "docs" / "response.md").read_text(), (
        "docs/response.md is stale: run python tools/build_response.py"
    )
    figures = re.findall(r"!\[[^]]*\]\(([^)]+\.png)\)", text)
    assert figures
    missing = [f for f in figures if not (ROOT / "docs" / f).is_file()]
    assert not missing, f"figures missing (run python tools/build_response.py): {missing}"


def test_architecture_names_every_module():
    """docs/architecture.md stays the map of the tree: every module of dse and dashboards is named in it."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for path in sorted((ROOT / "dse").rglob("*.py")) + sorted((ROOT / "dashboards").glob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        rel = path.relative_to(ROOT / "dse" if path.is_relative_to(ROOT / "dse") else ROOT).as_posix()
        if rel not in text:
            missing.append(rel)
    assert not missing, f"docs/architecture.md does not name {missing}"
