"""One round of the model for a batch of runs: events, then the rules of :mod:`sim.core.rules`.

This is the only place the rules are composed. :class:`sim.DialogueModel` calls
:func:`step` with one run; :mod:`sim.batch.ensemble` with many.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.core import rules
from sim.core.setup import Event, EventKind
from sim.core.state import BIN_CENTERS, IDEA_BINS, Layout, Params, State, newcomer_positions, rank_of

# ---------------------------------------------------------------- membership changes


def _alumni_ij(state: State, layout: Layout) -> np.ndarray:
    s = layout.side_of
    return state.alumni[:, s][:, :, s]


def depart(state: State, layout: Layout, leave: np.ndarray) -> None:
    """Members in ``leave`` (B, N) leave their slot; their contacts join the side's alumni."""
    if not leave.any():
        return
    state.alumni = rules.alumni_update(state.alumni, state.familiarity, leave, state.active, layout.side_of, layout.starts)
    state.active = state.active & ~leave
    gone = leave[:, :, None] | leave[:, None, :]
    state.familiarity = np.where(gone, 0.0, state.familiarity)
    state.tenure = np.where(leave, 0.0, state.tenure)


def replace(state: State, layout: Layout, P: Params, leave: np.ndarray, u_new: np.ndarray, handover: np.ndarray | None = None) -> None:
    """Turnover: members in ``leave`` are succeeded by newcomers (rules.newcomer_familiarity)."""
    if not leave.any():
        return
    state.alumni = rules.alumni_update(state.alumni, state.familiarity, leave, state.active, layout.side_of, layout.starts)
    _newcomers(state, layout, P, leave, P.member("handover", layout) if handover is None else handover)
    _fill(state, layout, P, leave, u_new)


def _newcomers(state: State, layout: Layout, P: Params, slots: np.ndarray, handover: np.ndarray) -> None:
    """The familiarity of newcomers in ``slots`` with hand-over shares ``handover`` (rules.newcomer_familiarity)."""
    state.familiarity = rules.newcomer_familiarity(
        state.familiarity,
        slots,
        handover,
        P.member("institutional_memory", layout),
        state.alumni,
        layout.side_of,
        state.active,
        layout.cross,
        P.distrust_handover,
    )


def _fill(state: State, layout: Layout, P: Params, slots: np.ndarray, u_new: np.ndarray) -> None:
    """Newcomers in ``slots``: a fresh anchor near the line, the side's openness, no tenure."""
    x0 = newcomer_positions(state.line[:, layout.side_of], P.member("position_spread", layout), u_new)
    state.anchor = np.where(slots, x0, state.anchor)
    state.anchor_drawn = np.where(slots, x0, state.anchor_drawn)
    state.private = np.where(slots, x0, state.private)
    state.expressed = np.where(slots, x0, state.expressed)
    state.openness = np.where(slots, P.member("openness", layout), state.openness)
    state.tenure = np.where(slots, 0.0, state.tenure)
    state.active = state.active | slots
    state.arrivals = state.arrivals + slots  # a new person in the slot (bookkeeping, no effect on the dynamics)


def upgrade(
    state: State, layout: Layout, P: Params, sides: np.ndarray, new_level: np.ndarray, recall: np.ndarray, u_new: np.ndarray
) -> None:
    """Raise the level of ``sides`` (B, S), refill empty slots and draw on alumni contacts."""
    state.level = np.where(sides, new_level, state.level)
    empty = sides[:, layout.side_of] & ~state.active
    if empty.any():
        _fill(state, layout, P, empty, u_new)
        _newcomers(state, layout, P, empty, np.zeros_like(state.tenure))  # what institutional memory carries, as in turnover
    pair_ok = layout.cross[None] & state.active[:, :, None] & state.active[:, None, :]
    member_recall = np.where(sides, recall, 0.0)[:, layout.side_of]
    state.familiarity = rules.recall_contacts(state.familiarity, member_recall, _alumni_ij(state, layout), pair_ok)


# ---------------------------------------------------------------- events


def apply_event(state: State, layout: Layout, P: Params, ev: Event, runs: np.ndarray, d: dict[str, np.ndarray]) -> None:
    """Apply one event to the runs in ``runs`` (B,) bool."""
    B, S = state.B, layout.S
    sides = np.zeros((B, S), dtype=bool)
    sides[np.ix_(runs, list(ev.sides))] = True
    k = ev.kind
    if k is EventKind.LEADERSHIP_CHANGE:
        state.ripe = np.where(sides, ev.get("regime") == "ripe", state.ripe)
        if ev.get("position") is not None:
            state.line = np.where(sides, ev.get("position"), state.line)
    elif k is EventKind.DELEGATION_DOWNGRADE:
        f = P.downgrade_factor[:, None] if ev.get("factor") is None else ev.get("factor")
        state.level = np.where(sides, rules.downgraded_level(state.level, f), state.level)
        if ev.get("drop") > 0:
            depart(state, layout, _most_junior(state, layout, sides, ev.get("drop")))
    elif k is EventKind.DELEGATION_UPGRADE:
        f = P.downgrade_factor[:, None] if ev.get("factor") is None else ev.get("factor")
        new_level = rules.upgraded_level(state.level, f)
        upgrade(state, layout, P, sides, new_level, np.full((B, S), ev.get("recall")), d["newcomer"])
    elif k is EventKind.CHANNEL_CLOSE:
        state.open = state.open & ~runs
    elif k is EventKind.CHANNEL_REOPEN:
        setup = P.setup_rounds if ev.get("setup_rounds") is None else np.full(B, ev.get("setup_rounds"))
        state.setup_left = np.where(runs & ~state.open, setup.astype(int), state.setup_left)
        if ev.get("fresh_personnel"):
            fresh = state.active & (runs & ~state.open)[:, None]
            replace(state, layout, P, fresh, d["newcomer"], handover=np.zeros_like(state.tenure))
        state.open = state.open | runs
    elif k is EventKind.TURNOVER_SHOCK:
        leave = state.active & sides[:, layout.side_of] & (d["shock"] < ev.get("fraction"))
        replace(state, layout, P, leave, d["newcomer"])
    elif k is EventKind.CRISIS:
        state.familiarity = np.where(
            runs[:, None, None], rules.crisis_familiarity(state.familiarity, ev.get("severity")), state.familiarity
        )
    elif k is EventKind.GATEKEEPER_CHANGE:
        state.gatekeeping = np.where(sides, ev.get("value"), state.gatekeeping)
    elif k is EventKind.FOLLOW_UP:
        state.follow_up = np.where(runs, ev.get("value"), state.follow_up)


def _most_junior(state: State, layout: Layout, sides: np.ndarray, share: float) -> np.ndarray:
    """The round(share × active) most junior active members of each side in ``sides``."""
    out = np.zeros_like(state.active)
    for s, (a, m) in enumerate(zip(layout.starts, layout.members, strict=True)):
        act = state.active[:, a : a + m]
        k = np.floor(share * act.sum(axis=1) + 0.5)
        from_end = np.cumsum(act[:, ::-1], axis=1)[:, ::-1]  # slots are ordered by rank
        out[:, a : a + m] = act & (from_end <= k[:, None]) & sides[:, s : s + 1]
    return out


def apply_events(state: State, layout: Layout, P: Params, schedule: Sequence[Sequence[Event]], d: dict[str, np.ndarray]) -> None:
    """Apply this round's events; ``schedule[b]`` lists run b's events for the round, in order
    (an empty ``schedule`` means no run has an event this round)."""
    depth = max((len(e) for e in schedule), default=0)
    for k in range(depth):
        groups: dict[Event, list[int]] = {}
        for b, evs in enumerate(schedule):
            if k < len(evs):
                groups.setdefault(evs[k], []).append(b)
        for ev, bs in groups.items():
            runs = np.zeros(state.B, dtype=bool)
            runs[bs] = True
            apply_event(state, layout, P, ev, runs, d)


# ---------------------------------------------------------------- familiarity over a round


def _familiarity_rates(P: Params, state: State, c: np.ndarray, meet: np.ndarray, meeting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The level F∞ and rate ρ (B, pairs + 1) at which each cross-side pair's familiarity moves over
    the round (:func:`rules.relax`; pairs as in ``layout.pairs``, and a last column F∞ = ρ = 0 that
    keeps pairs within a side at 0): by :func:`rules.familiarity_exchange` for pairs who meet (``c``,
    ``meet`` per pair, (B, pairs)), else by :func:`rules.familiarity_decay`."""
    forget = np.where(meeting, P.meeting_decay * P.familiarity_decay, 0.0)
    level, rate = rules.familiarity_exchange(c, P.familiarity_gain, P.familiarity_fatigue, state.follow_up, P.hollow_distrust, forget)
    idle = rules.familiarity_decay(P.familiarity_decay, meeting, P.meeting_decay)
    level, rate = np.where(meet, level, 0.0), np.where(meet, rate, idle[:, None])
    pad = np.zeros((len(level), 1))
    return np.concatenate([level, pad], axis=1), np.concatenate([rate, pad], axis=1)


def familiarity_through_round(
    state: State,
    layout: Layout,
    P: Params,
    F: np.ndarray,
    A: np.ndarray,
    leave: np.ndarray,
    arrival: np.ndarray,
    c: np.ndarray,
    meet_pairs: np.ndarray,
    meeting: np.ndarray,
    span: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Familiarity F and alumni contacts A at the end of the round (or of its first ``span`` years,
    (B,); arrivals then count from the span's start), from their values before turnover.

    The round is cut at each newcomer's arrival (``arrival``, years into the round), in order of
    time (:func:`rules.familiarity_arrivals`): the leaver's pairs flow exactly up to it
    (:func:`rules.familiarity_exchange`, :func:`rules.familiarity_decay`; A by :func:`rules.alumni_decay`),
    the leaver's contacts join the alumni and the newcomer's pairs are reset (as in
    :func:`rules.alumni_update`, :func:`rules.newcomer_familiarity`); at the end every pair flows for the rest of the round,
    Δt − max(arrival_i, arrival_j) — the time both were in their seats since the pair was last reset.
    As every piece is an exact solution over its duration and arrival times follow the Poisson
    process (:func:`rules.arrival_time`), familiarity does not depend on how calendar time is cut
    into rounds. Only leavers' rows are brought forward at an arrival, so the cost is one flow of
    the whole matrix per round plus one row per newcomer."""
    d = P.familiarity_decay
    span = P.dt if span is None else span
    F, A = F.copy(), A.copy()
    pi, pj = layout.pairs
    level, rate = _familiarity_rates(P, state, c[:, pi, pj], meet_pairs[:, pi, pj], meeting)
    clock = np.zeros(state.B)  # time A has reached
    go = np.nonzero(leave.any(axis=1))[0]
    if len(go):
        Fg, Ag = F[go], A[go]
        h, mem = P.member("handover", layout), P.member("institutional_memory", layout)
        clock[go] = rules.familiarity_arrivals(
            Fg,
            Ag,
            level[go],
            rate[go],
            layout.pair_index,
            arrival[go],
            leave[go],
            d[go],
            h[go],
            mem[go],
            state.active[go],
            layout.side_of,
            layout.starts,
            layout.cross,
            P.distrust_handover[go],
        )
        F[go], A[go] = Fg, Ag
    # every pair flows for the rest of the round; F is symmetric and 0 within a side (the layout's
    # invariant, tests/test_invariants.py), so only the cross-side pairs i < j are computed
    rest = span[:, None] - np.maximum(arrival[:, pi], arrival[:, pj])
    F[:, pi, pj] = F[:, pj, pi] = rules.relax(F[:, pi, pj], level[:, :-1], rate[:, :-1], rest)
    return F, rules.alumni_decay(A, d[:, None, None], (span - clock)[:, None, None])


# ---------------------------------------------------------------- positions over a round


def positions_through_round(
    state: State,
    layout: Layout,
    P: Params,
    W: np.ndarray,
    sigma: np.ndarray,
    present: np.ndarray,
    x: np.ndarray,
    anchor: np.ndarray,
    leave: np.ndarray,
    arrival: np.ndarray,
    span: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Private views and anchors after ``span`` years (B,) (:func:`rules.fj_flow`), from ``x`` and
    ``anchor``: the flow runs up to each newcomer's arrival (``arrival``, years into the span) with
    the leaver in the seat; the newcomer's view and anchor (``state.private``, ``state.anchor`` after
    :func:`replace`) then take the seat, and the flow runs on. With W held over the span every piece
    is exact. Where nobody meets (or no time passes) views and anchors stay, and a newcomer brings
    his own. Each run's generator is built once (:func:`rules.fj_generator`); piece k, which starts
    at the run's k-th arrival, changes only its anchors' entries (:func:`rules.anchor_pull`: each
    seat's anchor entrenched, :func:`rules.entrench`, since its occupant took it), and the pieces
    act in order on the state: one compiled pass per run (:func:`rules.flow_round`)."""
    so = layout.side_of
    line, lam = state.line[:, so], state.openness  # each occupant's, set on arrival (:func:`_fill`)
    e_member = P.member("entrenchment", layout)
    x_end, anchor_end = np.where(leave, state.private, x), np.where(leave, state.anchor, anchor)
    go = np.nonzero(present.any(axis=1) & (span > 0))[0]
    if not len(go):
        return x_end, anchor_end
    e_side = P.entrenchment[go] * sigma[go][:, layout.starts]
    xg, ag = x_end[go], anchor_end[go]
    rules.flow_round(
        x[go],
        anchor[go],
        state.private[go],
        state.anchor[go],
        line[go],
        lam[go],
        sigma[go],
        e_member[go],
        present[go],
        leave[go],
        arrival[go],
        span[go],
        W[go],
        P.influence_rate[go],
        rules.entrench_rates(e_side),
        so,
        xg,
        ag,
    )
    x_end[go], anchor_end[go] = xg, ag
    return x_end, anchor_end


def reassessment_cuts(state: State, P: Params) -> tuple[np.ndarray, np.ndarray]:
    """Whether the round starts at a reassessment time k / R (R = ``reassessment`` per year), (B,),
    and the reassessment times inside the round, in years from its start, (B, J) padded with Δt."""
    R, dt = P.reassessment, P.dt
    t0 = (state.round - 1) * dt
    at_start = np.abs(t0 * R - np.rint(t0 * R)) < 1e-9
    first = np.floor(t0 * R + 1e-9) + 1
    last = np.ceil((t0 + dt) * R - 1e-9) - 1
    J = int(max((last - first + 1).max(), 0))
    k = first[:, None] + np.arange(J)[None, :]
    cuts = np.where(k <= last[:, None], k / R[:, None] - t0[:, None], dt[:, None])
    return at_start, cuts


def continuous_through_round(
    state: State,
    layout: Layout,
    P: Params,
    F: np.ndarray,
    A: np.ndarray,
    x: np.ndarray,
    anchor: np.ndarray,
    leave: np.ndarray,
    arrival: np.ndarray,
    c: np.ndarray,
    meet_pairs: np.ndarray,
    meeting: np.ndarray,
    sigma: np.ndarray,
    present: np.ndarray,
    contact: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Familiarity, alumni contacts, private views and anchors at the end of the round, from their
    values before turnover: the round is cut at the reassessment times of the calendar clock
    (:func:`reassessment_cuts`); at each (and at the round's start if it is one) every delegate
    re-assesses whom it heeds (:func:`rules.heeded`, kept in ``state.heed``), and over each piece
    familiarity (:func:`familiarity_through_round`) and positions (:func:`positions_through_round`)
    are solved exactly. Whom one heeds then changes at the same calendar times whatever the
    meetings, so the smooth state does not depend on how calendar time is cut into rounds."""
    so = layout.side_of
    line_m = state.line[:, so]
    at_start, cuts = reassessment_cuts(state, P)
    bounds = np.concatenate([np.zeros((state.B, 1)), cuts, P.dt[:, None]], axis=1)
    for j in range(bounds.shape[1] - 1):
        lo, hi = bounds[:, j], bounds[:, j + 1]
        now = at_start if j == 0 else np.ones(state.B, dtype=bool)
        if now.any():
            eps = rules.confidence_bound(F, P.confidence_bound, P.confidence_gain)
            h = rules.heeded(x, rules.expressed_positions(x, line_m, sigma), eps)
            state.heed = np.where(now[:, None, None] & (hi > lo)[:, None, None], h, state.heed)
        last = j == bounds.shape[1] - 2
        here = leave & (arrival >= lo[:, None]) & ((arrival < hi[:, None]) | last)
        arr = np.where(here, arrival - lo[:, None], 0.0)
        span = hi - lo
        F, A = familiarity_through_round(state, layout, P, F, A, here, arr, c, meet_pairs, meeting, span)
        W = rules.influence_weights(x, x, None, present, P.self_weight, contact, heed=state.heed)
        x, anchor = positions_through_round(state, layout, P, W, sigma, present, x, anchor, here, arr, span)
    return F, A, x, anchor


# ---------------------------------------------------------------- the round


def step(state: State, layout: Layout, P: Params, u: np.ndarray, schedule: Sequence[Sequence[Event]]) -> None:
    """Advance every run one round. ``u`` is (B, K) uniforms, K = layout.draws_per_round()."""
    state.round += 1
    d = layout.split_draws(u)
    so, cross = layout.side_of, layout.cross[None]
    player = ~layout.host

    apply_events(state, layout, P, schedule, d)

    # leadership motivation (a hollow channel may stand in for pressure) and the participation shift
    theta = P.motivation_threshold[:, None]
    target = np.where(state.ripe, P.motivation_ripe, P.motivation_lean)
    if P.substitution.any():
        target = rules.substituted_target(target, P.substitution, state.leader_exposure)
    before = state.motivation
    state.motivation = rules.motivation_step(state.motivation, target, P.per_round("motivation_speed"))
    crossed = rules.crossed_threshold(before, state.motivation, theta, player)
    if crossed.any():
        new_level = rules.participation_shift(state.level, P.participation_shift)
        upgrade(state, layout, P, crossed, new_level, P.participation_shift, d["newcomer"])

    # turnover (a per-year hazard): a replaced seat's newcomer arrives at its last replacement in
    # the round; within the round he is treated as present from its start, except in his familiarity
    # (solved exactly over the round below) and the share of the round his views move and entrench
    leave = rules.leaves(d["turnover"], P.per_round("turnover")[:, so], state.active)
    arrival = rules.arrival_time(d["turnover"], P.turnover[:, so], leave, P.dt)
    F_before, alumni_before = state.familiarity, state.alumni
    x_before, anchor_before = state.private, state.anchor
    replace(state, layout, P, leave, d["newcomer"])
    stay = P.dt[:, None] - arrival  # years of the round each member is in the seat

    # does the channel meet?
    meeting = rules.meets(state.open, state.setup_left)
    state.setup_left = rules.setup_countdown(state.setup_left, state.open, meeting)
    present = state.active & meeting[:, None]
    rank = rank_of(state, layout)

    # what is said, and who hears whom
    host_present = (present[:, layout.host[so]]).any(axis=1) if layout.host.any() else np.zeros(state.B, bool)
    sigma = rules.effective_script(P.script_pressure, state.motivation, P.script_relief, host_present, P.host_facilitation)[:, so]
    x, F = state.private, state.familiarity
    y = rules.expressed_positions(x, state.line[:, so], sigma)
    c = rules.candor(sigma)
    eps = rules.confidence_bound(F, P.confidence_bound, P.confidence_gain)
    head = rules.heads(rank, state.active, so, layout.starts)
    contact = rules.contact_mask(P.contact, head, so) if P.contact.any() else None
    meet_pairs = cross & present[:, :, None] & present[:, None, :]
    if contact is not None:
        meet_pairs = meet_pairs & contact

    # ideas from candid, familiar pairs, reported upward, filed in memory
    pi, pj = layout.pairs
    c_p, meet_p = c[:, pi, pj], meet_pairs[:, pi, pj]  # per cross-side pair
    p_gen = rules.idea_chance(c_p, F[:, pi, pj], x[:, pi], x[:, pj], eps[:, pi, pj], P.per_round("idea_rate"))
    gen = meet_p & (d["idea"] < p_gen)
    gb, gp = np.nonzero(gen)  # this round's ideas: (run, pair) of each
    z = rules.idea_location(x[gb, pi[gp]], x[gb, pj[gp]], d["location"][gb, gp])
    bins = np.rint(z * (IDEA_BINS - 1)).astype(int)
    q = np.where(
        state.active,
        rules.report_chance(
            P.member("reporting", layout),
            rank,
            state.tenure,
            P.member("tenure_ramp", layout),
            state.gatekeeping[:, so],
            P.member("translation_loss", layout),
            state.cynicism[:, so],
            P.dt[:, None],
        ),
        0.0,
    )
    q_head = rules.head_report_chance(q, rank, state.active, so, layout.starts)
    # each side hears of a pair's idea from its own member of the pair, else from its head
    Q = np.concatenate([q, q_head], axis=1)[gb[:, None], layout.reporter[gp]]  # (ideas, S)
    serious = state.motivation >= theta
    Q = rules.filing_chance(Q[:, None, :], serious[gb], P.lean_filing[gb])[:, 0]
    rep = d["report"][gb, gp] < Q  # (ideas, S): which sides' leaderships file each idea
    state.memory_age = rules.age_memory(state.memory_age, state.follow_up, meeting, P.dt)
    k, s = np.nonzero(rep)
    state.memory_age[gb[k], s, bins[k]] = 0.0
    state.ideas_generated = state.ideas_generated + gen.sum(axis=1)
    state.ideas_reported = state.ideas_reported + np.bincount(gb[rep[:, player].any(axis=1)], minlength=state.B)

    # familiarity and positions (bounded-confidence Friedkin–Johnsen with entrenchment) over the round;
    # or pairwise Deffuant–Weisbuch encounters, then entrenchment
    line_m = state.line[:, so]
    F_new, A_new, fx, fa = continuous_through_round(
        state, layout, P, F_before, alumni_before, x_before, anchor_before, leave, arrival, c, meet_pairs, meeting, sigma, present, contact
    )
    fj = P.opinion_update == 0
    if not fj.all():
        ok = present[:, :, None] & present[:, None, :]
        if contact is not None:
            ok = ok & contact
        # N encounters a year: each of a round's N takes place with probability Δt (rounds up to a year);
        # a longer round makes all N, each moving as far as Δt years of encounters at μ would
        share = np.minimum(P.dt, 1.0)
        mu = np.where(P.dt > 1, (1 - (1 - 2 * P.pairwise_weight) ** P.dt) / 2, P.pairwise_weight)
        dw = np.where(present, rules.dw_encounters(x, line_m, sigma, eps, ok, mu, *layout.all_pairs, d["encounter"], share), x)
        dw_anchor = state.anchor
        if P.entrenchment.any():
            e = P.entrenchment[:, so]
            dw = rules.entrench(dw, line_m, sigma, e, present, stay)
            dw_anchor = rules.entrench(dw_anchor, line_m, sigma, e, present, stay)
        fx, fa = np.where(fj[:, None], fx, dw), np.where(fj[:, None], fa, dw_anchor)
    state.private, state.anchor = fx, fa
    state.expressed = np.where(present, y, state.expressed)
    state.familiarity, state.alumni = F_new, A_new
    hollow, pairs_s = rules.hollow_share(c_p, meet_p, layout.pair_sides)
    decay = P.per_round("familiarity_decay")
    decay_met = P.per_round("familiarity_decay", "exposure_meeting_decay")
    state.exposure = rules.exposure_step(state.exposure, hollow, pairs_s > 0, decay, decay_met, P.candor_wear, P.dt)
    # the leadership's exposure (read by substitution) follows the same rule from the same meetings; it is
    # kept apart from the delegates' only so that a counterfactual transplant can carry one cost without the other
    state.leader_exposure = rules.exposure_step(state.leader_exposure, hollow, pairs_s > 0, decay, decay_met, P.candor_wear, P.dt)
    state.cynicism = rules.cynicism_of(state.exposure, P.cynicism_rate)

    # agreement: a remembered idea that every serious leadership ratifies
    known = rules.idea_known(state.memory_age, P.idea_lifetime)
    w = rules.winset_half_width(state.motivation, P.winset, P.winset_gain)
    if P.ratification_softness.any():
        inside = rules.ratification(BIN_CENTERS, state.line, w, P.ratification_softness, d["ratify"])
    else:
        inside = rules.acceptable(BIN_CENTERS, state.line, w)
    ok = rules.agreement_support(known, inside, serious, player)
    state.progress, reached = rules.agreement_progress(ok, player)
    state.agreement_round = np.where(reached & ~state.agreed, state.round, state.agreement_round)
    state.agreed = state.agreed | reached

    # cost and tenure
    state.meeting = meeting
    state.cost_round = rules.member_cost(meeting, state.active, rank)
    state.cost = state.cost + state.cost_round
    state.tenure = state.tenure + state.active
