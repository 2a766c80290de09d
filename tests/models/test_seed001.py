"""Reference tests: seed 001 (Menkin et al.) section 2, Table 1 and Fig. 2-3.

Source: ../shared/seeds/001_*.txt, lines cited per test; notes in
../shared/notes/seed-001.md §2. The paper gives the inputs of L52-L76; what it
leaves out (average voltage, separator thickness, single/double-sided
electrodes, charged-state volume, first-cycle loss) is fixed in
examples/seed001/*.yaml and listed in docs/seed001.md. Each numeric tolerance
below says which of those assumptions it absorbs.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import seed001

LOADINGS = (2.0, 3.0, 4.0, 6.0, 8.0, 10.0)
CASES = range(1, 8)


def se(ev):
    return ev.outputs["specific_energy_stack"]


def ed(ev):
    return ev.outputs["energy_density_stack"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("loading", (3.0, 6.0))
def test_all_cases_evaluate_feasibly_at_stated_loadings(case, loading):
    ev = seed001(case, cathode_loading=loading)
    assert ev.feasible
    assert 150 < se(ev) < 600 and 400 < ed(ev) < 1500


def test_anode_free_4um_cu_at_6_mah_exceeds_450_whkg_and_is_near_1200_whl():
    # L84: "exceeds 450 Wh kg-1 and 1200 Wh L-1 at 6 mAh cm-2" (case not named).
    # Tolerance on 1200 Wh/L: +-5 %, the spread from the unstated average voltage
    # (3.75-3.85 V, +-1.3 %) and separator thickness (16-25 um, +-3 % of the stack).
    ev = seed001(4, cathode_loading=6.0)
    assert se(ev) > 450.0
    assert ed(ev) == pytest.approx(1200.0, rel=0.05)


def test_independent_rebuild_of_case4_from_the_stated_inputs():
    # Hand calculation with the seed 001 recipe (notes §2.8, double-sided, dense
    # plated Li), independent of dse's code: per cm^2 at 6 mAh/cm^2.
    q, v = 6.0, 3.8
    cam = q / 175 * 1000  # mg
    cat = cam / 0.955
    t_cat = cat / 2.7 * 10  # um
    t_sep, t_li = 20.0, q * 4.849
    pores = 0.31 * t_cat + 0.46 * t_sep
    mass = cat + 0.1 * 0.95 * 0.54 * t_sep + 0.1 * 1.24 * pores + 0.1 * 2.71 * 7.5 + 0.1 * 8.96 * 2.0
    thickness = 7.5 + t_cat + t_sep + t_li + 2.0
    ev = seed001(4, cathode_loading=q)
    # 0.2 %: the hand calculation rounds the Li thickness per mAh/cm^2 to 4 digits
    assert se(ev) == pytest.approx(1000 * q * v / mass, rel=2e-3)
    assert ed(ev) == pytest.approx(1e4 * q * v / thickness, rel=2e-3)


@pytest.mark.parametrize("loading", (3.0, 6.0))
def test_graphite_lib_is_worst_in_both_metrics(loading):
    # L82: "LIB with graphite anode ... lowest" in gravimetric and volumetric
    lib = seed001(1, cathode_loading=loading)
    for case in range(2, 8):
        other = seed001(case, cathode_loading=loading)
        assert se(lib) < se(other) and ed(lib) < ed(other)


@pytest.mark.parametrize("loading", (3.0, 6.0))
def test_li_foil_improves_most_without_copper(loading):
    # L82: LMB "a significant improvement ... especially in cases without a Cu collector"
    lib, li_no_cu, li_cu = (seed001(c, cathode_loading=loading) for c in (1, 2, 3))
    assert se(li_no_cu) > se(li_cu) > se(lib)
    assert ed(li_no_cu) > ed(li_cu) > ed(lib)


@pytest.mark.parametrize("case", (2, 3))
def test_li_thickness_linear_in_gravimetric_stronger_in_volumetric(case):
    # L82: "a linear relationship for the gravimetric density and a more
    # pronounced effect for the volumetric density" (Li 25-100 um, L63)
    t = np.linspace(25, 100, 7)
    g = np.array([se(seed001(case, cathode_loading=3.0, metal_excess=x)) for x in t])
    v = np.array([ed(seed001(case, cathode_loading=3.0, metal_excess=x)) for x in t])
    assert np.all(np.diff(g) < 0) and np.all(np.diff(v) < 0)
    fit = np.polyfit(t, g, 1)
    r2 = 1 - np.sum((g - np.polyval(fit, t)) ** 2) / np.sum((g - g.mean()) ** 2)
    assert r2 > 0.99  # "linear": Li is light, mass grows by only ~25 % over the range
    assert (v[0] - v[-1]) / v[0] > 1.5 * (g[0] - g[-1]) / g[0]


@pytest.mark.parametrize("loading", (3.0, 6.0))
def test_removing_li_gives_little_gravimetric_but_clear_volumetric_gain(loading):
    # L82/L90: anode-free gives "virtually no further improvement" in Wh/kg over
    # thin-Li LMB but improves Wh/L. Compare AF on 8 um Cu with 25 um Li on 8 um Cu.
    lmb, af = seed001(3, cathode_loading=loading), seed001(5, cathode_loading=loading)
    gain_g = se(af) / se(lmb) - 1
    gain_v = ed(af) / ed(lmb) - 1
    assert gain_g < 0.06  # "virtually no" improvement: a few per cent at most
    assert gain_v > 0.10 and gain_v > 2 * gain_g


@pytest.mark.parametrize("loading", (3.0, 6.0))
def test_thinnest_copper_is_best_and_coatings_cost_gravimetric_energy(loading):
    # L90: "the best condition ... the Cu collector with the least thickness"
    # L82: thicker collectors or Ag/Zn coatings "further reduced the gravimetric energy density"
    c4, c5, c6, c7 = (seed001(c, cathode_loading=loading) for c in (4, 5, 6, 7))
    assert se(c4) > se(c5) > se(c6) > se(c7)  # Ag (10.49 g/cm3) heavier than Zn (7.14)
    assert ed(c4) > ed(c5) > ed(c6)


def test_energy_rises_with_loading_with_diminishing_returns():
    # L86-L88 and Fig. 2f,g: energy density increases with loading 2 -> 10 mAh/cm^2
    for case in CASES:
        g = np.array([se(seed001(case, cathode_loading=q)) for q in LOADINGS])
        v = np.array([ed(seed001(case, cathode_loading=q)) for q in LOADINGS])
        assert np.all(np.diff(g) > 0) and np.all(np.diff(v) > 0)
        slopes = np.diff(g) / np.diff(LOADINGS)
        assert np.all(np.diff(slopes) < 0)


def test_loading_gain_smaller_for_graphite():
    # L88: smaller for Gr-LIB "due to the fact that the anode mass increases with
    # the loading of Gr anodes, while it remains constant for ... AFBs"
    def gain(case, metric):
        return metric(seed001(case, cathode_loading=10.0)) / metric(seed001(case, cathode_loading=2.0))

    for case in (3, 4, 5):
        assert gain(1, se) < gain(case, se)
        assert gain(1, ed) < gain(case, ed)


def test_li_thickness_and_copper_shift_the_loading_curve_down():
    # L88: "the thickness of the Li metal layer and the presence of a Cu collector
    # ... downward shift of the curve"
    for q in LOADINGS:
        no_cu = se(seed001(2, cathode_loading=q))
        with_cu = se(seed001(3, cathode_loading=q))
        thick = se(seed001(3, cathode_loading=q, metal_excess=100.0))
        assert no_cu > with_cu > thick


def test_mass_breakdown_cathode_dominates_and_copper_outweighs_separator_and_aluminium():
    # L94: the cathode dominates the mass and "decreases slightly with increasing
    # Li layer thickness"; L110: with 8 um Cu "the contribution of the Cu current
    # collector ... is greater than that of the separator and the positive current collector"
    thin = seed001(3, cathode_loading=3.0, metal_excess=25.0)
    thick = seed001(3, cathode_loading=3.0, metal_excess=100.0)
    for ev in (thin, thick):
        m = ev.breakdown()["mass"]
        assert m["cathode"] == max(m.values())
        assert m["negative_collector"] > m["separator"]
        assert m["negative_collector"] > m["positive_collector"]
    share = lambda ev, k: ev.breakdown()["mass"][k] / ev.outputs["unit_mass"]  # noqa: E731
    assert share(thick, "cathode") < share(thin, "cathode")
    assert share(thick, "metal") > share(thin, "metal")
    assert share(thick, "separator") + share(thick, "electrolyte") < share(thin, "separator") + share(
        thin, "electrolyte"
    )


def test_volume_breakdown_thick_li_largest_copper_negligible():
    # L94: "the anode accounts for the largest share of the cell volume ... increases
    # significantly with increasing thickness. After the anode, the cathode ...,
    # followed by the separator"; L110: "the Cu current collector is hardly relevant
    # for the volume". (The paper also ranks the positive collector above the
    # deposited Li; with a double-sided unit and the plated Li counted at full
    # charge this last ranking is not reproduced: see docs/seed001.md.)
    ev = seed001(3, cathode_loading=3.0, metal_excess=100.0)
    t = ev.breakdown()["thickness"]
    assert t["metal"] > t["cathode"] > t["separator"]
    assert t["negative_collector"] / ev.outputs["unit_thickness"] < 0.03
