"""The two-command setup: one lock, used by the Makefile and the image, and what is installed is what is locked."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
DEPLOY = ROOT / "deploy" / "requirements.txt"


def pins(path: Path) -> dict[str, str]:
    """``{name: version}`` of a compiled requirements file, for the entries whose marker holds here."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{path.name}: {line} is not an exact pin"
        if req.marker is None or req.marker.evaluate():
            name = canonicalize_name(req.name)
            assert name not in out, f"{path.name}: {name} pinned twice for this interpreter"
            out[name] = spec.version
    return out


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements_of(extra: str, project: dict) -> list[Requirement]:
    """The requirements of ``dse[extra]``, self-references (``dse[a,b]``) expanded."""
    out = []
    for text in project["project"]["optional-dependencies"][extra]:
        req = Requirement(text)
        if canonicalize_name(req.name) == "dse":
            for sub in req.extras:
                out += requirements_of(sub, project)
        else:
            out.append(req)
    return out


def test_lock_pins_every_dependency_within_its_lower_bound():
    project = pyproject()
    lock = pins(LOCK)
    needed = [Requirement(t) for t in project["project"]["dependencies"]] + requirements_of("all", project)
    for req in needed:
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in lock, f"{name} is not in requirements/lock.txt: run `make lock`"
        assert req.specifier.contains(lock[name], prereleases=True), (
            f"{name}=={lock[name]} in the lock does not satisfy pyproject.toml's {req}: run `make lock`"
        )
    assert {"setuptools", "wheel"} <= set(lock), "the build of dse itself is locked too"


def test_image_pins_are_the_lock_pins():
    lock, deploy = pins(LOCK), pins(DEPLOY)
    differ = {n: (v, lock.get(n)) for n, v in deploy.items() if lock.get(n) != v}
    assert not differ, f"deploy/requirements.txt and requirements/lock.txt differ (run `make lock`): {differ}"


def test_makefile_installs_from_the_lock_and_pins_uv():
    text = (ROOT / "Makefile").read_text()
    rule = re.search(r"^\$\(STAMP\): (.*)$", text, flags=re.M)[1].split()
    assert "$(LOCK)" in rule and "pyproject.toml" in rule, "the venv is rebuilt when the lock changes"
    assert "LOCK := requirements/lock.txt" in text
    assert re.search(r'"uv==\$\(UV_VERSION\)"', text) and re.search(r"^UV_VERSION := \d+\.\d+\.\d+$", text, re.M)
    assert "pip sync" in text and "-r $(LOCK)" in text  # uv, and pip when uv cannot be had
    assert "--durations=25" in text


def test_lock_is_one_set_of_versions_for_every_python():
    """``--fork-strategy fewest``: Python 3.12 and 3.13 get the versions this suite ran with."""
    names: dict[str, set[str]] = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            if req.marker is None or "python_full_version" in str(req.marker):
                names.setdefault(canonicalize_name(req.name), set()).add(str(req.specifier))
    forked = {n: v for n, v in names.items() if len(v) > 1}
    assert not forked, f"versions that differ by Python version: {forked}"


def in_project_venv() -> bool:
    return Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()


@pytest.mark.skipif(not in_project_venv(), reason="runs in the venv that `make test` builds")
def test_installed_versions_are_the_locked_versions():
    lock = pins(LOCK)
    env = default_environment()
    wrong = {}
    for name, version in lock.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (installed, version)
    assert not wrong, f"installed vs locked ({env['python_full_version']}): {wrong}; run `make clean test`"
