"""The combined score: halvings against a fixed baseline, a floor on the error, and a
qualifying accuracy. Every expected value is worked out by hand from the rules' constants."""

import math

import pytest

from tinytorch.systems.olympics import (
    BASELINE_ERROR,
    BASELINE_LATENCY_SECONDS,
    BASELINE_MODEL_BYTES,
    MIN_ACCURACY,
    combined_score,
)


def test_the_rules_are_the_documented_constants():
    # If these change, the expected values below (and every classmate's score) change too.
    assert (BASELINE_ERROR, BASELINE_LATENCY_SECONDS, BASELINE_MODEL_BYTES) == (0.05, 1e-4, 100_000)
    assert combined_score(0.95, 1e-4, 100_000) == pytest.approx(0.0, abs=1e-12), "the baseline scores 0"


@pytest.mark.parametrize("accuracy, latency, model_bytes, expected", [
    (0.975, 1e-4, 100_000, 2.0),      # half the errors: 2 points
    (0.95, 5e-5, 100_000, 1.0),       # half the latency: 1 point
    (0.95, 1e-4, 50_000, 1.0),        # half the bytes: 1 point
    (0.95, 1e-4, 400_000, -2.0),      # four times the bytes: 2 points lost
    (0.90, 2e-4, 100_000, -3.0),      # twice the errors and twice the latency
    (0.975, 2.5e-5, 25_000, 6.0),     # all three at once add up
])
def test_each_halving_is_worth_its_weight(accuracy, latency, model_bytes, expected):
    assert combined_score(accuracy, latency, model_bytes) == pytest.approx(expected, abs=1e-9)


def test_a_hand_computed_score():
    # error 0.07, 30 microseconds, 40 kB:
    # 2 * log2(0.05 / 0.07) + log2(1e-4 / 3e-5) + log2(1e5 / 4e4) = -0.97085 + 1.73697 + 1.32193
    score = combined_score(0.93, 3e-5, 40_000)
    assert score == pytest.approx(2.0880400, abs=1e-6)


def test_the_baseline_cancels_between_two_entries():
    # Only the ratios between two entries decide who is ahead, whatever the baseline.
    a, b = (0.97, 2e-5, 30_000), (0.92, 8e-5, 12_000)
    expected = 2 * math.log2(0.08 / 0.03) + math.log2(8e-5 / 2e-5) + math.log2(12_000 / 30_000)
    assert combined_score(*a) - combined_score(*b) == pytest.approx(expected, abs=1e-9)


def test_the_error_floor_keeps_a_perfect_model_finite():
    # error = max(1 - accuracy, 0.0005): a perfect model counts as half an image wrong.
    assert combined_score(1.0, 1e-4, 100_000) == pytest.approx(2 * math.log2(100), abs=1e-9)
    assert combined_score(0.999, 1e-4, 100_000) == pytest.approx(2 * math.log2(50), abs=1e-9)
    assert combined_score(0.9998, 1e-4, 100_000) == combined_score(1.0, 1e-4, 100_000)


def test_below_the_qualifying_accuracy_there_is_no_score():
    assert MIN_ACCURACY == 0.90
    assert combined_score(0.90, 1e-4, 100_000) == pytest.approx(-2.0, abs=1e-9), "0.90 qualifies"
    assert combined_score(0.899, 1e-4, 100_000) is None
    # A 200-byte model that guesses in a microsecond would otherwise score +7.27: the 8.97 points
    # for bytes and 6.64 for speed outweigh the 8.34 its errors cost.
    assert combined_score(0.10, 1e-6, 200) is None


@pytest.mark.parametrize("arguments, problem", [
    ((1.2, 1e-4, 100), "accuracy=1.2"),
    ((-0.1, 1e-4, 100), "accuracy=-0.1"),
    ((0.95, 0.0, 100), "latency_seconds=0.0"),
    ((0.95, -1e-4, 100), "latency_seconds=-0.0001"),
    ((0.95, float("inf"), 100), "latency_seconds=inf"),
    ((0.95, float("nan"), 100), "latency_seconds=nan"),
    ((0.95, 1e-4, 0), "model_bytes=0"),
])
def test_impossible_figures_are_refused(arguments, problem):
    with pytest.raises(ValueError, match=problem):
        combined_score(*arguments)


# -- the TinyTalks task: its own baseline and qualifying accuracy ------------------------------

def test_the_tinytalks_rules_are_the_documented_constants():
    from tinytorch.systems.olympics import TASKS, TINYTALKS

    rules = TASKS[TINYTALKS]
    assert (rules.baseline_error, rules.baseline_latency_seconds, rules.baseline_model_bytes) == (0.2, 1e-3,
                                                                                                   1_000_000)
    assert rules.min_accuracy == 0.5 and TASKS["digits"].min_accuracy == MIN_ACCURACY
    assert combined_score(0.8, 1e-3, 1_000_000, TINYTALKS) == pytest.approx(0.0, abs=1e-12), (
        "the TinyTalks baseline scores 0")


@pytest.mark.parametrize("accuracy, latency, model_bytes, expected", [
    (0.8, 1e-3, 1_000_000, 0.0),         # the baseline: the 2017 milestone's 80 %, 1 ms per token, 1 MB
    (0.9, 1e-3, 1_000_000, 2.0),         # half the wrong answers: 2 points
    (0.8, 2.5e-4, 4_000_000, 0.0),       # four times faster per token, four times the bytes
    (0.6, 5e-4, 250_000, -2.0 + 1.0 + 2.0),
])
def test_the_tinytalks_task_scores_against_its_own_baseline(accuracy, latency, model_bytes, expected):
    assert combined_score(accuracy, latency, model_bytes, "tinytalks") == pytest.approx(expected, abs=1e-9)


def test_each_task_has_its_own_qualifying_accuracy():
    assert combined_score(0.5, 1e-3, 1_000_000, "tinytalks") == pytest.approx(2 * math.log2(0.2 / 0.5), abs=1e-9)
    assert combined_score(0.499, 1e-3, 1_000_000, "tinytalks") is None
    assert combined_score(0.6, 1e-4, 100_000) is None, "the digits ask 90 %"
    assert combined_score(0.6, 1e-4, 100_000, "digits") is None
    with pytest.raises(ValueError, match="latency_seconds=0.0"):
        combined_score(0.3, 0.0, 1_000_000, "tinytalks")
