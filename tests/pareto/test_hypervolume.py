"""Hypervolume (moocore) against an independent cell-decomposition oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from dse.errors import SpecError
from dse.hypervolume import default_reference, hypervolume, hypervolume_contributions


def oracle(points: np.ndarray, ref: np.ndarray) -> float:
    """Volume dominated by points (maximisation) above ref, by summing the cells of the coordinate grid."""
    pts = points[(points > ref).all(axis=1)]
    if not len(pts):
        return 0.0
    edges = [np.unique(np.concatenate([[r], pts[:, j]])) for j, r in enumerate(ref)]
    total = 0.0
    for cell in itertools.product(*[range(len(e) - 1) for e in edges]):
        upper = np.array([edges[j][i + 1] for j, i in enumerate(cell)])
        if (pts >= upper).all(axis=1).any():
            total += float(np.prod([edges[j][i + 1] - edges[j][i] for j, i in enumerate(cell)]))
    return total


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_hypervolume_matches_oracle_with_mixed_senses(k, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 10, size=(12, k)).astype(float)  # integer values: ties and duplicates
    senses = ["max", "min", "max"][:k]
    names = [f"o{j}" for j in range(k)]
    ref = {n: (-1.0 if s == "max" else 11.0) for n, s in zip(names, senses, strict=True)}
    df = pd.DataFrame(x, columns=names)
    flip = np.array([1.0 if s == "max" else -1.0 for s in senses])
    expect = oracle(x * flip, np.array(list(ref.values())) * flip)
    assert hypervolume(df, names, senses, ref) == pytest.approx(expect, rel=1e-12)


def test_rows_with_nan_and_points_beyond_the_reference_add_nothing():
    df = pd.DataFrame({"a": [3.0, np.nan, -5.0], "b": [2.0, 9.0, 9.0]})
    assert hypervolume(df, ["a", "b"], ["max", "max"], [0.0, 0.0]) == 6.0


def test_default_reference_is_the_nadir_and_empty_front_is_zero():
    df = pd.DataFrame({"e": [400.0, 350.0], "c": [100.0, 80.0]})
    assert default_reference(df, ["e", "c"], ["max", "min"]) == {"e": 350.0, "c": 100.0}
    assert hypervolume(df, ["e", "c"], ["max", "min"]) == 0.0  # each member sits on the nadir in one objective
    assert hypervolume(df.iloc[:0], ["e", "c"], ["max", "min"], [0.0, 200.0]) == 0.0


def test_contributions_sum_to_the_loss_of_each_member():
    df = pd.DataFrame({"e": [400.0, 350.0, 300.0], "l": [500.0, 900.0, 1000.0]})
    contributions = hypervolume_contributions(df, ["e", "l"], ["max", "max"], [0.0, 0.0])
    total = hypervolume(df, ["e", "l"], ["max", "max"], [0.0, 0.0])
    for i in range(3):
        rest = df.drop(index=i)
        assert contributions[i] == pytest.approx(total - hypervolume(rest, ["e", "l"], ["max", "max"], [0.0, 0.0]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((["e"], ["max", "min"]), "give one sense per objective"),
        ((["x"], ["max"]), "'x' is no column"),
        ((["e"], ["up"]), "is not 'max' or 'min'"),
    ],
)
def test_bad_arguments_are_one_line_errors(args, message):
    df = pd.DataFrame({"e": [1.0]})
    with pytest.raises(SpecError, match=message):
        hypervolume(df, *args, [0.0])


def test_reference_must_name_every_objective():
    df = pd.DataFrame({"e": [1.0], "c": [1.0]})
    with pytest.raises(SpecError, match="no value for 'c'"):
        hypervolume(df, ["e", "c"], ["max", "min"], {"e": 0.0})
