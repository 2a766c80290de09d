"""Shared fixtures: catalogue, model chain and seed 001 designs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from dse.chain import ModelChain
from dse.evaluate import evaluate_design
from dse.spec import load_design

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def chain() -> ModelChain:
    return ModelChain()


def seed001(case: int, **inputs):
    """Evaluate seed 001 Table 1 case ``case`` with some inputs changed."""
    design = copy.deepcopy(_seed001_design(case))
    design.inputs.update(inputs)
    return evaluate_design(design)


_CACHE: dict[int, object] = {}


def _seed001_design(case: int):
    if case not in _CACHE:
        _CACHE[case] = load_design(EXAMPLES / "seed001" / f"case{case}.yaml")
    return _CACHE[case]
