"""Array helpers the charts draw with: peak decimation, NaN-joined curves, nearest curve.

Pure numpy, no Qt, so they are tested and timed on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FloatArray = np.ndarray


def decimate_peak(x: FloatArray, y: FloatArray, max_points: int) -> tuple[FloatArray, FloatArray]:
    """At most ``max_points`` points that keep every bin's minimum and maximum, in order.

    The curve is cut into ``max_points // 2 - 1`` bins of consecutive points; each
    bin keeps its lowest and highest point in their original order, so spikes stay
    visible (what pyqtgraph's ``peak`` downsampling does on screen). The first and
    last points are always kept, so a curve still ends where it ended.

    Raises:
        ValueError: when ``max_points`` < 4 or the arrays differ in length.
    """
    if max_points < 4:
        raise ValueError(f"max_points must be >= 4, got {max_points}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} points but y has {len(y)}")
    n = len(y)
    if n <= max_points:
        return x, y
    bins = max_points // 2 - 1
    edges = np.linspace(0, n, bins + 1).astype(np.intp)
    safe = np.where(np.isfinite(y), y, np.nan)
    width = int(np.max(np.diff(edges)))
    # Pad every bin to the same width so one reshape does all bins at once.
    index = edges[:-1, None] + np.arange(width)[None, :]
    valid = index < edges[1:, None]
    index = np.where(valid, index, edges[:-1, None])
    block = safe[index]
    rows = np.arange(bins)
    lo = index[rows, np.argmin(np.where(np.isnan(block), np.inf, block), axis=1)]
    hi = index[rows, np.argmax(np.where(np.isnan(block), -np.inf, block), axis=1)]
    keep = np.unique(np.concatenate([lo, hi, [0, n - 1]]))  # sorted
    return x[keep], y[keep]


@dataclass(frozen=True)
class JoinedCurves:
    """Many curves as one pair of arrays, a NaN point after each curve.

    ``ids[i]`` is the trial id that point ``i`` belongs to (also for the NaN
    separator that ends its curve); ``ends[k]`` indexes the last real point of
    curve ``k``.
    """

    x: FloatArray
    y: FloatArray
    ids: np.ndarray
    ends: np.ndarray

    @staticmethod
    def empty() -> JoinedCurves:
        """No curves."""
        return JoinedCurves(np.empty(0), np.empty(0), np.empty(0, dtype=np.int64),
                            np.empty(0, dtype=np.intp))

    def __len__(self) -> int:
        return len(self.x)

    def endpoints(self) -> tuple[FloatArray, FloatArray, np.ndarray]:
        """x, y and trial id of every curve's last point."""
        return self.x[self.ends], self.y[self.ends], self.ids[self.ends]


def join_curves(curves: Sequence[tuple[int, FloatArray, FloatArray]],
                max_points_per_curve: int | None = None) -> JoinedCurves:
    """Join ``(trial_id, x, y)`` curves into one NaN-separated :class:`JoinedCurves`.

    Empty curves are skipped. With ``max_points_per_curve`` each curve is first
    reduced as by :func:`decimate_peak`. The curves of one length (an experiment's
    mostly share theirs) are decimated and copied together, a few numpy calls for
    all of them (:func:`decimate_peak_rows`), not a few per curve.

    Raises:
        ValueError: when ``max_points_per_curve`` < 4 or a curve's x and y differ in
            length.
    """
    if max_points_per_curve is not None and max_points_per_curve < 4:
        raise ValueError(f"max_points must be >= 4, got {max_points_per_curve}")
    kept = [(trial_id, x, y) for trial_id, x, y in curves if len(y)]
    if not kept:
        return JoinedCurves.empty()
    by_length: dict[int, list[int]] = {}
    for position, (trial_id, x, y) in enumerate(kept):
        if len(x) != len(y):
            raise ValueError(f"trial {trial_id}: x has {len(x)} points but y has {len(y)}")
        by_length.setdefault(len(y), []).append(position)
    # per group: the positions of its curves, their point counts, their points in a row
    groups: list[tuple[np.ndarray, np.ndarray, FloatArray, FloatArray]] = []
    counts = np.zeros(len(kept), dtype=np.intp)
    for n, positions in by_length.items():
        xs = np.stack([kept[p][1] for p in positions])
        ys = np.stack([kept[p][2] for p in positions])
        if max_points_per_curve is not None and n > max_points_per_curve:
            rows, columns = _peak_indices(ys, max_points_per_curve)
            sizes = np.bincount(rows, minlength=len(positions))
            flat_x, flat_y = xs[rows, columns], ys[rows, columns]
        else:
            sizes = np.full(len(positions), n, dtype=np.intp)
            flat_x, flat_y = xs.ravel(), ys.ravel()
        where = np.asarray(positions, dtype=np.intp)
        counts[where] = sizes
        groups.append((where, sizes, flat_x, flat_y))
    lengths = counts + 1  # a NaN after each curve
    starts = np.cumsum(lengths) - lengths
    out_x = np.full(int(lengths.sum()), np.nan)
    out_y = out_x.copy()
    for where, sizes, flat_x, flat_y in groups:
        within = np.arange(len(flat_x)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        target = np.repeat(starts[where], sizes) + within
        out_x[target] = flat_x
        out_y[target] = flat_y
    trial_ids = np.fromiter((t for t, _x, _y in kept), dtype=np.int64, count=len(kept))
    return JoinedCurves(out_x, out_y, np.repeat(trial_ids, lengths), starts + counts - 1)


def _peak_indices(y: FloatArray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """What :func:`decimate_peak` keeps of each row of the 2-D ``y`` (rows longer than
    ``max_points``): (row, column) of every kept point, row by row, columns ascending."""
    count, n = y.shape
    bins = max_points // 2 - 1
    edges = np.linspace(0, n, bins + 1).astype(np.intp)
    width = int(np.max(np.diff(edges)))
    index = edges[:-1, None] + np.arange(width)[None, :]
    valid = index < edges[1:, None]
    index = np.where(valid, index, edges[:-1, None])  # bins x width, as decimate_peak
    finite = np.isfinite(y)
    bin_numbers = np.arange(bins)[None, :]
    lo = index[bin_numbers, np.argmin(np.where(finite, y, np.inf)[:, index], axis=2)]
    hi = index[bin_numbers, np.argmax(np.where(finite, y, -np.inf)[:, index], axis=2)]
    ends = np.broadcast_to(np.array([0, n - 1], dtype=np.intp), (count, 2))
    keep = np.sort(np.concatenate([lo, hi, ends], axis=1), axis=1)
    first = np.ones(keep.shape, dtype=bool)
    first[:, 1:] = keep[:, 1:] != keep[:, :-1]  # each index once, as np.unique
    rows = np.broadcast_to(np.arange(count, dtype=np.intp)[:, None], keep.shape)[first]
    return rows, keep[first]


def concat_joined(parts: Sequence[JoinedCurves]) -> JoinedCurves:
    """One :class:`JoinedCurves` holding every curve of ``parts``, in order."""
    parts = [part for part in parts if len(part)]
    if not parts:
        return JoinedCurves.empty()
    offsets = np.cumsum([0] + [len(part) for part in parts[:-1]])
    return JoinedCurves(
        np.concatenate([part.x for part in parts]),
        np.concatenate([part.y for part in parts]),
        np.concatenate([part.ids for part in parts]),
        np.concatenate([part.ends + offset for part, offset in zip(parts, offsets, strict=True)]),
    )


def nearest_curve(curves: JoinedCurves, x: float, y: float, x_scale: float, y_scale: float,
                  radius: float) -> tuple[int, float] | None:
    """The trial whose curve passes nearest to ``(x, y)``, and that distance.

    Distances are measured to line segments in screen units: a data distance is
    divided by ``x_scale`` / ``y_scale`` (data units per pixel). Only curves
    within ``radius`` count; None when there is none.

    Raises:
        ValueError: when a scale or the radius is not positive.
    """
    if x_scale <= 0 or y_scale <= 0 or radius <= 0:
        raise ValueError(f"scales and radius must be positive, got x_scale={x_scale}, "
                         f"y_scale={y_scale}, radius={radius}")
    n = len(curves)
    if n == 0:
        return None
    # x first, over everything; y only for what is near in x (a few thousand of 600,000).
    px = (curves.x - x) / x_scale
    best: tuple[int, float] | None = None
    with np.errstate(invalid="ignore"):
        lone = np.flatnonzero(np.abs(px) <= radius)  # points cover one-point curves
    if len(lone):
        d = np.hypot(px[lone], (curves.y[lone] - y) / y_scale)
        k = int(np.nanargmin(d)) if np.isfinite(d).any() else -1
        if k >= 0:
            best = (int(curves.ids[lone[k]]), float(d[k]))
    if n > 1:
        ax, bx = px[:-1], px[1:]
        with np.errstate(invalid="ignore"):
            segs = np.flatnonzero((np.minimum(ax, bx) <= radius) & (np.maximum(ax, bx) >= -radius))
        if len(segs):
            sax, sbx = ax[segs], bx[segs]
            say = (curves.y[segs] - y) / y_scale
            sby = (curves.y[segs + 1] - y) / y_scale
            dx, dy = sbx - sax, sby - say
            length2 = dx * dx + dy * dy
            with np.errstate(invalid="ignore", divide="ignore"):
                t = np.clip(np.where(length2 > 0, -(sax * dx + say * dy) / length2, 0.0), 0, 1)
            d = np.hypot(sax + t * dx, say + t * dy)
            if np.isfinite(d).any():
                k = int(np.nanargmin(d))
                if best is None or d[k] < best[1]:
                    best = (int(curves.ids[segs[k]]), float(d[k]))
    if best is None or best[1] > radius:
        return None
    return best
