"""The paired ratio B/A of `bench ab`: Wilcoxon signed-rank distribution, Hodges-Lehmann
estimate and interval (checked by enumeration and by seeded simulation), verdicts."""
import itertools

import numpy as np
import pytest

from fastscratch.benchtools.paired import (min_pairs, ratio_interval, signed_rank_cdf,
                                           verdict, walsh_cut)


@pytest.mark.parametrize("n", range(1, 9))
def test_signed_rank_cdf_matches_enumerating_every_sign_pattern(n):
    counts = np.zeros(n * (n + 1) // 2 + 1)
    for signs in itertools.product((0, 1), repeat=n):
        counts[sum(rank for rank, plus in zip(range(1, n + 1), signs) if plus)] += 1
    np.testing.assert_allclose(signed_rank_cdf(n), np.cumsum(counts) / 2 ** n, rtol=1e-12)


def test_walsh_cut_follows_the_tabulated_critical_values():
    # two-sided 5% critical values of T: n=6 -> 0, n=8 -> 3, n=10 -> 8 (k is one more)
    assert [walsh_cut(n, 0.95) for n in (5, 6, 8, 10)] == [0, 1, 4, 9]
    assert min_pairs(0.95) == 6 and min_pairs(0.9) == 5


def test_a_constant_ratio_is_recovered_exactly():
    a = np.array([1.0, 2.0, 0.5, 3.0, 1.5, 0.7])
    est = ratio_interval(a, 1.25 * a)
    assert est.ratio == pytest.approx(1.25, rel=1e-12)
    assert est.low == pytest.approx(1.25, rel=1e-12) and est.high == pytest.approx(1.25, rel=1e-12)


def test_interval_covers_the_true_ratio_at_its_confidence():
    # lognormal timings, a shared per-pair load factor and independent noise per side
    rng = np.random.default_rng(7)
    trials, n, true = 2000, 10, 1.2
    hits, estimates = 0, []
    for _ in range(trials):
        load = rng.lognormal(0, 0.5, n)
        a = load * rng.lognormal(0, 0.1, n)
        b = true * load * rng.lognormal(0, 0.1, n)
        est = ratio_interval(a, b, 0.95)
        hits += est.low <= true <= est.high
        estimates.append(est.ratio)
    # exact coverage for n=10, k=9 is 1 - 2 * 25/1024 = 0.951; 2000 trials: sd 0.005
    assert 0.935 <= hits / trials <= 0.967
    assert np.median(estimates) == pytest.approx(true, rel=0.01)


@pytest.mark.parametrize("low, high, code", [
    (1.06, 1.2, "slower"), (1.01, 1.2, "no change"), (0.8, 0.94, "faster"),
    (0.8, 0.96, "no change"), (0.9, 1.1, "no change")])
def test_verdict_needs_the_whole_interval_past_the_threshold(low, high, code):
    est = ratio_interval([1.0] * 6, [1.0] * 6)
    est = type(est)(1.0, low, high, 0.95, 6)
    assert verdict(est, 0.05) == code


@pytest.mark.parametrize("a, b, kwargs, message", [
    ([1.0] * 5, [1.0] * 5, {}, "5 pairs are too few for a 95% interval; need at least 6"),
    ([1.0] * 6, [1.0] * 5, {}, "equal length"),
    ([1.0] * 6, [0.0] * 6, {}, "timings must be positive"),
    ([1.0] * 6, [1.0] * 6, {"confidence": 1.0}, "confidence must be in (0, 1)"),
])
def test_bad_input_is_named(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ratio_interval(a, b, **kwargs)
