"""The model's rules, each a short function over numpy arrays.

Arrays carry a leading run axis ``B`` (one run in :class:`sim.DialogueModel`, many in
:mod:`sim.batch.ensemble`), then members ``N``, sides ``S`` or idea bins ``G``. Every rule is
written once, here; the per-run model and the ensemble both call :func:`sim.core.step.step`,
which composes these. Equations use: x private position, y expressed position,
L the leadership's line, σ script pressure, λ openness, F familiarity, m motivation; the
parameters' symbols are those of the ODD (docs/ODD.md §7.1), one per parameter: ζ motivation
speed, ξ influence rate, κ cynicism rate, δ meeting decay, d familiarity decay, χ position spread
(k̄ = −ln(1 − k) is familiarity's derived rate per year, not a parameter).
"""

from __future__ import annotations

import functools
import math
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

Array = np.ndarray


def _lazy(fn: Callable[..., Any], make: str) -> Callable[..., Any]:
    """``fn`` compiled by numba at its first call (``make``: ``"njit"`` or ``"vectorize"``), so that
    numba, and the SciPy it loads, are imported only by a process that runs the model. A compiled
    function may call others of this module: they are compiled with it (numba caches each file's
    code by that file's stamp, so callers and callees live in one file). The machine code is cached
    beside the module (``__pycache__``, numba's own files, rebuilt when the source changes), or where
    that is read-only in the user's cache directory (``NUMBA_CACHE_DIR`` overrides both): a process's
    first round then costs about 0.7 s instead of seconds of compiling. Where numba can write
    neither, each process compiles for itself, with one warning (:func:`_warn_uncached`)."""
    jit: Any = None

    def dispatcher() -> Any:
        nonlocal jit
        if jit is None:
            import numba

            calls = {k: d() for k in fn.__code__.co_names if (d := getattr(fn.__globals__.get(k), "dispatcher", None))}
            code = types.FunctionType(fn.__code__, {**fn.__globals__, **calls}, fn.__name__, fn.__defaults__, fn.__closure__)
            code.__qualname__ = fn.__qualname__
            build = numba.njit if make == "njit" else numba.vectorize
            try:
                jit = build(cache=True)(code)
            except RuntimeError as err:  # numba found no writable directory for its cache
                if "cannot cache" not in str(err):
                    raise
                _warn_uncached()
                jit = build(code)
        return jit

    warm = False

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        nonlocal warm
        if warm:
            return jit(*args)
        from sim.core.signals import signals_deferred

        with signals_deferred():  # numba compiles or loads it now: a Ctrl-C inside its C callbacks broke the compiler
            out = (dispatcher() if jit is None else jit)(*args)
        warm = True
        return out

    call.dispatcher = dispatcher  # type: ignore[attr-defined]
    call.loaded = lambda: jit is not None  # type: ignore[attr-defined]  # built here (or before a fork): called, or a caller was
    return call


@functools.cache
def _warn_uncached() -> None:
    """One warning per process (cached: later calls do nothing) when numba can cache the machine
    code nowhere: a read-only install (no writable ``__pycache__`` beside this module) run by a user
    with no writable cache directory. The model then compiles in every process: correct but slow."""
    warnings.warn(
        "numba cannot cache the model's compiled code (neither the package's __pycache__ nor the "
        "user's cache directory is writable), so every process compiles it again (10-20 s); "
        "set NUMBA_CACHE_DIR to a writable directory to keep it",
        RuntimeWarning,
        stacklevel=2,
    )


def compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, a loop over small arrays, compiled (numba's ``njit``) at its first call (:func:`_lazy`)."""
    return _lazy(fn, "njit")


def elementwise(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, written for scalars, as a ufunc (numba's ``vectorize``) at its first call
    (:func:`_lazy`): numpy's broadcasting over arrays, and one scalar call in a compiled loop."""
    return _lazy(fn, "vectorize")


def per_round(rate: Array, dt: Array) -> Array:
    """p_round = 1 − (1 − p_year)^Δt, Δt = 1 / meetings_per_year: a per-year rate as a per-round
    one, so that k rounds of length 1/k compound to the per-year rate (exact for hazards and
    for the geometric relaxations below)."""
    return 1 - (1 - rate) ** dt


def motivation_step(m: Array, target: Array, speed: Array) -> Array:
    """m' = m + ζ (m* − m): partial adjustment toward the regime's target m*, ζ the motivation speed.

    The regime (lean/ripe) is Zartman's "ripeness" (Zartman 2000, *Ripeness: the hurting
    stalemate and beyond*): a leadership becomes serious about settling when conditions
    shift, not because a channel exists.
    """
    return m + speed[:, None] * (target - m)


def effective_script(script: Array, m: Array, relief: Array, host_present: Array, facilitation: Array) -> Array:
    """σ_eff = σ (1 − r·m)(1 − η_host·H): motivated leaderships loosen the script (r the script
    relief) and a neutral host (η_host the host facilitation, H = 1 while a host member is present;
    Mongolia's Ulaanbaatar Dialogue, source 004) softens it further."""
    return script * (1 - relief * m) * (1 - facilitation[:, None] * host_present[:, None])


def expressed_positions(x: Array, line: Array, sigma: Array) -> Array:
    """y = σ L + (1 − σ) x: what is said is pulled toward the party line.

    Public versus private opinion as in Centola, Willer & Macy (2005, *AJS* 110:1009);
    the script read at every round of the Canada–China dialogue (source 002).
    """
    return sigma * line + (1 - sigma) * x


def candor(sigma: Array) -> Array:
    """c_ij = (1 − σ_i)(1 − σ_j): an exchange is candid only if neither side reads a script.

    Source: the scripts are from 001/002 ("much of the dialogue consists of a prepared script");
    the product form is a modelling assumption (no literature source); reasoning: ODD §7.3."""
    free = 1 - sigma
    return free[:, :, None] * free[:, None, :]


def confidence_bound(F: Array, eps0: Array, gain: Array) -> Array:
    """ε_ij = ε₀ + g F_ij: familiarity widens the bound of confidence
    (bounded confidence: Hegselmann & Krause 2002, *JASSS* 5(3); Deffuant et al. 2000); distrust
    (F < 0) narrows it below the strangers' ε₀, never below 0."""
    return _bound(F, eps0[:, None, None], gain[:, None, None])


@elementwise
def _bound(F: float, eps0: float, gain: float) -> float:
    """max(ε₀ + g F, 0), elementwise (:func:`confidence_bound`)."""
    return max(eps0 + gain * F, 0.0)


def heeded(x: Array, y: Array, eps: Array) -> Array:
    """h_ij = 1[|x_i − y_j| ≤ ε_ij]: what j says lies within i's bound of confidence (bounded
    confidence: Hegselmann & Krause 2002; Deffuant et al. 2000)."""
    return _within(x[:, :, None], y[:, None, :], eps)


@elementwise
def _within(x: float, y: float, eps: float) -> bool:
    """|x − y| ≤ ε, elementwise (:func:`heeded`)."""
    return abs(x - y) <= eps


def influence_weights(
    x: Array, y: Array, eps: Array | None, present: Array, self_weight: Array, contact: Array | None = None, heed: Array | None = None
) -> Array:
    """Row-stochastic W: W_ij ∝ 1[j present, j ≠ i, |x_i − y_j| ≤ ε_ij], W_ii ∝ s (1 if the
    row would otherwise be empty).

    A delegate heeds what others *say* if it lies within its bound of confidence; absent
    delegates keep W_ii = 1. With ε ≥ 1 the bound is off and W is fixed (Friedkin–Johnsen).
    ``contact`` (B, N, N), if given, restricts who can hear whom (:func:`contact_mask`);
    ``heed`` (B, N, N), if given, is the bound's verdict (:func:`heeded`) taken earlier.
    """
    n = x.shape[1]
    if heed is None:
        assert eps is not None, "give eps or heed"
        heed = heeded(x, y, eps)
    within = heed
    w = within & present[:, :, None] & present[:, None, :]
    w = w & ~np.eye(n, dtype=bool)
    if contact is not None:
        w = w & contact
    W = w.astype(float)
    heard = W.sum(axis=2)
    # a delegate who hears no one keeps its own view even with self weight 0
    diag = np.where(present & (heard + self_weight[:, None] > 0), self_weight[:, None], 1.0)
    W[:, np.arange(n), np.arange(n)] = diag
    return W / (heard + diag)[:, :, None]


def fj_update(x: Array, x0: Array, W: Array, y: Array, lam: Array) -> Array:
    """x' = Λ ((W − D) y + D x) + (I − Λ) x(0), D = diag(W): Friedkin–Johnsen (Friedkin & Johnsen 1990,
    *J. Math. Sociol.* 15:193) with others heard through what they say.

    With σ = 0 (y = x) this is x' = ΛWx + (I − Λ)x(0), whose fixed point is
    x* = (I − ΛW)⁻¹(I − Λ)x(0); with Λ = I it is DeGroot's x' = Wx (DeGroot 1974).
    """
    n = x.shape[1]
    diag = W[:, np.arange(n), np.arange(n)]
    heard = (W @ y[:, :, None])[:, :, 0] - diag * y + diag * x
    return lam * heard + (1 - lam) * x0


def familiarity_exchange(
    c: Array,
    gain: Array,
    fatigue: Array,
    follow_up: Array,
    hollow: Array | None = None,
    forget: Array | None = None,
) -> tuple[Array, Array]:
    """For pairs who meet, F relaxes toward F* = (α c − η (1 − c)) / k at rate k = α c + (β + η)(1 − c)
    per year: over t years F₁ = F* + (F − F*)(1 − k)^t; follow-up contact adds a fatigue-free share φ
    of a candid exchange and forgetting during meetings (``forget`` = δ d per year) takes a share.
    Returned as the level F∞ and rate ρ (each the shape of c: (B, …), per run along the first axis) of
    :func:`relax`, which solves the flow.

    Over t years (t = Δt, or the part of a round a newcomer is present) the three act together, as
    the linear ODE dF/dt = k̄ (F* − F) + ψ (1 − F) − r F with e^{−k̄} = 1 − k, e^{−ψ} = 1 − α φ c and
    e^{−r} = 1 − δ d per year: dF/dt = ρ (F∞ − F) with ρ = k̄ + ψ + r and
    F∞ = (k̄ F* + ψ)/(k̄ + ψ + r). An exact solution composes over calendar time: two half-year
    rounds give what one year gives. With φ = δ = 0 it is F₁ above, and with t = 1, η = 0 it is
    F₁ = F + α c (1 − F) − β (1 − c) F.

    Candid exchange builds familiarity (Lewicki & Bunker 1996; Kelman's problem-solving
    workshops); scripted exchange wears it down — "dialogue fatigue" (β, sources 001, 002) — and,
    beyond that, breeds distrust (η, ``hollow_distrust``): a meeting "more like 'ships passing in
    the night' than substantive engagement", "pervasive cynicism" (002), pulls F toward −1, so that
    a hollow channel's fixed point F* ≤ 0 (the no-contact level) whenever η ≥ α c / (1 − c): people
    can end up worse placed than strangers. F ∈ [−1, 1]; negative F is distrust.
    """
    B = len(c)
    flat = np.ascontiguousarray(c, dtype=float).reshape(B, -1)
    level, rate = np.empty_like(flat), np.empty_like(flat)
    none = np.zeros(B)
    _exchange(flat, gain, fatigue, follow_up, none if hollow is None else hollow, none if forget is None else forget, level, rate)
    return level.reshape(np.shape(c)), rate.reshape(np.shape(c))


@compiled
def _exchange(c: Array, gain: Array, fatigue: Array, follow_up: Array, hollow: Array, forget: Array, level: Array, rate: Array) -> None:
    """:func:`familiarity_exchange` pair by pair (c (B, P), the rest per run (B,)), into ``level``
    and ``rate``: a compiled loop, one pass instead of numpy's two dozen."""
    for b in range(c.shape[0]):
        a, beta, f, h, r_year = gain[b], fatigue[b], follow_up[b], hollow[b], forget[b]
        for p in range(c.shape[1]):
            ac = a * c[b, p]
            k = ac + (beta + h) * (1 - c[b, p])
            keep_x = max(1 - k, 0.0)
            star = (ac - h * (1 - c[b, p])) / (k if k > 0 else 1.0)  # F*
            if not (f * ac > 0 or r_year > 0):  # k̄ alone (∞ when k ≥ 1: F reaches F* at once)
                level[b, p], rate[b, p] = star, (-math.log(keep_x) if keep_x > 0 else math.inf)
                continue
            kappa = -math.log(max(keep_x, 1e-300))  # rates per year (≤ 690: e^{−690} is 0 anyway)
            psi = -math.log(max(1 - f * ac, 1e-300))
            r = -math.log(max(1 - r_year, 1e-300))
            total = kappa + psi + r
            level[b, p], rate[b, p] = ((kappa * star + psi) / total if total > 0 else 0.0), total


def familiarity_decay(rate: Array, contact: Array, in_contact: Array) -> Array:
    """ρ = −ln(1 − d) per year, (B,): F' = (1 − d)^Δt F (F∞ = 0 in :func:`relax`) in rounds without
    contact (a closed channel, or one still being set up), and with d replaced by δ d for pairs who
    do not meet in rounds with a meeting, δ = ``meeting_decay`` (default 0: people met, nothing is
    forgotten; δ = 1: forgetting between, say, annual meetings is as fast as in a closed channel).
    d is per year; pairs who meet forget as :func:`familiarity_exchange` says.

    Source: modelling assumption (no literature source); reasoning: ODD §7.4 and §7.8 (familiarity
    decays by default only in rounds without a meeting)."""
    d = np.where(contact, rate * in_contact, rate)
    with np.errstate(divide="ignore"):
        return -np.log1p(-d)


@elementwise
def relax(F: float, level: float, rate: float, t: float) -> float:
    """F(t) = F∞ + (F − F∞) e^{−ρ t}: the exact solution of dF/dt = ρ (F∞ − F) over t ≥ 0 years
    (elementwise; t = 0 leaves F, ρ = ∞ reaches F∞ at once). The familiarity of a pair over a
    stretch of a round with fixed coefficients (:func:`familiarity_exchange`, :func:`familiarity_decay`)."""
    return level + (F - level) * math.exp(-rate * t) if t > 0 else F


def idea_chance(c: Array, F: Array, x_i: Array, x_j: Array, eps: Array, rate: Array) -> Array:
    """p = γ c max(F, 0) 1[|x_i − x_j| ≤ ε]: a pair proposes something new only when it speaks
    candidly, knows each other and can still hear each other's private views (Track Two's
    problem-solving approach, source 000; Kelman 2005). Distrust (F < 0) produces nothing."""
    return rate[:, None] * c * np.maximum(F, 0.0) * (np.abs(x_i - x_j) <= eps)


def idea_location(x_i: Array, x_j: Array, u: Array) -> Array:
    """An idea lies between the pair's private positions: z = x_i + u (x_j − x_i), u ~ U(0, 1).

    Source: modelling assumption (no literature source); reasoning: ODD §7.5."""
    return x_i + u * (x_j - x_i)


def report_chance(
    reporting: Array,
    rank: Array,
    tenure: Array,
    ramp: Array,
    gatekeeping: Array,
    loss: Array,
    cynicism: Array | float = 0.0,
    dt: Array | float = 1.0,
) -> Array:
    """q = ρ r min(1, (τ + 1) Δt / T_ramp)(1 − g)(1 − ℓ)(1 − C): the chance a delegate's report of an
    idea reaches the leadership (τ in rounds, T_ramp in years).

    Reporting weight ρ and rank r, a newcomer's learning of reporting lines, a gatekeeping
    ministry g that passes nothing upward (no evidence of reporting beyond one division of
    the Chinese MFA, source 002), translation loss ℓ (untranslated Canadian materials) and the
    side's cynicism C about the channel (nobody upstairs reads what a hollow channel sends).
    Two-level games: Putnam (1988, *IO* 42:427).
    """
    learn = np.minimum(1.0, (tenure + 1) * dt / ramp)
    return reporting * rank * learn * (1 - gatekeeping) * (1 - loss) * (1 - cynicism)


def exposure_step(E: Array, hollow: Array, met: Array, decay: Array, decay_met: Array, wear: Array, dt: Array) -> Array:
    """dE/dt = h − r E with r = −ln((1 − d_m)(1 − w c̄)) per year while a side's delegates meet (h = 1 − c̄
    the scripted share of their exchanges, c̄ their mean candor, w = ``candor_wear``, d_m = ε d with
    ε = ``exposure_meeting_decay``), r = −ln(1 − d) otherwise; solved exactly over a round:
    E' = a E + h (1 − a)/r, a = e^{−r Δt} (→ E + h Δt as r → 0).

    A side's net exposure to hollow meetings, in hollow years: scripted meetings add to it, candid
    ones wear it down, and it is forgotten at the familiarity decay rate d (``decay`` and
    ``decay_met`` are the per-round d and d_m). Exposure itself does nothing; cynicism and
    substitution read it. Both defaults favour the kept-open arm, whose cost it is: ε = 1 (exposure
    is forgotten while the side meets, where familiarity, with δ = ``meeting_decay`` = 0, is not)
    and w = 0.5; ε = δ gives exposure familiarity's rule, w = 0 no wear (ODD §1 lists both).

    Source: what it stands for is from 001 ("after nine years of futile discussions") and 002
    ("dialogue fatigue has set in"); the equation is a modelling assumption (no literature source);
    reasoning: ODD §7.5.
    """
    keep_round = (1 - np.where(met, decay_met[:, None], decay[:, None])) * np.where(met, 1 - wear[:, None] * (1 - hollow), 1.0) ** dt[
        :, None
    ]
    r_dt = -np.log(np.maximum(keep_round, 1e-300))  # r Δt
    gain = np.where(r_dt > 1e-12, (1 - keep_round) / np.where(r_dt > 1e-12, r_dt, 1.0), 1.0) * dt[:, None]
    return E * keep_round + np.where(met, hollow * gain, 0.0)


def cynicism_of(E: Array, rate: Array) -> Array:
    """C = 1 − exp(−κ E): cynicism grows with cumulative exposure to hollow meetings.

    "After nine years of futile discussions ... officials are increasingly dissatisfied and
    cynical", "pervasive cynicism" and "dialogue fatigue" (sources 001, 002). Monotone in exposure
    at any rate κ > 0, so that more hollow meetings always mean more cynicism, and a side that
    stopped meeting years ago (less exposure) is less cynical than one that kept meeting, however
    large κ. The default κ = 0.1 per hollow year gives C ≈ 0.37 after the Canada–China dialogue's
    nine years (E ≈ 4.55 after eight meetings at candor ≈ 0.051, forgotten at d = 0.1 per year and
    through the 2001 gap; ``canada-china-hrd``, deterministic given the events); κ = 0.15 gives C ≈ 0.5.
    """
    return 1 - np.exp(-rate * E)


def substituted_target(target: Array, share: Array, E: Array) -> Array:
    """m*' = m* (1 − ς (1 − e^{−E})): a hollow channel stands in for other pressure, so the
    leadership it spares is less motivated to settle.

    The Canada–China dialogue was China's price for Canada dropping its Geneva resolution: "a
    concession to Canada in return for Canada not supporting a resolution condemning China"; NGOs
    feared "the bilateral dialogues could be detracting from the effectiveness of multilateral
    mechanisms" (source 002; 001). Pressure returns as exposure is forgotten after a channel closes.
    """
    return target * (1 - share * (1 - np.exp(-E)))


def entrench(v: Array, line: Array, sigma: Array, rate: Array, present: Array, dt: Array | float = 1.0) -> Array:
    """v' = L + (v − L)(1 − e σ)^t for delegates present t years (Δt, or less for a newcomer):
    who restates the line drifts privately toward it (public commitment and self-persuasion:
    Festinger & Carlsmith 1959; Cialdini 2001). e is per year; the exact solution of
    dv/dt = ln(1 − e σ)(v − L) (a pull toward L: ln(1 − e σ) ≤ 0), so rounds compose over calendar time (t = 1: v + e σ (L − v)).
    Applied to the private view and the Friedkin–Johnsen anchor alike."""
    return _entrenched(v, line, sigma, rate, present, dt)


@elementwise
def _entrenched(v: float, line: float, sigma: float, rate: float, present: bool, dt: float) -> float:
    """:func:`entrench`, elementwise."""
    if not present:
        return v
    if dt == 1.0:
        return v + rate * sigma * (line - v)
    return line + (v - line) * (1 - rate * sigma) ** dt


def filing_chance(q: Array, serious: Array, filing: Array) -> Array:
    """Q' = Q (1 if the leadership is serious, else f): a leadership that is not yet serious files
    away only a share f of the ideas it is told (``lean_filing``). The idea memory of lean
    leaderships is a carry-over that favours keeping a channel open; f = 0 switches it off.

    Source: that ideas wait until officials are ready is from 000 ("Such new ideas are then fed into
    the official process – where they can prove helpful if and when officials have reached a point
    where they want to explore new possibilities"); the share f is a modelling assumption (no
    literature source); reasoning: ODD §1 (carry-overs) and §7.5."""
    return q * np.where(serious, 1.0, filing)[:, None, :]


def winset_half_width(m: Array, w0: Array, gain: Array) -> Array:
    """w = w₀ + w₁ m: a motivated leadership can ratify more (Putnam's win-set widens)."""
    return w0 + gain * m


def acceptable(centers: Array, line: Array, half_width: Array) -> Array:
    """A_s(z) = 1[|z − L_s| ≤ w_s] for every idea bin z (shape B, S, G).

    Source: the win-set of Putnam (1988, *IO* 42:427); that it is an interval around the line is a
    modelling assumption; reasoning: ODD §7.2."""
    return np.abs(centers[None, None, :] - line[:, :, None]) <= half_width[:, :, None]


def ratification(centers: Array, line: Array, half_width: Array, softness: Array, u: Array) -> Array:
    """Leadership s ratifies bin z if u_s < p_sz, p_sz = exp(−(|z − L_s| − w_s)₊ / (s w_s)): certain
    inside the win-set, less likely the further beyond it, relative to its width (a soft
    Putnam win-set). s = 0 is the sharp rule :func:`acceptable` (its limit as s → 0). One
    uniform per side and round: the leadership's disposition that round (B, S, G)."""
    d = np.abs(centers[None, None, :] - line[:, :, None]) - half_width[:, :, None]
    scale = softness[:, None, None] * np.maximum(half_width[:, :, None], 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(d <= 0, 1.0, np.where(scale > 0, np.exp(-np.maximum(d, 0) / np.where(scale > 0, scale, 1.0)), 0.0))
    return u[:, :, None] < p


def agreement_support(known: Array, inside: Array, motivated: Array, player: Array) -> Array:
    """ok_sz = known_sz ∧ A_s(z) ∧ m_s ≥ θ for players; neutral hosts always consent.

    Agreement needs an idea in every leadership's memory that lies inside every
    side's win-set while every leadership is serious (Putnam 1988)."""
    ok = known & inside & motivated[:, :, None]
    return ok | ~player[None, :, None]


def member_cost(meeting: Array, active: Array, rank: Array) -> Array:
    """cost = meeting × Σ_i active_i r_i: delegation size times rank, per meeting.

    Source: that the dialogue costs its participants is from 001 ("a great drain of their time and
    resources"); the form is a modelling assumption (no literature source); reasoning: ODD §7.5
    (an output only: it feeds back on nothing)."""
    return meeting * (active * rank).sum(axis=1)


def newcomer_familiarity(
    F: Array, leave: Array, handover: Array, memory: Array, A: Array, side_of: Array, active: Array, cross: Array, distrust: Array
) -> Array:
    """F'_ij = max(H, M) with H = h_i h_j F_ij and M = max(μ_i A_{s_i s_j}, μ_j A_{s_j s_i}) for
    pairs with a delegate who leaves, where h and μA count only for leavers (h = 1, μA = 0 for
    stayers); other pairs keep F. Handed-over distrust (H < 0) is kept at the run's share q =
    ``distrust`` (B,): F'_ij = q H + (1 − q) M; at q = 0 (the default) F'_ij = M ≥ 0.

    Turnover wipes familiarity except what a handover (h) or the side's institutional
    memory of its alumni's contacts (μ A) carries; the constantly changing Canadian
    participants who must "start from the beginning" (source 002). Whether a successor is
    briefed on the counterpart's bad faith as well has no source: q = 0 lets turnover erase the
    lean years' distrust (which favours a channel kept open, ODD §1). Only the leavers' rows and
    columns are computed (:func:`newcomer_rows`); pairs that are not both active across sides
    get 0.
    """
    b, i = np.nonzero(leave)
    if len(b) == 0:
        return F
    row = newcomer_rows(F, b, i, leave[b], handover, memory, A, side_of, active, cross, distrust)
    F = F.copy()
    F[b, i, :] = row
    F[b, :, i] = row
    return F


@compiled
def newcomer_rows(
    F: Array,
    b: Array,
    i: Array,
    leave_b: Array,
    handover: Array,
    memory: Array,
    A: Array,
    side_of: Array,
    active: Array,
    cross: Array,
    distrust: Array,
) -> Array:
    """The rows F'_{i·} (L, N) of :func:`newcomer_familiarity` for the leavers (b, i) (L,), whose
    runs' leavers are ``leave_b`` (L, N); the caller writes them into row and column i. A loop over
    the leavers (:func:`_newcomer_row`), compiled."""
    out = np.empty((len(b), F.shape[1]))
    for row in range(len(b)):
        _newcomer_row(F, b[row], i[row], leave_b[row], handover, memory, A, side_of, active, cross, distrust[b[row]], out[row])
    return out


@compiled
def _newcomer_row(
    F: Array,
    r: int,
    k: int,
    leave_r: Array,
    handover: Array,
    memory: Array,
    A: Array,
    side_of: Array,
    active: Array,
    cross: Array,
    distrust: float,
    out: Array,
) -> None:
    """Writes into ``out`` (N,) the row F'_{k·} of :func:`newcomer_familiarity` for leaver k of run r,
    whose leavers are ``leave_r`` (N,), with the run's share of handed-over distrust ``distrust``."""
    sk = side_of[k]
    for j in range(F.shape[1]):
        keep = handover[r, j] if leave_r[j] else 1.0  # h for leavers, 1 for stayers
        brief = memory[r, j] if leave_r[j] else 0.0
        mine = memory[r, k] * A[r, sk, side_of[j]]  # μ_i A_{s_i s_j}
        theirs = brief * A[r, side_of[j], sk]  # μ_j A_{s_j s_i}
        carried = handover[r, k] * keep * F[r, k, j]
        told = max(mine, theirs)
        value = distrust * carried + (1.0 - distrust) * told if carried < 0.0 and distrust > 0.0 else max(carried, told)
        out[j] = value if cross[k, j] and active[r, k] and active[r, j] else 0.0


@compiled
def alumni_update(A: Array, F: Array, leave: Array, active: Array, side_of: Array, starts: Array) -> Array:
    """A'_st = max(A_st, max_{i ∈ s leaving} mean_{j ∈ t, active} F_ij): a side's alumni keep
    the contacts they made; the best-connected leaver sets what the side can recall. Sides are
    contiguous slots from ``starts``. A loop over the leavers (:func:`_alumni_add`), compiled.

    Source: modelling assumption (no literature source); reasoning: ODD §7.6 and §7.8."""
    out = A.copy()
    for r in range(leave.shape[0]):
        for k in range(leave.shape[1]):
            if leave[r, k]:
                _alumni_add(out, F, r, k, active, side_of, starts)
    return out


@compiled
def _alumni_add(A: Array, F: Array, r: int, k: int, active: Array, side_of: Array, starts: Array) -> None:
    """A_{s_k t} ← max(A_{s_k t}, mean_{j ∈ t, active} F_kj) in place, for leaver k of run r
    (:func:`alumni_update`)."""
    n, S = F.shape[1], len(starts)
    for t in range(S):
        total, count = 0.0, 0
        for j in range(starts[t], starts[t + 1] if t + 1 < S else n):
            if active[r, j]:
                total += F[r, k, j]
                count += 1
        A[r, side_of[k], t] = max(A[r, side_of[k], t], total / max(count, 1))


@compiled
def familiarity_arrivals(
    F: Array,
    A: Array,
    level: Array,
    rate: Array,
    pair_index: Array,
    arrival: Array,
    leave: Array,
    decay: Array,
    handover: Array,
    memory: Array,
    active: Array,
    side_of: Array,
    starts: Array,
    cross: Array,
    distrust: Array,
) -> Array:
    """Familiarity F (B, N, N) and alumni contacts A (B, S, S), in place, up to the last newcomer's
    arrival of each run (``arrival``, years into the round, of the seats that ``leave``), and the
    time each run has reached (B,): at each arrival, in order of time, the leaver's row flows up to it
    (:func:`relax` at the level and rate of pair p = ``pair_index[i, j]``, from the pair's last reset),
    A fades (:func:`alumni_decay`), the leaver's contacts join the alumni (:func:`_alumni_add`) and
    the newcomer's row is reset (:func:`_newcomer_row`). The rest of the round, every pair's flow,
    is the caller's. A loop over runs and arrivals, compiled."""
    B, n = leave.shape
    clock = np.zeros(B)
    done, one, row = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_), np.empty(n)
    for r in range(B):
        order = np.argsort(np.where(leave[r], arrival[r], np.inf), kind="mergesort")
        done[:] = False
        for i in order[: leave[r].sum()]:
            t = arrival[r, i]
            for j in range(n):
                p = pair_index[i, j]
                F[r, i, j] = F[r, j, i] = relax(F[r, i, j], level[r, p], rate[r, p], t - (arrival[r, j] if done[j] else 0.0))
            for s in range(A.shape[1]):
                for u in range(A.shape[2]):
                    A[r, s, u] = alumni_decay(A[r, s, u], decay[r], t - clock[r])
            _alumni_add(A, F, r, i, active, side_of, starts)
            one[i] = True
            _newcomer_row(F, r, i, one, handover, memory, A, side_of, active, cross, distrust[r], row)
            one[i] = False
            F[r, i, :] = row
            F[r, :, i] = row
            clock[r] = t
            done[i] = True
    return clock


def recall_contacts(F: Array, member_recall: Array, alumni_ij: Array, pair_ok: Array) -> Array:
    """F'_ij = max(F_ij, ρ_i A_{s_i s_j}, ρ_j A_{s_j s_i}): an upgraded delegation draws on people
    with prior contact ("participation patterns changed quickly", source 000). Pairs without any
    alumni pull keep F, distrust included."""
    pull = member_recall[:, :, None] * alumni_ij
    best = np.maximum(pull, np.swapaxes(pull, 1, 2))
    return np.where(pair_ok & (best > 0), np.maximum(F, best), F)


def leaves(u: Array, rate: Array, active: Array) -> Array:
    """leave_i = a_i ∧ u_i < p_i: each active delegate is replaced with probability p per round
    (the "constantly changing" Canadian participants, source 002)."""
    return active & (u < rate)


def arrival_time(u: Array, rate: Array, leave: Array, dt: Array) -> Array:
    """When in a round of Δt years a replaced seat's newcomer arrives: at the seat's last
    replacement, Δt − τ with τ = −ln(1 − u)/λ, λ = −ln(1 − p) the yearly hazard of turnover p; 0 for
    seats not replaced (B, N; years into the round).

    Replacements are a Poisson process of rate λ; the round replaces the seat if u < 1 − e^{−λΔt}
    (:func:`leaves`), and given that, u is uniform on [0, 1 − e^{−λΔt}), so τ, the time from the
    last event to the round's end, has density ∝ λ e^{−λτ} on [0, Δt] — the density of the time
    since the last event of a Poisson process, truncated to the round. The newcomer then meets only
    for τ: by the Markov property one round of Δt and two of Δt/2 give the same seat process."""
    lam = -np.log1p(-np.minimum(rate, 1.0))  # inf for p = 1: a newcomer at the very end
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(lam > 0, -np.log1p(-np.minimum(u, 1.0 - 1e-16)) / np.where(np.isfinite(lam) & (lam > 0), lam, 1.0), 0.0)
    tau = np.where(np.isinf(lam), 0.0, tau)
    d = dt[:, None]
    return np.where(leave, d - np.minimum(tau, d), 0.0)


def participation_shift(level: Array, shift: Array) -> Array:
    """v' = v + π (1 − v): a leadership that turns serious sends more senior people
    ("participation patterns changed quickly", source 000)."""
    return level + shift * (1 - level)


def crossed_threshold(before: Array, after: Array, theta: Array, player: Array) -> Array:
    """A player side whose motivation crosses θ upward in this step: m < θ ≤ m'.

    Source: the shift once "the leadership of both countries finally became serious" is from 000;
    the threshold θ is a modelling assumption; reasoning: ODD §7.2."""
    return (after >= theta) & (before < theta) & player[None, :]


def meets(is_open: Array, setup_left: Array) -> Array:
    """μ = o ∧ (k = 0): an open channel meets once its set-up is over.

    Source: modelling assumption (no literature source); reasoning: ODD §1 (set-up delay) and §7.7."""
    return is_open & (setup_left == 0)


def setup_countdown(setup_left: Array, is_open: Array, meeting: Array) -> Array:
    """k' = max(k − 1, 0) in an open channel that did not meet; unchanged otherwise.

    Source: modelling assumption (no literature source); reasoning: ODD §1 (set-up delay) and §7.7."""
    return np.where(is_open & ~meeting, np.maximum(setup_left - 1, 0), setup_left)


def head_report_chance(q: Array, rank: Array, active: Array, side_of: Array, starts: Array) -> Array:
    """q_head(s): the report chance of side s's head of delegation (its active member of
    highest rank), who relays ideas of pairs without a member of s (shape B, S).

    Source: modelling assumption (no literature source); reasoning: ODD §7.5 (routing) and §7.8."""
    head_rank = np.maximum.reduceat(np.where(active, rank, -1.0), starts, axis=1)
    return np.maximum.reduceat(np.where(active & (rank == head_rank[:, side_of]), q, 0.0), starts, axis=1)


def age_memory(age: Array, follow_up: Array, meeting: Array, dt: Array | float = 1.0) -> Array:
    """age' = age + Δt (1 − φ μ): remembered ideas age by a round's length in years, more slowly
    when follow-up keeps them alive between meetings.

    Source: the lack of follow-up in the Canada–China case is from 002 ("little opportunity for
    follow-up"; 001: "little chance for any follow-up"); that follow-up slows the ageing is a
    modelling assumption (no literature source);
    reasoning: ODD §7.5 (memory) and §7.8."""
    return age + (dt * (1 - follow_up * meeting))[:, None, None]


def idea_known(age: Array, lifetime: Array) -> Array:
    """known_sz = age_sz < T_idea: a leadership uses an idea for T_idea years after its report.

    Source: modelling assumption (no literature source); reasoning: ODD §7.5 (memory)."""
    return age < lifetime[:, None, None]


def hollow_share(c: Array, meet: Array, pair_sides: Array) -> tuple[Array, Array]:
    """h_s = 1 − mean candor over side s's cross-side meeting pairs, and the number of those pairs
    (h_s is 0 where a side had no meeting pair); ``c`` and ``meet`` per cross-side pair (B, P), and
    ``pair_sides`` (P, S) 1 where side s has a member in pair p (:attr:`Layout.pair_sides`).

    Source: modelling assumption (no literature source); reasoning: ODD §7.5 (``exposure_step``)."""
    pairs_s = meet @ pair_sides
    candid_s = (c * meet) @ pair_sides
    return np.where(pairs_s > 0, 1 - candid_s / np.maximum(pairs_s, 1), 0.0), pairs_s


@elementwise
def alumni_decay(A: float, rate: float, dt: float) -> float:
    """A' = (1 − d)^Δt A: former delegates' contacts fade like familiarity (d per year; elementwise)."""
    return A * (1 - rate) ** dt


def agreement_progress(ok: Array, player: Array) -> tuple[Array, Array]:
    """progress = max_z (1/#players) Σ_players ok_sz; reached = ∃z ∀s ok_sz.

    Source: agreement needs every side's consent, as in Putnam's (1988) two-level games
    (:func:`agreement_support`); ``progress`` as a share of players is a modelling assumption (no
    literature source); reasoning: ODD §7.5."""
    progress = (ok & player[None, :, None]).sum(axis=1).max(axis=1) / player.sum()
    return progress, ok.all(axis=1).any(axis=1)


def downgraded_level(level: Array, factor: Array | float) -> Array:
    """v' = f v: a downgrade sends more junior people (China's MFA downgrading its head of
    delegation, source 002)."""
    return level * factor


def upgraded_level(level: Array, factor: Array | float) -> Array:
    """v' = min(1, v / f): an upgrade undoes a downgrade of the same factor.

    Source: modelling assumption (no literature source; the inverse of :func:`downgraded_level`,
    whose downgrade is from 002); reasoning: ODD §7.7."""
    return np.minimum(1.0, level / factor)


def crisis_familiarity(F: Array, severity: float) -> Array:
    """F' = (1 − severity) F: a crisis destroys a share of the trust built up.

    Source: modelling assumption (no literature source); reasoning: ODD §7.7."""
    return F * (1 - severity)


def heads(rank: Array, active: Array, side_of: Array, starts: Array) -> Array:
    """(B, N) True for each side's head of delegation: its active member of highest rank.

    Source: modelling assumption (no literature source); reasoning: ODD §7.8."""
    head_rank = np.maximum.reduceat(np.where(active, rank, -1.0), starts, axis=1)
    return active & (rank == head_rank[:, side_of])


def contact_mask(kind: Array, head: Array, side_of: Array) -> Array:
    """Who can hear whom (B, N, N). kind 0: everyone present (the complete graph). kind 1: a
    hierarchy — colleagues talk with their head, and sides talk only head to head (the Chinese MFA
    "dominating the limited time" while other ministries sit by, source 002). With one member per
    side every member is its head, so kind 1 is the complete graph."""
    same = side_of[:, None] == side_of[None, :]
    hi, hj = head[:, :, None], head[:, None, :]
    hier = np.where(same[None], hi | hj, hi & hj)
    return np.where(kind[:, None, None] == 1, hier, True)


def dw_encounters(
    x: Array,
    line: Array,
    sigma: Array,
    eps: Array,
    ok: Array,
    mu: Array,
    pair_i: Array,
    pair_j: Array,
    u: Array,
    share: Array | None = None,
) -> Array:
    """Asynchronous pairwise Deffuant–Weisbuch (Deffuant et al. 2000): encounters e = 1…E in
    order, each taking place with probability p (``share``, (B,); 1 if not given) and then the pair
    k = ⌊(u_e / p) K⌋ of the K slot pairs (one uniform for both); if the pair may meet (``ok``), each
    hears what the other says, y = σ L + (1 − σ) x, and moves a share μ toward it when within its
    bound: x_i' = x_i + μ 1[|x_i − y_j| ≤ ε_ij] (y_j − x_i). With σ = 0, ε ≥ 1 and μ = ½ this is
    pairwise averaging. p = Δt makes E encounters a year on average whatever the meetings (a
    thinned process: E a year at one meeting, Binomial(2E, ½) at two)."""
    x = x.copy()
    B = x.shape[0]
    rows = np.arange(B)
    K = len(pair_i)
    m = mu[:, None] if np.ndim(mu) == 1 else mu
    p = np.ones(B) if share is None else share
    for e in range(u.shape[1]):
        happens = u[:, e] < p
        k = np.minimum((u[:, e] / p * K).astype(int), K - 1)
        i, j = pair_i[k], pair_j[k]
        go = ok[rows, i, j] & happens
        if not go.any():
            continue
        xi, xj = x[rows, i], x[rows, j]
        yi = sigma[rows, i] * line[rows, i] + (1 - sigma[rows, i]) * xi
        yj = sigma[rows, j] * line[rows, j] + (1 - sigma[rows, j]) * xj
        e_ij = eps[rows, i, j]
        ni = xi + m[:, 0] * (np.abs(xi - yj) <= e_ij) * (yj - xi)
        nj = xj + m[:, 0] * (np.abs(xj - yi) <= e_ij) * (yi - xj)
        x[rows, i] = np.where(go, ni, xi)
        x[rows, j] = np.where(go, nj, xj)
    return x


_TAYLOR = np.array([1.0 / math.factorial(k) for k in range(25)])  # 1/k!, k = 0..24


@compiled
def _norm_inf(M: Array) -> float:
    """‖M‖∞, the largest row sum of |M| (n, n). Compiled."""
    norm = 0.0
    for i in range(M.shape[0]):
        row = 0.0
        for j in range(M.shape[1]):
            row += abs(M[i, j])
        norm = max(norm, row)
    return norm


@compiled
def _expm_dense(M: Array, E: Array, work: Array) -> None:
    """E = e^M (n, n), by scaling and squaring with the degree-24 Taylor polynomial, in Horner's
    form: e^M = (T₂₄(M / 2^s))^(2^s) with ‖M‖∞ / 2^s ≤ θ = 2.1, truncation error
    ‖e^X − T₂₄(X)‖ ≤ θ²⁵ e^θ / 25! ≈ 6e-17 (Moler & Van Loan 2003, *SIAM Rev.* 45:3, method 3), so
    the result depends on M alone. ``work`` is scratch (2, n, n). Compiled: for the stiff matrices
    of :func:`expm_action`; scipy.linalg.expm gives the same to 1e-12 (tests/test_rules.py)."""
    n = M.shape[0]
    norm = _norm_inf(M)
    s = int(math.ceil(math.log2(norm / 2.1))) if norm > 2.1 else 0
    X, P = work[0], work[1]
    X[:] = M * 2.0**-s  # M / 2^s, exactly
    E[:] = 0.0
    for i in range(n):
        E[i, i] = 1.0
    for k in range(24, 0, -1):  # E ← I + X E / k: T₂₄(X) by Horner's rule
        for i in range(n):
            for j in range(n):
                dot = 0.0
                for q in range(n):
                    dot += X[i, q] * E[q, j]
                P[i, j] = dot / k
        E[:] = P
        for i in range(n):
            E[i, i] += 1.0
    for _ in range(s):  # squaring
        for i in range(n):
            for j in range(n):
                dot = 0.0
                for q in range(n):
                    dot += E[i, q] * E[q, j]
                P[i, j] = dot
        E[:] = P


_LOG_U = math.log(2.0**-53)  # the unit roundoff of a double


def _remainder_ok(nu: float, m: int) -> bool:
    """ν^{m+1} e^ν / (m + 1)! ≤ u = 2⁻⁵³, in logs: the Taylor remainder bound of :func:`taylor_degree`."""
    return nu == 0.0 or (m + 1) * math.log(nu) + nu - math.lgamma(m + 2) <= _LOG_U


def _largest_norm(m: int) -> float:
    """θ_m, the largest ν whose degree-m remainder bound is below u (bisection to the last bit; the
    bound increases with ν)."""
    lo, hi = 0.0, 64.0
    while math.nextafter(lo, hi) < hi:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _remainder_ok(mid, m) else (lo, mid)
    return lo


_THETA = np.array([_largest_norm(m) for m in range(25)])  # θ_0 < … < θ_24 ≈ 2.15


def taylor_degree(norm: Array | float) -> Array:
    """The least degree m ≤ 24 with ν^{m+1} e^ν / (m + 1)! ≤ u = 2⁻⁵³ for ν = ‖X‖ ≤ 2.1 (any
    subordinate norm): the bound on ‖e^X v − Σ_{k≤m} X^k v / k!‖ / ‖v‖ (the Taylor remainder), so
    a degree-m sum is exact to rounding (Moler & Van Loan 2003, *SIAM Rev.* 45:3, method 3;
    Al-Mohy & Higham 2011, *SIAM J. Sci. Comput.* 33:488). ν = 0.3 needs degree 12, ν = 2.1
    degree 24. Looked up in θ_m, the largest ν each degree covers (from the bound, once; the
    compiled loop of :func:`expm_action` looks it up the same way)."""
    return np.searchsorted(_THETA, norm)


@compiled
def _taylor_one(M: Array, v: Array, theta: Array, out: Array, work: Array, dense: int) -> None:
    """out = e^M v (:func:`expm_action`) for one matrix M (n, n) and vector v (n,) (``out`` may be
    ``v``): Taylor steps, or, for a stiff M, e^M itself (:func:`_expm_dense`). Rows from ``dense``
    on hold at most their diagonal entry (as in :func:`fj_generator`), so their products skip the
    zeros. Each product sums over the columns in order, four rows at a time (four running sums
    the compiler keeps in one vector register), so the sums are the written ones, bit for bit on
    any machine (no reassociation, no fused multiply-adds). ``work`` is scratch (3 + n, n) and,
    for a stiff M, (2, n, n) more (allocated then). Compiled."""
    n = M.shape[0]
    norm = _norm_inf(M)
    steps = max(math.ceil(norm / 2.1), 1.0)
    if steps > 8:
        E = np.empty((n, n))
        _expm_dense(M, E, np.empty((2, n, n)))
        for i in range(n):
            dot = 0.0
            for j in range(n):
                dot += E[i, j] * v[j]
            work[0, i] = dot
        out[:] = work[0]
        return
    term, new, acc = work[0], work[1], work[2]
    MT = work[3:]
    MT[:] = M.T  # column j of M, contiguous: four rows' entries of it side by side
    m, per = np.searchsorted(theta, norm / steps), 1.0 / steps  # taylor_degree
    acc[:] = v
    for _ in range(int(steps)):
        term[:] = acc
        for k in range(1, m + 1):  # X^k v / k!, X = M / s
            c = per / k
            i = 0
            while i + 4 <= dense:
                a0 = a1 = a2 = a3 = 0.0
                for j in range(n):
                    t = term[j]
                    a0 += MT[j, i] * t
                    a1 += MT[j, i + 1] * t
                    a2 += MT[j, i + 2] * t
                    a3 += MT[j, i + 3] * t
                new[i], new[i + 1], new[i + 2], new[i + 3] = a0 * c, a1 * c, a2 * c, a3 * c
                i += 4
            for r in range(i, dense):  # the rows left over
                dot = 0.0
                for j in range(n):
                    dot += MT[j, r] * term[j]
                new[r] = dot * c
            for i in range(dense, n):
                new[i] = MT[i, i] * term[i] * c
            term[:] = new
            acc += new
    out[:] = acc


@compiled
def _taylor_each(M: Array, v: Array, theta: Array, out: Array) -> None:
    """out[b] = e^{M[b]} v[b] (:func:`_taylor_one`) for each matrix of the batch, compiled."""
    work = np.empty((3 + M.shape[1], M.shape[1]))
    for b in range(M.shape[0]):
        _taylor_one(M[b], v[b], theta, out[b], work, M.shape[1])


@compiled
def flow_round(
    x: Array,
    anchor: Array,
    views: Array,
    fresh: Array,
    line: Array,
    lam: Array,
    sigma: Array,
    entrenchment: Array,
    present: Array,
    leave: Array,
    arrival: Array,
    span: Array,
    W: Array,
    rate: Array,
    r_side: Array,
    side_of: Array,
    x_end: Array,
    anchor_end: Array,
) -> None:
    """Views ``x_end`` and anchors ``anchor_end`` (g, N), in place, of each run after ``span`` years
    (g,) of the flow :func:`fj_flow`, solved exactly through the round's arrivals (``leave``,
    ``arrival``: years into the span): the pieces between arrivals, in order of time (ties by seat),
    each ending with the newcomer's view (``views``) and anchor (``fresh``) taking his seat.

    Over piece k, from its start t_k, z = (x, e^{−r_s t} per side, 1) flows as dz/dt = G_k z, so
    z ← e^{G_k (t_{k+1} − t_k)} z (:func:`_taylor_one`); the decay terms start at 1 again with each
    piece. G_k is the run's generator (:func:`_fill_generator`) with each seat's anchor entry
    G[i, N + s(i)] = ξ_i (1 − λ_i)(a_i − L_i) (:func:`anchor_pull`) for a_i the anchor of the seat's
    occupant at t_k (the newcomer's once he has arrived), entrenched since he took the seat
    (:func:`_entrenched`, t_k − his arrival years); the anchors at the end of the span likewise.
    ``entrenchment`` is e per seat, ``r_side`` the rates of :func:`entrench_rates` per side, ``rate``
    ξ per run. The arithmetic of every entry is that of the rules named, so the numbers are theirs.
    A loop over runs and pieces, compiled: one pass per run where numpy needed a call per step
    (:func:`sim.core.step.positions_through_round`)."""
    g_runs, n = x.shape
    S = r_side.shape[1]
    D = n + S + 1
    G = np.zeros((1, D, D))
    M, work, z = np.empty((D, D)), np.empty((3 + D, D)), np.empty(D)
    pull, when = np.empty((1, n)), np.empty(n)
    for g in range(g_runs):
        count = 0
        for i in range(n):
            when[i] = arrival[g, i] if leave[g, i] else np.inf
            count += leave[g, i]
        order = np.argsort(when, kind="mergesort")  # stable: tied arrivals by seat
        z[:n] = x[g]
        z[n:] = 1.0
        start = 0.0
        for k in range(count + 1):
            for i in range(n):  # each seat's anchor at the piece's start, and its entry of G
                a = _seat_anchor(
                    start, anchor[g, i], fresh[g, i], leave[g, i], arrival[g, i], line[g, i], sigma[g, i], entrenchment[g, i], present[g, i]
                )
                pull[0, i] = anchor_pull(a, line[g, i], lam[g, i], rate[g] * present[g, i])
            if k == 0:
                r = slice(g, g + 1)
                _fill_generator(G, pull, W[r], line[r], sigma[r], lam[r], present[r], rate[r], r_side[r], side_of)
            end = min(when[order[k]] if k < count else np.inf, span[g])
            M[:] = G[0]
            for i in range(n):
                M[i, n + side_of[i]] = pull[0, i]
            M *= end - start
            _taylor_one(M, z, _THETA, z, work, n)
            z[n:] = 1.0
            if k < count:
                z[order[k]] = views[g, order[k]]
                start = when[order[k]]
        x_end[g] = z[:n]
        for i in range(n):
            anchor_end[g, i] = _seat_anchor(
                span[g], anchor[g, i], fresh[g, i], leave[g, i], arrival[g, i], line[g, i], sigma[g, i], entrenchment[g, i], present[g, i]
            )


@compiled
def _seat_anchor(
    t: float, held: float, fresh: float, leaves: bool, arrived: float, line: float, sigma: float, e: float, present: bool
) -> float:
    """A seat's anchor t years into the span (:func:`flow_round`): its newcomer's (``fresh``) once he
    has arrived (``arrived`` ≤ t), else the one it held, entrenched since its occupant took the
    seat (:func:`_entrenched`)."""
    new = leaves and arrived <= t
    return _entrenched(fresh if new else held, line, sigma, e, present, t - (arrived if new else 0.0))


def expm_action(M: Array, v: Array) -> Array:
    """e^M v for a batch of small matrices M (B, n, n) and vectors v (B, n), without forming e^M:
    e^M v = (e^{M/s})^s v with s = ⌈‖M‖∞ / 2.1⌉ steps, each the Taylor sum Σ_{k≤m} X^k v / k! of
    X = M / s to the degree m of :func:`taylor_degree` (exact to rounding): m matrix–vector
    products per step instead of the ~25 matrix–matrix products of e^M (Al-Mohy & Higham 2011,
    *SIAM J. Sci. Comput.* 33:488, whose ``expm_multiply`` in SciPy does the same per matrix).
    Each matrix's result depends on that matrix and vector alone, not on the rest of the batch: the
    loop over matrices is compiled (numba, :func:`_taylor_one`), as numpy's calls over such small
    products cost more than the arithmetic. Matrices that would need more than 8 steps (stiff ones:
    ‖M‖∞ > 16.8) get e^M itself (:func:`_expm_dense`), whose squarings cost log₂ of that."""
    M = np.ascontiguousarray(M, dtype=float)
    v = np.ascontiguousarray(v, dtype=float)
    out = np.empty_like(v)
    _taylor_each(M, v, _THETA, out)
    return out


def fj_flow(
    x: Array,
    x0: Array,
    W: Array,
    line: Array,
    sigma: Array,
    lam: Array,
    present: Array,
    rate: Array,
    entrench_side: Array,
    side_of: Array,
    t: Array,
) -> tuple[Array, Array]:
    """Private views x and anchors x(0) after t years (B,) of the Friedkin–Johnsen flow with
    entrenchment, solved exactly:

        dx/dt = ξ (A x + b − x) + r (L − x),   dx(0)/dt = r (L − x(0)),
        A = Λ ((W − D)(I − Σ) + D),   b = Λ (W − D) Σ L + (I − Λ) x(0),

    for present delegates (absent ones keep their views), with W the bounded-confidence weights
    of :func:`influence_weights` (held over t), D = diag(W), Σ = diag(σ), Λ = diag(λ), ξ the
    influence rate per year and r = −ln(1 − e σ) the entrenchment rate of :func:`entrench`
    (``entrench_side``: e σ per side, shared by a side's members). A x + b is :func:`fj_update`
    (others heard through what they say, y = Σ L + (I − Σ) x), so the flow has the map's fixed
    point, and at ξ = 1 the map is the flow's Euler step of a year. It is the continuous-time
    Friedkin–Johnsen model (Taylor 1968, *Human Relations* 21:121; Proskurnikov & Tempo 2017,
    *Annu. Rev. Control* 43:65), as Abelson's (1964) is DeGroot's. With x(0) = L + (x(0) − L) e^{−r t}
    the state z = (x, e^{−r_s t} per side s, 1) obeys dz/dt = G z, so z(t) = e^{G t} z(0): a batched
    matrix exponential (its action, :func:`expm_action`), which also covers a singular I − A. Being exact, it
    composes: for the same W, rounds of any length give the same path."""
    B, n = x.shape
    S = entrench_side.shape[1]
    G = fj_generator(x0, W, line, sigma, lam, present, rate, entrench_side, side_of)
    G *= t[:, None, None]
    z = np.concatenate([x, np.ones((B, S + 1))], axis=1)
    z = expm_action(G, z)
    r = entrench_rates(entrench_side)[:, side_of] * present
    return z[:, :n], line + (x0 - line) * np.exp(-r * t[:, None])


def entrench_rates(entrench_side: Array) -> Array:
    """r_s = −ln(1 − e σ) per year, (B, S), from e σ per side: the rate of :func:`entrench` as a
    continuous flow."""
    return -np.log(np.maximum(1 - entrench_side, 1e-300))


def fj_generator(
    x0: Array, W: Array, line: Array, sigma: Array, lam: Array, present: Array, rate: Array, entrench_side: Array, side_of: Array
) -> Array:
    """G (B, N + S + 1, N + S + 1), per year, of :func:`fj_flow`: dz/dt = G z for z = (x, e^{−r_s t}
    per side s, 1), with anchors x(0) at the start (t = 0) of the stretch G is used for. With
    ξ_i = ξ (the influence rate) for present delegates (0 for absent ones), r_i = r_s of i's side for present ones,
    D = diag(W):

        G[:N, :N] = ξ Λ (W − D)(I − Σ) − diag(ξ (1 − λ W_ii) + r),
        G[i, N + s(i)] = ξ_i (1 − λ_i)(x_i(0) − L_i)   (:func:`anchor_pull`),
        G[:N, −1] = ξ (Λ (W − D) Σ L + (I − Λ) L) + r L,   G[N + s, N + s] = −r_s.

    Built by a compiled loop over runs (:func:`_fill_generator`)."""
    B, n = x0.shape
    S = entrench_side.shape[1]
    G = np.zeros((B, n + S + 1, n + S + 1))
    pull = anchor_pull(x0, line, lam, rate[:, None] * present)
    _fill_generator(G, pull, W, line, sigma, lam, present, rate, entrench_rates(entrench_side), side_of)
    return G


@compiled
def _fill_generator(
    G: Array, pull: Array, W: Array, line: Array, sigma: Array, lam: Array, present: Array, rate: Array, r_side: Array, side_of: Array
) -> None:
    """The entries of :func:`fj_generator` into G (zeros), one run at a time, with the anchors'
    entries ``pull`` (:func:`anchor_pull`). Compiled."""
    B, n = pull.shape
    S = r_side.shape[1]
    for b in range(B):
        for i in range(n):
            k = rate[b] if present[b, i] else 0.0
            r = r_side[b, side_of[i]] if present[b, i] else 0.0
            kl = k * lam[b, i]
            heard = 0.0  # Σ_{j≠i} W_ij σ_j L_j
            for j in range(n):
                if j != i:
                    G[b, i, j] = kl * W[b, i, j] * (1 - sigma[b, j])
                    heard += W[b, i, j] * (sigma[b, j] * line[b, j])
            G[b, i, i] = kl * W[b, i, i] - k - r
            G[b, i, n + side_of[i]] = pull[b, i]
            G[b, i, n + S] = k * (lam[b, i] * heard + (1 - lam[b, i]) * line[b, i]) + r * line[b, i]
        for s in range(S):
            G[b, n + s, n + s] = -r_side[b, s]


@elementwise
def anchor_pull(x0: float, line: float, lam: float, kappa: float) -> float:
    """ξ (1 − λ)(x(0) − L), ξ the influence rate (``kappa``): the entries of :func:`fj_generator` through which each delegate's
    anchor pulls his view (the coefficient of e^{−r_s t}, at which x(0) − L decays), for anchors
    x(0) at the start of the stretch; the rest of the generator does not depend on the anchors.
    Elementwise (arrays broadcast), so :func:`flow_round` calls the same rule for one seat."""
    return kappa * (1 - lam) * (x0 - line)
