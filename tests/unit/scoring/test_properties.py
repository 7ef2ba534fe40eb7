"""Property-based tests of the scoring engine (hypothesis)."""

from __future__ import annotations

import copy
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.domain.dataset import DatasetError, parse_dataset
from services.scoring.domain.engine import (
    FIGURE_THRESHOLD,
    FIGURES,
    compile_methodology,
    regions_from_dataset,
    score_region,
)
from services.scoring.domain.gap import apply_actions, plan_gap
from services.scoring.domain.results import compute_result

from .strategies import datasets, json_values


def compute(raw: dict) -> dict:
    data, methodology = parse_dataset(raw)
    out = compute_result(regions_from_dataset(data), compile_methodology(methodology.id))
    return {r.region: r for r in out.regions}


def shuffled(raw: dict, rng: random.Random) -> dict:
    out = copy.deepcopy(raw)
    rng.shuffle(out["regions"])
    for region in out["regions"]:
        region["spd"] = dict(rng.sample(list(region["spd"].items()), len(region["spd"])))
        rng.shuffle(region["innovations"])
        for innovation in region["innovations"]:
            items = list(innovation["answers"].items())
            innovation["answers"] = dict(rng.sample(items, len(items)))
    return out


@given(datasets(), st.randoms(use_true_random=False))
@settings(max_examples=80, deadline=None)
def test_order_of_regions_innovations_and_answers_changes_nothing(raw, rng):
    assert compute(shuffled(raw, rng)) == compute(raw)


@given(datasets(), st.data())
@settings(max_examples=150, deadline=None)
def test_raising_a_counted_answer_never_lowers_that_figure(raw, data):
    parsed, methodology = parse_dataset(raw)
    compiled = compile_methodology(methodology.id)
    regions = regions_from_dataset(parsed)
    region = data.draw(st.sampled_from(regions))
    figure = data.draw(st.sampled_from(FIGURES))
    threshold = FIGURE_THRESHOLD[figure]
    slots = [
        (None, code) for code, (level, rank) in region.spd.items() if level and level < 3 and rank >= threshold
    ] + [
        (inv.id, code)
        for inv in region.innovations.values()
        if inv.submitted
        for code, (level, rank) in inv.answers.items()
        if level and level < 3 and rank >= threshold
    ]
    if not slots:
        return
    innovation, code = data.draw(st.sampled_from(slots))
    before = score_region(region, compiled).figures[figure]
    if innovation is None:
        level, rank = region.spd[code]
        region.spd[code] = (data.draw(st.integers(level + 1, 3)), rank)
    else:
        level, rank = region.innovations[innovation].answers[code]
        region.innovations[innovation].set_answer(code, data.draw(st.integers(level + 1, 3)), rank)
    after = score_region(region, compiled).figures[figure]
    assert after.iid_exact > before.iid_exact
    assert after.iid_hundredths >= before.iid_hundredths


@given(
    datasets(methodology="iid-2026"),
    st.data(),
    st.one_of(st.sampled_from(["kurang_inovatif", "inovatif", "sangat_inovatif"]), st.integers(1, 9000)),
)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_gap_actions_applied_reach_the_target(raw, data, target):
    parsed, methodology = parse_dataset(raw)
    compiled = compile_methodology(methodology.id)
    region = data.draw(st.sampled_from(regions_from_dataset(parsed)))
    figure = data.draw(st.sampled_from(FIGURES))
    target_text = target if isinstance(target, str) else f"{target / 100:.2f}"
    before = copy.deepcopy(region)
    report = plan_gap(region, compiled, figure, target_text)
    # The analysis does not change the region it analyses.
    assert score_region(region, compiled) == score_region(before, compiled)
    # Each action's IID is what the engine computes after applying the plan up to it.
    for k, action in enumerate(report.actions):
        step = copy.deepcopy(before)
        apply_actions(step, report.actions[: k + 1])
        assert score_region(step, compiled).figures[figure].iid == action.iid_after
    apply_actions(region, report.actions)
    reached = score_region(region, compiled).figures[figure].iid >= report.target.iid
    assert reached == report.reached
    if report.existing_answers_reach_target:
        assert reached


@given(json_values)
@settings(max_examples=300, deadline=None)
def test_arbitrary_json_is_refused_only_with_the_engines_error(value):
    try:
        parse_dataset(value)
    except DatasetError as exc:
        assert exc.problems and all(": " in p for p in exc.problems)


def _mutate(node, path, value):
    if not path:
        return value
    head, *rest = path
    if isinstance(node, dict):
        node = dict(node)
        node[head] = _mutate(node.get(head), rest, value)
    elif isinstance(node, list) and node:
        node = list(node)
        node[head % len(node)] = _mutate(node[head % len(node)], rest, value)
    return node


@given(datasets(), st.data())
@settings(max_examples=150, deadline=None)
def test_a_corrupted_dataset_never_raises_anything_but_the_engines_error(raw, data):
    # Replace one node somewhere in a valid dataset with an arbitrary JSON value.
    path = []
    node = raw
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
        if isinstance(node, dict):
            key = data.draw(st.sampled_from(sorted(node) + ["unexpected"]))
            path.append(key)
            node = node.get(key)
        else:
            index = data.draw(st.integers(0, len(node) - 1))
            path.append(index)
            node = node[index]
    corrupted = _mutate(raw, path, data.draw(json_values))
    try:
        parsed, methodology = parse_dataset(corrupted)
    except DatasetError as exc:
        assert exc.problems
        return
    # Accepted data must then score without error.
    compute_result(regions_from_dataset(parsed), compile_methodology(methodology.id))
