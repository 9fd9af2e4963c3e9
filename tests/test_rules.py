"""Unit tests of the array rules in sim/core/rules.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.core import rules
from sim.core.state import BIN_CENTERS

unit = st.floats(0.0, 1.0, allow_nan=False)


def unit_array(shape):
    return hnp.arrays(np.float64, shape, elements=unit)


# ---------------------------------------------------------------- script and candor


def test_expressed_positions_mix_line_and_private():
    x = np.array([[0.2, 0.9]])
    line = np.array([[0.5, 0.5]])
    np.testing.assert_allclose(rules.expressed_positions(x, line, np.array([[0.0, 0.0]])), x)
    np.testing.assert_allclose(rules.expressed_positions(x, line, np.array([[1.0, 1.0]])), line)
    np.testing.assert_allclose(rules.expressed_positions(x, line, np.array([[0.25, 0.5]])), [[0.275, 0.7]])


def test_candor_is_product_of_freedoms():
    sigma = np.array([[0.0, 0.5, 1.0]])
    c = rules.candor(sigma)
    assert c.shape == (1, 3, 3)
    expected = np.outer([1.0, 0.5, 0.0], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(c[0], expected)
    np.testing.assert_allclose(c[0], c[0].T)


@given(unit_array((2, 4)))
def test_candor_in_unit_interval(sigma):
    c = rules.candor(sigma)
    assert np.all((c >= 0) & (c <= 1))
    np.testing.assert_allclose(c, np.swapaxes(c, 1, 2))


def test_effective_script_relief_and_host():
    script = np.array([[0.8, 0.4]])
    m = np.array([[0.5, 0.0]])
    relief = np.array([[0.5, 0.5]])
    out = rules.effective_script(script, m, relief, np.array([False]), np.array([0.3]))
    np.testing.assert_allclose(out, [[0.8 * 0.75, 0.4]])
    out_host = rules.effective_script(script, m, relief, np.array([True]), np.array([0.3]))
    np.testing.assert_allclose(out_host, [[0.8 * 0.75 * 0.7, 0.4 * 0.7]])


def test_motivation_step_partial_adjustment():
    m = np.array([[0.1, 0.9]])
    target = np.array([[0.9, 0.1]])
    np.testing.assert_allclose(rules.motivation_step(m, target, np.array([0.5])), [[0.5, 0.5]])
    np.testing.assert_allclose(rules.motivation_step(m, target, np.array([1.0])), target)
    np.testing.assert_allclose(rules.motivation_step(m, target, np.array([0.0])), m)


# ---------------------------------------------------------------- influence


def test_influence_weights_bound_and_absence():
    x = np.array([[0.0, 0.1, 0.5, 0.55]])
    eps = np.full((1, 4, 4), 0.12)
    present = np.array([[True, True, True, False]])
    W = rules.influence_weights(x, x, eps, present, np.array([2.0]))
    np.testing.assert_allclose(W.sum(axis=2), 1.0)
    # member 0 hears member 1 (0.1 away) but not member 2 (0.5 away); self weight 2
    np.testing.assert_allclose(W[0, 0], [2 / 3, 1 / 3, 0, 0])
    # member 2's only neighbour within the bound (member 3) is absent
    np.testing.assert_allclose(W[0, 2], [0, 0, 1, 0])
    # an absent member keeps itself
    np.testing.assert_allclose(W[0, 3], [0, 0, 0, 1])


@given(unit_array((2, 5)), unit_array((2, 5)), st.floats(0.0, 1.0), st.floats(0.0, 10.0), hnp.arrays(bool, (2, 5)))
@example(np.zeros((2, 5)), np.ones((2, 5)), 0.0, 0.0, np.ones((2, 5), bool))  # self_weight 0, nobody in bound
def test_influence_weights_row_stochastic(x, y, eps0, s, present):
    """self_weight ranges over its whole spec [0, 10] (sim.core.params)."""
    eps = np.full((2, 5, 5), eps0)
    W = rules.influence_weights(x, y, eps, present, np.array([s, s]))
    assert np.all(np.isfinite(W))
    assert np.all(W >= 0)
    np.testing.assert_allclose(W.sum(axis=2), 1.0)


def test_influence_weights_isolated_member_with_zero_self_weight():
    """self_weight = 0 is inside its spec bounds; a present delegate with nobody within its
    bound of confidence must still get a valid (finite, row-stochastic) row."""
    x = np.array([[0.0, 1.0]])
    W = rules.influence_weights(x, x, np.full((1, 2, 2), 0.1), np.ones((1, 2), bool), np.array([0.0]))
    assert np.all(np.isfinite(W)), W
    np.testing.assert_allclose(W.sum(axis=2), 1.0)


@given(unit_array((1, 5)), unit_array((1, 5)), unit_array((1, 5)))
def test_fj_update_stays_in_unit_interval(x, x0, lam):
    W = rules.influence_weights(x, x, np.full((1, 5, 5), 0.3), np.ones((1, 5), bool), np.array([1.0]))
    out = rules.fj_update(x, x0, W, x, lam)
    assert np.all((out >= -1e-12) & (out <= 1 + 1e-12))


def test_fj_update_hears_expressed_positions_of_others_only():
    x = np.array([[0.2, 0.8]])
    y = np.array([[0.4, 0.6]])
    W = np.array([[[0.5, 0.5], [0.5, 0.5]]])
    lam = np.array([[1.0, 1.0]])
    out = rules.fj_update(x, x, W, y, lam)
    # own private view, others' expressed views
    np.testing.assert_allclose(out, [[0.5 * 0.2 + 0.5 * 0.6, 0.5 * 0.4 + 0.5 * 0.8]])


class TestFriedkinJohnsenFlow:
    """rules.fj_flow: the flow of the Friedkin–Johnsen map with entrenchment, solved exactly."""

    @staticmethod
    def case(seed=0, B=3, sides=(3, 2)):
        rng = np.random.default_rng(seed)
        so = np.repeat(np.arange(len(sides)), sides)
        n = len(so)
        x, x0 = rng.random((B, n)), rng.random((B, n))
        line_s, sig_s = rng.random((B, len(sides))), rng.random((B, len(sides)))
        present = rng.random((B, n)) < 0.8
        W = rules.influence_weights(x, x, np.full((B, n, n), 0.4), present, np.array([1.0] * B))
        lam = rng.random((B, n))
        args = (W, line_s[:, so], sig_s[:, so], lam, present, np.array([1.3] * B), 0.3 * sig_s, so)
        return x, x0, args

    def test_expm_equals_scipy(self):
        """e^M itself, column by column (e^M e_j): small, multi-step and stiff matrices (the stiff ones
        by scaling and squaring)."""
        from scipy.linalg import expm

        M = (np.random.default_rng(1).random((20, 7, 7)) - 0.5) * np.geomspace(0.01, 50, 20)[:, None, None]
        E = np.stack([rules.expm_action(M, np.broadcast_to(np.eye(7)[j], (20, 7))) for j in range(7)], axis=2)
        np.testing.assert_allclose(E, expm(M), rtol=1e-12, atol=1e-12 * np.abs(expm(M)).max())

    def test_expm_action_equals_scipy(self):
        """e^M v without e^M: small, multi-step (‖M‖∞ > 2.1) and stiff (> 16.8) matrices alike."""
        from scipy.linalg import expm

        rng = np.random.default_rng(2)
        M = (rng.random((30, 7, 7)) - 0.5) * np.geomspace(1e-3, 80, 30)[:, None, None]
        v = rng.random((30, 7))
        want = np.einsum("bij,bj->bi", expm(M), v)
        np.testing.assert_allclose(rules.expm_action(M, v), want, rtol=1e-12, atol=1e-12)

    def test_expm_action_does_not_depend_on_the_batch(self):
        """Each matrix's result is its own: the same bits alone, in a batch, or in another order."""
        rng = np.random.default_rng(3)
        M = (rng.random((40, 9, 9)) - 0.5) * np.geomspace(1e-3, 30, 40)[:, None, None]
        v = rng.random((40, 9))
        whole = rules.expm_action(M, v)
        perm = rng.permutation(40)
        assert np.array_equal(rules.expm_action(M[perm], v[perm]), whole[perm])
        assert all(np.array_equal(rules.expm_action(M[b : b + 1], v[b : b + 1])[0], whole[b]) for b in (0, 17, 39))

    def test_taylor_degree_bounds_the_remainder(self):
        """The degree is the least with the remainder bound ν^{m+1} e^ν / (m + 1)! below 2⁻⁵³: the
        sum to degree m − 1 misses more than rounding, the sum to m does not."""
        nu = np.array([1e-6, 0.05, 0.3, 1.0, 2.1])
        m = rules.taylor_degree(nu)
        assert list(m) == sorted(m) and m[0] <= 2 and m[-1] == 24
        bound = lambda k: nu ** (k + 1) * np.exp(nu) / np.array([math.factorial(int(j) + 1) for j in k])  # noqa: E731
        assert np.all(bound(m) <= 2.0**-53) and np.all(bound(m - 1) > 2.0**-53)
        # a scalar check of what the bound promises: e^ν to rounding from m + 1 terms
        sums = [sum(x**k / math.factorial(k) for k in range(int(d) + 1)) for x, d in zip(nu, m, strict=True)]
        np.testing.assert_allclose(sums, np.exp(nu), rtol=4e-16)

    def test_expm_action_sums_to_taylor_degree(self):
        """The compiled loop looks the degree up as :func:`rules.taylor_degree` does: for a 1 × 1
        matrix ν it returns the degree-m Taylor sum of e^ν bit for bit, and not the degree m − 1 sum
        (which differs in the last bits for these ν)."""

        def taylor(nu: float, m: int) -> float:
            term = acc = 1.0
            for k in range(1, m + 1):
                term = (nu * term) * (1.0 / k)
                acc += term
            return acc

        for nu in (0.01, 0.05, 0.1, 0.3):
            m = int(rules.taylor_degree(nu))
            got = rules.expm_action(np.array([[[nu]]]), np.array([[1.0]]))[0, 0]
            assert got == taylor(nu, m) and got != taylor(nu, m - 1), nu

    def test_expm_action_sums_in_the_written_order(self):
        """Every product sums over the columns in order, one multiply and one add at a time (no
        reassociation, no fused multiply-add), so results are the same bits on any machine: the
        compiled loop equals this plain-Python Taylor sum exactly, for sizes with and without
        rows left over from its blocks of four (a version compiled with numba's fastmath
        reassociation differed in the last bits)."""

        def taylor(M: np.ndarray, v: np.ndarray) -> np.ndarray:
            n = len(v)
            norm = max(sum(abs(float(x)) for x in row) for row in M)
            steps = max(math.ceil(norm / 2.1), 1)
            m, per = int(rules.taylor_degree(norm / steps)), 1.0 / steps
            acc = [float(x) for x in v]
            for _ in range(steps):
                term = list(acc)
                for k in range(1, m + 1):
                    new = []
                    for i in range(n):
                        dot = 0.0
                        for j in range(n):
                            dot += float(M[i, j]) * term[j]
                        new.append(dot * (per / k))
                    term = new
                    acc = [a + b for a, b in zip(acc, new, strict=True)]
            return np.array(acc)

        rng = np.random.default_rng(5)
        for n in (4, 6, 15):
            # ‖M‖∞ about 0.3, 3 and 10: one and several Taylor steps (below the stiff path's 16.8)
            M = (rng.random((3, n, n)) - 0.5) * (np.array([0.3, 3.0, 10.0]) / (0.25 * n))[:, None, None]
            v = rng.random((3, n))
            got = rules.expm_action(M, v)
            for b in range(3):
                assert np.array_equal(got[b], taylor(M[b], v[b])), (n, b)

    def test_rounds_compose(self):
        """Exact: t₁ then t₂ years give what t₁ + t₂ give (the same W)."""
        x, x0, args = self.case()
        t1, t2 = np.array([0.3, 0.5, 1.0]), np.array([0.7, 0.25, 2.0])
        a = rules.fj_flow(*rules.fj_flow(x, x0, *args, t1), *args, t2)
        b = rules.fj_flow(x, x0, *args, t1 + t2)
        np.testing.assert_allclose(a, b, atol=1e-12)

    def test_its_speed_is_the_friedkin_johnsen_step(self):
        """dx/dt at t = 0 is κ (fj_update(x) − x) + r (L − x), r = −ln(1 − e σ), for present delegates."""
        x, x0, args = self.case(2)
        W, line, sigma, lam, present, rate, e_side, so = args
        h = 1e-7
        xt, _ = rules.fj_flow(x, x0, *args, np.full(3, h))
        y = rules.expressed_positions(x, line, sigma)
        r = -np.log(1 - e_side[:, so])
        want = rate[:, None] * (rules.fj_update(x, x0, W, y, lam) - x) + r * (line - x)
        np.testing.assert_allclose((xt - x) / h, np.where(present, want, 0.0), atol=1e-5)

    def test_fixed_point_is_the_maps(self):
        """Without entrenchment the flow ends at the map's fixed point."""
        x, x0, args = self.case(3)
        args = (*args[:6], np.zeros_like(args[6]), args[7])
        W, line, sigma, lam, present = args[:5]
        far, _ = rules.fj_flow(x, x0, *args, np.full(3, 200.0))
        y = rules.expressed_positions(far, line, sigma)
        np.testing.assert_allclose(rules.fj_update(far, x0, W, y, lam)[present], far[present], atol=1e-10)

    def test_entrenchment_alone_is_the_entrench_rule(self):
        x, x0, args = self.case(4)
        W, line, sigma, lam, present, rate, e_side, so = args
        t = np.array([0.5, 1.0, 3.0])
        xt, at = rules.fj_flow(x, x0, W, line, sigma, lam, present, np.zeros(3), e_side, so, t)
        e = e_side[:, so] / sigma
        np.testing.assert_allclose(xt, rules.entrench(x, line, sigma, e, present, t[:, None]), atol=1e-12)
        np.testing.assert_allclose(at, rules.entrench(x0, line, sigma, e, present, t[:, None]), atol=1e-12)


# ---------------------------------------------------------------- familiarity


def _flow(F, c, meet, *args, t=1.0):
    """F after t years (default one) of :func:`rules.familiarity_exchange` for the pairs in ``meet``."""
    return np.where(meet, rules.relax(F, *rules.familiarity_exchange(c, *args), t), F)


def _exchange(F, c, meet, a, b, follow_up=0.0):
    return _flow(F, c, meet, np.array([a]), np.array([b]), np.array([follow_up]))


@pytest.mark.parametrize(("a", "b", "c"), [(0.3, 0.05, 0.5), (0.1, 0.2, 0.9), (0.5, 0.5, 0.1)])
def test_familiarity_exchange_fixed_point(a, b, c):
    F = np.array([[[0.0, 0.0], [0.0, 0.0]]])
    F[0, 0, 1] = F[0, 1, 0] = 0.02
    cc = np.full((1, 2, 2), c)
    meet = np.array([[[False, True], [True, False]]])
    for _ in range(2000):
        F = _exchange(F, cc, meet, a, b)
    f_star = a * c / (a * c + b * (1 - c))
    np.testing.assert_allclose(F[0, 0, 1], f_star, atol=1e-9)
    # pairs that do not meet are untouched
    assert F[0, 0, 0] == 0.0
    # and the fixed point is a fixed point
    np.testing.assert_allclose(_exchange(F, cc, meet, a, b), F, atol=1e-12)


def test_familiarity_exchange_one_step():
    F = np.array([[[0.0, 0.4], [0.4, 0.0]]])
    c = np.full((1, 2, 2), 0.5)
    meet = np.array([[[False, True], [True, False]]])
    out = _exchange(F, c, meet, 0.3, 0.1)
    f1 = 0.4 + 0.3 * 0.5 * 0.6 - 0.1 * 0.5 * 0.4
    np.testing.assert_allclose(out[0, 0, 1], f1)
    # follow-up adds a fatigue-free share of a candid exchange, solved together with it over the year:
    # dF/dt = κ (F* − F) + ψ (1 − F), e^{−κ} = 1 − k, e^{−ψ} = 1 − α φ c
    out_f = _exchange(F, c, meet, 0.3, 0.1, follow_up=0.5)
    k = 0.3 * 0.5 + 0.1 * 0.5
    kappa, psi = -np.log(1 - k), -np.log(1 - 0.3 * 0.5 * 0.5)
    f_inf = (kappa * 0.3 * 0.5 / k + psi) / (kappa + psi)
    np.testing.assert_allclose(out_f[0, 0, 1], f_inf + (0.4 - f_inf) * np.exp(-(kappa + psi)))
    assert out_f[0, 0, 1] > f1
    assert out_f[0, 0, 0] == 0.0


@pytest.mark.parametrize(("a", "b", "c", "phi"), [(0.3, 0.05, 0.5, 0.5), (0.2, 0.3, 0.3, 1.0)])
def test_familiarity_exchange_follow_up_raises_fixed_point(a, b, c, phi):
    cc = np.full((1, 2, 2), c)
    meet = np.array([[[False, True], [True, False]]])
    F0 = np.array([[[0.0, 0.1], [0.1, 0.0]]])
    F, Ff = F0, F0
    for _ in range(3000):
        F = _exchange(F, cc, meet, a, b)
        Ff = _exchange(Ff, cc, meet, a, b, follow_up=phi)
    np.testing.assert_allclose(_exchange(Ff, cc, meet, a, b, follow_up=phi), Ff, atol=1e-12)
    assert Ff[0, 0, 1] > F[0, 0, 1]


@given(unit_array((1, 3, 3)), unit_array((1, 3, 3)), unit, unit, unit)
def test_familiarity_exchange_stays_in_unit_interval(F, c, a, b, phi):
    meet = np.ones((1, 3, 3), bool)
    out = _exchange(F, c, meet, a, b, phi)
    assert np.all((out >= -1e-12) & (out <= 1 + 1e-12))


def _decay(F, *args):
    """F after a year of :func:`rules.familiarity_decay`."""
    return rules.relax(F, 0.0, rules.familiarity_decay(*args)[:, None, None], 1.0)


def test_familiarity_decay_only_without_contact():
    F = np.full((2, 2, 2), 0.5)
    out = _decay(F, np.array([0.2, 0.2]), np.array([True, False]), np.zeros(2))
    np.testing.assert_allclose(out[0], 0.5)
    np.testing.assert_allclose(out[1], 0.4)


def test_meeting_decay_forgets_between_meetings_too():
    F = np.full((2, 2, 2), 0.5)
    out = _decay(F, np.array([0.2, 0.2]), np.array([True, False]), np.array([0.5, 0.5]))
    np.testing.assert_allclose(out[0], 0.45)  # met: (1 − δ d) F
    np.testing.assert_allclose(out[1], 0.4)  # no meeting: (1 − d) F


def _two_by_two():
    """Members 0, 1 on side 0; members 2, 3 on side 1."""
    side = np.array([0, 0, 1, 1])
    cross = side[:, None] != side[None, :]
    F = np.zeros((1, 4, 4))
    F[0][cross] = np.array([0.6, 0.5, 0.6, 0.4, 0.6, 0.5, 0.6, 0.4])[: cross.sum()]
    F[0] = np.maximum(F[0], F[0].T)
    return side, cross, F


def test_newcomer_familiarity_no_handover_no_memory():
    side, cross, F = _two_by_two()
    leave = np.array([[True, False, False, False]])
    alumni = np.full((1, 2, 2), 0.9)  # plenty to recall, but memory is 0
    zeros = np.zeros((1, 4))
    active = np.ones((1, 4), bool)
    out = rules.newcomer_familiarity(F, leave, zeros, zeros, alumni, side, active, cross, np.zeros(1))
    # the leaver's pairs are wiped
    np.testing.assert_array_equal(out[0, 0, :], 0.0)
    np.testing.assert_array_equal(out[0, :, 0], 0.0)
    # the stayers' pairs are unchanged
    stay = np.ix_([1, 2, 3], [1, 2, 3])
    np.testing.assert_array_equal(out[0][stay], F[0][stay])


def test_newcomer_familiarity_handover_and_memory():
    side, cross, F = _two_by_two()
    leave = np.array([[True, False, False, False]])
    handover = np.full((1, 4), 0.5)
    memory = np.full((1, 4), 0.5)
    alumni = np.full((1, 2, 2), 0.4)
    active = np.ones((1, 4), bool)
    out = rules.newcomer_familiarity(F, leave, handover, memory, alumni, side, active, cross, np.zeros(1))
    # max(h F, mu A) for the leaver's cross pairs: max(0.5 * F, 0.2)
    for j in (2, 3):
        assert out[0, 0, j] == pytest.approx(max(0.5 * F[0, 0, j], 0.2))
        assert out[0, j, 0] == out[0, 0, j]
    # within a side it stays 0
    assert out[0, 0, 1] == 0.0


class TestDistrustHandover:
    """``distrust_handover`` q: a successor's familiarity with a counterpart the leaver distrusted
    is q·h·F + (1 − q)·μA; at q = 0 (the default) turnover erases the distrust (max with the
    alumni briefing, never below 0). Kills: q ignored, or distrust handed over at q = 0."""

    def newcomer(self, q: float, F0: float = -0.6) -> np.ndarray:
        side, cross, F = _two_by_two()
        F[0][cross] = F0
        leave = np.array([[True, False, False, False]])
        handover, memory = np.full((1, 4), 0.5), np.full((1, 4), 0.5)
        alumni = np.full((1, 2, 2), 0.2)
        active = np.ones((1, 4), bool)
        return rules.newcomer_familiarity(F, leave, handover, memory, alumni, side, active, cross, np.array([q]))[0, 0, 2:]

    def test_default_erases_distrust(self):
        np.testing.assert_allclose(self.newcomer(0.0), [0.1, 0.1])  # μA = 0.5 · 0.2, not h F = −0.3

    def test_full_share_hands_it_over(self):
        np.testing.assert_allclose(self.newcomer(1.0), [-0.3, -0.3])  # h F

    def test_a_share_mixes_the_two(self):
        np.testing.assert_allclose(self.newcomer(0.5), [0.5 * -0.3 + 0.5 * 0.1] * 2)

    def test_trust_is_unaffected(self):
        np.testing.assert_allclose(self.newcomer(1.0, F0=0.6), self.newcomer(0.0, F0=0.6))


def test_alumni_update_takes_best_leaver():
    side, cross, F = _two_by_two()
    A = np.zeros((1, 2, 2))
    leave = np.array([[True, True, False, False]])
    active = np.ones((1, 4), bool)
    out = rules.alumni_update(A, F, leave, active, side, np.array([0, 2]))
    best = max(F[0, 0, 2:].mean(), F[0, 1, 2:].mean())
    assert out[0, 0, 1] == pytest.approx(best)
    assert out[0, 0, 0] == 0.0
    np.testing.assert_array_equal(out[0, 1], 0.0)  # side 1 lost nobody
    # only active members of the other side count; the alumni never forget a better contact
    active[0, 3] = False
    out2 = rules.alumni_update(np.full((1, 2, 2), 0.99), F, leave, active, side, np.array([0, 2]))
    np.testing.assert_allclose(out2, 0.99)
    out3 = rules.alumni_update(A, F, leave, active, side, np.array([0, 2]))
    assert out3[0, 0, 1] == pytest.approx(max(F[0, 0, 2], F[0, 1, 2]))


def test_recall_contacts_raises_to_alumni_level():
    F = np.zeros((1, 2, 2))
    cross = np.array([[[False, True], [True, False]]])
    A = np.full((1, 2, 2), 0.3)
    out = rules.recall_contacts(F, np.array([[1.0, 0.0]]), A, cross)
    np.testing.assert_allclose(out[0], [[0, 0.3], [0.3, 0]])
    out0 = rules.recall_contacts(F, np.zeros((1, 2)), A, cross)
    np.testing.assert_array_equal(out0, F)


# ---------------------------------------------------------------- ideas, reports, agreement, cost


def test_idea_chance_needs_candor_familiarity_and_bound():
    c = np.array([[1.0, 1.0, 0.0]])
    F = np.array([[1.0, 0.5, 1.0]])
    xi = np.array([[0.4, 0.4, 0.4]])
    xj = np.array([[0.5, 0.5, 0.5]])
    eps = np.array([[0.2, 0.2, 0.2]])
    np.testing.assert_allclose(rules.idea_chance(c, F, xi, xj, eps, np.array([0.3])), [[0.3, 0.15, 0.0]])
    np.testing.assert_allclose(rules.idea_chance(c, F, xi, xj, eps * 0.1, np.array([0.3])), [[0, 0, 0]])


@given(unit_array((1, 4)), unit_array((1, 4)), unit_array((1, 4)))
def test_idea_location_between_pair(xi, xj, u):
    z = rules.idea_location(xi, xj, u)
    lo, hi = np.minimum(xi, xj), np.maximum(xi, xj)
    assert np.all((z >= lo - 1e-12) & (z <= hi + 1e-12))


def test_report_chance():
    ones = np.ones((1, 2))
    q = rules.report_chance(ones * 0.5, ones * 0.8, np.array([[0.0, 5.0]]), ones * 2, ones * 0, ones * 0)
    np.testing.assert_allclose(q, [[0.5 * 0.8 * 0.5, 0.5 * 0.8]])
    blocked = rules.report_chance(ones, ones, ones * 10, ones, ones, ones * 0)
    np.testing.assert_array_equal(blocked, 0.0)
    lost = rules.report_chance(ones, ones, ones * 10, ones, ones * 0, ones * 0.25)
    np.testing.assert_allclose(lost, 0.75)


def test_winset_and_acceptable():
    w = rules.winset_half_width(np.array([[0.0, 1.0]]), np.array([[0.1, 0.1]]), np.array([[0.2, 0.2]]))
    np.testing.assert_allclose(w, [[0.1, 0.3]])
    centers = np.array([0.0, 0.25, 0.5, 0.75])
    ok = rules.acceptable(centers, np.array([[0.5, 0.5]]), w)
    np.testing.assert_array_equal(ok[0], [[False, False, True, False], [False, True, True, True]])


def test_agreement_support_hosts_always_consent():
    known = np.zeros((1, 3, 2), bool)
    inside = np.ones((1, 3, 2), bool)
    motivated = np.ones((1, 3), bool)
    player = np.array([True, True, False])
    ok = rules.agreement_support(known, inside, motivated, player)
    np.testing.assert_array_equal(ok[0, :2], False)
    np.testing.assert_array_equal(ok[0, 2], True)
    known[:, :2, 1] = True
    ok = rules.agreement_support(known, inside, motivated, player)
    assert ok[0, :, 1].all() and not ok[0, :, 0].all()
    ok = rules.agreement_support(known, inside, np.array([[True, False, True]]), player)
    assert not ok[0, :, 1].all()


def test_member_cost():
    rank = np.array([[1.0, 0.5, 0.25], [1.0, 0.5, 0.25]])
    active = np.array([[True, True, False], [True, True, True]])
    cost = rules.member_cost(np.array([True, False]), active, rank)
    np.testing.assert_allclose(cost, [1.5, 0.0])


def test_confidence_bound_widens_with_familiarity():
    F = np.array([[[0.0, 0.5], [0.5, 0.0]]])
    eps = rules.confidence_bound(F, np.array([0.1]), np.array([0.4]))
    np.testing.assert_allclose(eps[0], [[0.1, 0.3], [0.3, 0.1]])


class TestExposureAndCynicism:
    """Cynicism is driven by cumulative exposure to hollow meetings (sources 001, 002)."""

    W = np.array([0.5])  # candor_wear at its default

    def test_exposure_adds_hollow_years_wears_down_and_fades(self):
        E = np.array([[1.0, 1.0]])
        hollow = np.array([[1.0, 0.0]])  # side 0 only heard scripts; side 1 spoke candidly
        dt, d = np.array([1.0]), np.array([0.1])
        met = rules.exposure_step(E, hollow, np.array([[True, True]]), d, d, self.W, dt)
        a = 0.9  # hollow side: only forgetting; it gains (1 − a)/(−ln a) of a hollow year
        np.testing.assert_allclose(met, [[a + (1 - a) / -np.log(a), 0.9 * 0.5]])  # candor 1 wears half down
        # two half-year rounds compound to one year
        h = np.array([1 - 0.9**0.5])
        half = rules.exposure_step(E, hollow, np.array([[True, True]]), h, h, self.W, np.array([0.5]))
        half = rules.exposure_step(half, hollow, np.array([[True, True]]), h, h, self.W, np.array([0.5]))
        np.testing.assert_allclose(half, met, rtol=1e-12)
        closed = rules.exposure_step(E, hollow, np.array([[False, False]]), d, d, self.W, dt)
        np.testing.assert_allclose(closed, [[0.9, 0.9]])

    def test_forgetting_and_wear_while_meeting_follow_their_parameters(self):
        """ε = ``exposure_meeting_decay`` scales the forgetting in meeting rounds only, w =
        ``candor_wear`` the wear by candid exchange; ε = 0 with w = 0 makes a meeting side's
        exposure a pure accumulator, as familiarity is under δ = 0. Kills: either ignored."""
        E, hollow, dt = np.array([[1.0, 1.0]]), np.array([[1.0, 0.0]]), np.array([1.0])
        idle, none = np.array([0.1]), np.array([0.0])
        met = rules.exposure_step(E, hollow, np.array([[True, True]]), idle, none, np.array([0.0]), dt)
        np.testing.assert_allclose(met, [[2.0, 1.0]])  # a hollow year added, nothing forgotten or worn
        worn = rules.exposure_step(E, hollow, np.array([[True, True]]), idle, none, np.array([1.0]), dt)
        assert worn[0, 0] == 2.0 and worn[0, 1] == 0.0  # full candor, w = 1: worn away
        closed = rules.exposure_step(E, hollow, np.array([[False, False]]), idle, none, np.array([0.0]), dt)
        np.testing.assert_allclose(closed, [[0.9, 0.9]])  # not meeting: forgotten at d whatever ε

    @given(st.floats(0.01, 5), st.floats(0, 20), st.floats(0, 20))
    def test_cynicism_is_monotone_in_exposure_at_any_rate(self, rate, e1, e2):
        lo, hi = sorted([e1, e2])
        c = rules.cynicism_of(np.array([[lo, hi]]), np.array([[rate, rate]]))
        assert 0 <= c[0, 0] <= c[0, 1] <= 1

    def test_a_rate_near_one_keeps_the_arms_apart(self):
        # nine hollow years vs. nine hollow years followed by thirty years of forgetting
        E = np.zeros((1, 2))
        for _ in range(9):
            E = rules.exposure_step(
                E, np.array([[0.95, 0.95]]), np.array([[True, True]]), np.array([0.1]), np.array([0.1]), self.W, np.array([1.0])
            )
        for _ in range(30):
            E[:, 1:] = rules.exposure_step(
                E[:, 1:], np.array([[0.0]]), np.array([[False]]), np.array([0.1]), np.array([0.1]), self.W, np.array([1.0])
            )
        c = rules.cynicism_of(E, np.array([[1.0, 1.0]]))
        assert c[0, 0] - c[0, 1] > 0.5


def test_hollow_distrust_fixed_point_at_or_below_no_contact():
    """A scripted meeting (candor 0.16: both sides at script pressure 0.6) leaves familiarity at or below 0
    (strangers) when η ≥ α c / (1 − c); without η the fixed point is α c / (α c + β (1 − c)) > 0."""
    c = np.full((1, 1, 1), 0.16)
    meet = np.ones((1, 1, 1), dtype=bool)
    a, b = np.array([0.3]), np.array([0.05])
    for eta, sign in ((0.0, 1), (0.3 * 0.16 / 0.84, 0), (0.1, -1)):
        F = np.zeros((1, 1, 1))
        for _ in range(400):
            F = _flow(F, c, meet, a, b, np.zeros(1), np.array([eta]))
        assert np.sign(np.round(F[0, 0, 0], 9)) == sign
        assert F[0, 0, 0] >= -1


def test_familiarity_exchange_composes_over_calendar_time():
    """Two half-year rounds equal one one-year round (the relaxation is exact)."""
    F = np.array([[[0.2]]])
    c, meet = np.full((1, 1, 1), 0.4), np.ones((1, 1, 1), dtype=bool)
    args = (np.array([0.3]), np.array([0.05]), np.array([0.0]), np.array([0.06]))
    year = _flow(F, c, meet, *args, t=1.0)
    half = _flow(F, c, meet, *args, t=0.5)
    half = _flow(half, c, meet, *args, t=0.5)
    np.testing.assert_allclose(half, year, rtol=1e-12)
    np.testing.assert_allclose(rules.per_round(np.array([0.19]), np.array([0.5])), [0.1], rtol=1e-12)


def test_entrenchment_pulls_view_toward_the_line_it_restates():
    v, line = np.array([[0.5, 0.5]]), np.array([[0.3, 0.3]])
    out = rules.entrench(v, line, np.array([[0.8, 0.8]]), np.array([[0.5, 0.5]]), np.array([[True, False]]))
    np.testing.assert_allclose(out, [[0.5 - 0.5 * 0.8 * 0.2, 0.5]])


def test_substitution_lowers_the_target_with_exposure():
    t = np.array([[0.9, 0.9]])
    out = rules.substituted_target(t, np.array([[0.2, 0.0]]), np.array([[50.0, 50.0]]))
    np.testing.assert_allclose(out, [[0.72, 0.9]])


def test_lean_leadership_files_a_share():
    Q = np.full((1, 1, 2), 0.5)
    out = rules.filing_chance(Q, np.array([[True, False]]), np.array([[0.3, 0.3]]))
    np.testing.assert_allclose(out, [[[0.5, 0.15]]])


class TestStructuralVariants:
    def test_dw_with_open_bound_and_half_weight_is_pairwise_averaging(self):
        x = np.array([[0.1, 0.9, 0.4]])
        pi, pj = np.triu_indices(3, 1)
        ok = np.ones((1, 3, 3), dtype=bool)
        u = np.array([[0.0, 0.99]])  # pair (0, 1), then pair (1, 2)
        out = rules.dw_encounters(x, np.zeros((1, 3)), np.zeros((1, 3)), np.ones((1, 3, 3)), ok, np.array([0.5]), pi, pj, u)
        np.testing.assert_allclose(out, [[0.5, 0.45, 0.45]])

    def test_hierarchy_with_one_member_per_side_is_the_complete_graph(self):
        head = np.ones((1, 3), dtype=bool)
        mask = rules.contact_mask(np.array([1]), head, np.array([0, 1, 2]))
        assert mask.all()
        head = np.array([[True, False, True, False]])
        mask = rules.contact_mask(np.array([1]), head, np.array([0, 0, 1, 1]))
        assert mask[0, 0, 2] and mask[0, 0, 1] and not mask[0, 1, 2] and not mask[0, 1, 3]

    def test_ratification_with_zero_softness_is_the_win_set(self):
        line, w = np.array([[0.3, 0.7]]), np.array([[0.2, 0.1]])
        sharp = rules.acceptable(BIN_CENTERS, line, w)
        for u in (0.0, 0.5, 0.999):
            soft = rules.ratification(BIN_CENTERS, line, w, np.array([0.0]), np.full((1, 2), u))
            np.testing.assert_array_equal(soft, sharp)
        soft = rules.ratification(BIN_CENTERS, line, w, np.array([0.5]), np.full((1, 2), 0.3))
        assert (soft >= sharp).all() and soft.sum() > sharp.sum()


def test_report_chance_is_discounted_by_cynicism():
    ones = np.ones((1, 2))
    q = rules.report_chance(ones, ones, ones * 10, ones, ones * 0, ones * 0, np.array([[0.0, 0.75]]))
    np.testing.assert_allclose(q, [[1.0, 0.25]])


class TestRulesMovedOutOfStep:
    """The rules that used to be inline in sim/core/step.py."""

    def test_participation_shift_and_threshold_crossing(self):
        np.testing.assert_allclose(rules.participation_shift(np.array([[0.4, 1.0]]), np.array([[0.8, 0.8]])), [[0.88, 1.0]])
        crossed = rules.crossed_threshold(
            np.array([[0.5, 0.7, 0.5]]), np.array([[0.7, 0.8, 0.55]]), np.array([[0.6]]), np.array([True, True, True])
        )
        assert crossed.tolist() == [[True, False, False]]
        assert not rules.crossed_threshold(np.array([[0.5]]), np.array([[0.7]]), np.array([[0.6]]), np.array([False])).any()

    def test_setup_countdown_only_in_open_channels_that_do_not_meet(self):
        is_open = np.array([True, True, False])
        left = np.array([2, 0, 3])
        meeting = rules.meets(is_open, left)
        assert meeting.tolist() == [False, True, False]
        assert rules.setup_countdown(left, is_open, meeting).tolist() == [1, 0, 3]

    def test_head_relays_with_its_own_chance(self):
        q = np.array([[0.2, 0.5, 0.9, 0.1]])
        rank = np.array([[0.7, 0.9, 0.6, 0.8]])
        active = np.array([[True, False, True, True]])
        side_of = np.array([0, 0, 1, 1])
        # side 0: the inactive slot 1 is not head; side 1: slot 3 outranks slot 2
        np.testing.assert_allclose(rules.head_report_chance(q, rank, active, side_of, np.array([0, 2])), [[0.2, 0.1]])

    def test_memory_ages_and_expires(self):
        age = np.array([[[0.0, 9.0, np.inf]]])
        aged = rules.age_memory(age, np.array([0.5]), np.array([True]))
        np.testing.assert_allclose(aged, [[[0.5, 9.5, np.inf]]])
        assert rules.idea_known(aged, np.array([10.0])).tolist() == [[[True, True, False]]]

    def test_hollow_share_and_agreement_progress(self):
        # one cross-side pair (sides 0 and 1), meeting with candor 0.25; a second that does not meet
        c = np.array([[0.25, 0.9]])
        meet = np.array([[True, False]])
        h, n = rules.hollow_share(c, meet, np.array([[1.0, 1.0], [1.0, 1.0]]))
        np.testing.assert_allclose(h, [[0.75, 0.75]])
        assert n.tolist() == [[1, 1]]
        h, n = rules.hollow_share(c, ~meet, np.array([[1.0, 1.0], [1.0, 1.0]]))
        np.testing.assert_allclose(h, [[0.1, 0.1]])
        ok = np.array([[[True, False], [True, True]]])
        progress, reached = rules.agreement_progress(ok, np.array([True, True]))
        assert progress.tolist() == [1.0] and reached.tolist() == [True]

    def test_event_rules(self):
        np.testing.assert_allclose(rules.downgraded_level(np.array([0.8]), 0.5), [0.4])
        np.testing.assert_allclose(rules.upgraded_level(np.array([0.8]), 0.5), [1.0])
        np.testing.assert_allclose(rules.crisis_familiarity(np.array([0.6]), 0.5), [0.3])
        np.testing.assert_allclose(
            rules.alumni_decay(np.full((1, 2, 2), 0.5), np.array([0.1])[:, None, None], 1.0), np.full((1, 2, 2), 0.45)
        )
