"""Downsampling keeps a chart's shape: ends, spikes and dips survive; NaN does no harm."""

from __future__ import annotations

import numpy as np

from tunelab.store.downsample import downsample, downsample_indices


def series(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.arange(n, dtype=np.int64)
    return x, np.sin(x / 500.0), x * 0.5 + 1.7e9


def test_short_series_and_zero_limit_are_returned_whole() -> None:
    x, y, t = series(1500)
    assert downsample(x, y, t, 2000)[3] is False
    full = downsample(x, y, t, 0)
    assert len(full[0]) == 1500 and full[3] is False


def test_result_fits_the_limit_and_keeps_both_ends() -> None:
    x, y, t = series(100_000)
    for limit in (1, 2, 3, 4, 5, 7, 100, 2000, 99_999):
        dx, dy, dt, downsampled = downsample(x, y, t, limit)
        assert downsampled and 0 < len(dx) <= limit
        assert np.array_equal(y[dx], dy) and np.array_equal(t[dx], dt)
        assert (np.diff(dx) > 0).all()
        if limit >= 2:
            assert dx[0] == 0 and dx[-1] == 99_999


def test_single_spike_and_dip_survive_in_100k_points() -> None:
    x, y, t = series(100_000)
    y[77_777] = 50.0
    y[12_345] = -50.0
    dx, dy, _, _ = downsample(x, y, t, 2000)
    assert 77_777 in dx.tolist() and 12_345 in dx.tolist()
    assert dy.max() == 50.0 and dy.min() == -50.0


def test_each_bucket_keeps_first_min_max_last() -> None:
    y = np.array([5.0, 1.0, 9.0, 4.0, 6.0, 3.0, 0.0, 8.0, 2.0, 7.0])
    # One bucket: first (0), min (6), max (2), last (9).
    assert downsample_indices(y, 4).tolist() == [0, 2, 6, 9]
    # Two buckets, [5 1 9 4 6] and [3 0 8 2 7]: first, min, max, last of each.
    assert downsample_indices(y, 8).tolist() == [0, 1, 2, 4, 5, 6, 7, 9]


def test_nan_is_skipped_for_min_max_but_an_all_nan_bucket_keeps_a_point() -> None:
    n = 10_000
    y = np.ones(n)
    y[100] = 3.0
    y[101:103] = np.nan
    y[5000:7000] = np.nan
    keep = downsample_indices(y, 40)  # ten buckets of 1000 points
    assert 100 in keep.tolist()
    kept = y[keep]
    assert np.isnan(kept).any()
    assert np.nanmax(kept) == 3.0
    assert len(keep) <= 40


def test_all_nan_series_keeps_bucket_ends() -> None:
    keep = downsample_indices(np.full(1000, np.nan), 8)
    assert keep.tolist() == [0, 499, 500, 999]


def test_infinite_values_count_as_extremes() -> None:
    y = np.zeros(10_000)
    y[4321] = np.inf
    y[8765] = -np.inf
    keep = downsample_indices(y, 100).tolist()
    assert 4321 in keep and 8765 in keep
