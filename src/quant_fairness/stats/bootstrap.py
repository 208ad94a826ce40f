"""Paired bootstrap over segment ids, and percentile intervals.

    index = resample_indices(n_segments, resamples=1000, seed=0)   # row 0: the data itself
    values = statistic(index)              # any array over rows of `index`
    interval = percentile_interval(values[1:], level=0.95)   # None if a replicate is NaN

Row 0 of every index is the identity, so values[0] is the point estimate and the same
`index` applied to every language and strategy keeps the pairing.
"""

import numpy as np


def resample_indices(n, resamples, seed):
    """Row 0 is the identity (point estimate); rows 1.. are bootstrap resamples."""
    rng = np.random.default_rng(seed)
    return np.vstack([np.arange(n)[None, :], rng.integers(0, n, size=(resamples, n))])


def percentile_interval(replicates, level):
    """(low, high) percentile interval, or None when any replicate is undefined (NaN)."""
    replicates = np.asarray(replicates, dtype=float)
    if np.isnan(replicates).any():
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def ci_note(replicates):
    """Why an interval is missing, naming how many resamples were undefined."""
    undefined = int(np.isnan(np.asarray(replicates, dtype=float)).sum())
    return f"CI undefined: the value is undefined in {undefined} of {len(replicates)} resamples"
