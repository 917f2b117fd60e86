"""The ratio B/A of two revisions' timings from paired rounds, its confidence interval, and the
verdict at a threshold.

Pair i gives d_i = log(b_i / a_i). The estimate is the Hodges-Lehmann pseudo-median of the d_i
(the median of the Walsh averages (d_i + d_j) / 2, i <= j) and the interval is the matching
Wilcoxon signed-rank interval (the k-th smallest and k-th largest Walsh average); both are
mapped back to ratios. Distribution-free: it assumes only that the d_i are independent and
symmetric about the true log ratio, not that timings are normal.
"""
import math
from dataclasses import dataclass

import numpy as np

VERDICTS = ("slower", "faster", "no change")


def signed_rank_cdf(n):
    """P(T <= t) for t = 0 .. n(n+1)/2, T the Wilcoxon signed-rank statistic of n pairs
    without ties (each rank's sign is + or - with probability 1/2)."""
    if n < 1:
        raise ValueError(f"n must be a positive number of pairs, got {n!r}")
    p = np.zeros(n * (n + 1) // 2 + 1)
    p[0] = 1.0
    for rank in range(1, n + 1):  # add rank with sign - (T unchanged) or + (T += rank)
        shifted = np.zeros_like(p)
        shifted[rank:] = p[:-rank]
        p = (p + shifted) / 2
    return np.cumsum(p)


def walsh_cut(n, confidence):
    """k: the interval is the k-th smallest to k-th largest Walsh average, the largest k with
    P(T <= k - 1) <= (1 - confidence) / 2; 0 when n pairs are too few for that confidence."""
    return int(np.searchsorted(signed_rank_cdf(n), (1 - confidence) / 2, side="right"))


def min_pairs(confidence):
    """The fewest pairs that give a finite interval at ``confidence``."""
    n = 1
    while walsh_cut(n, confidence) == 0:
        n += 1
    return n


@dataclass(frozen=True)
class RatioEstimate:
    """B/A with its interval (low, high) at ``confidence`` from ``pairs`` pairs."""

    ratio: float
    low: float
    high: float
    confidence: float
    pairs: int


def ratio_interval(a, b, confidence=0.95):
    """RatioEstimate of b/a from paired positive timings ``a``, ``b`` (sequences of equal
    length); ValueError when they are not, or are too few for ``confidence``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-d of equal length, got shapes {a.shape} and {b.shape}")
    if not (np.all(a > 0) and np.all(b > 0)):
        raise ValueError("timings must be positive")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    n = a.size
    k = walsh_cut(n, confidence) if n else 0
    if k == 0:
        raise ValueError(f"{n} pairs are too few for a {confidence:.0%} interval; "
                         f"need at least {min_pairs(confidence)}")
    d = np.log(b) - np.log(a)
    rows, cols = np.triu_indices(n)
    walsh = np.sort((d[rows] + d[cols]) / 2)
    return RatioEstimate(math.exp(np.median(walsh)), math.exp(walsh[k - 1]),
                         math.exp(walsh[walsh.size - k]), confidence, n)


def verdict(estimate, threshold):
    """'slower' when the whole interval lies above 1 + threshold, 'faster' when it lies below
    1 / (1 + threshold), else 'no change' (no effect of that size shown either way)."""
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold!r}")
    if estimate.low > 1 + threshold:
        return "slower"
    if estimate.high < 1 / (1 + threshold):
        return "faster"
    return "no change"
