"""The charts' Qt-free parts: metric buffers, chart data, array helpers, parameter axes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from app.engine.records import MetricPoint, TrialRecord
from app.engine.search.base import Goal
from app.engine.space.nodes import (
    Choice,
    ChoiceKind,
    Distribution,
    Group,
    NumberParam,
    Space,
)
from app.engine.trial import TrialState
from app.views.charts.axes import (
    AxisKind,
    best_so_far,
    build_axes,
    build_axis,
    log_scaled_params,
)
from app.views.charts.buffers import CHANGE_LOG, INITIAL_CAPACITY, MetricBuffers
from app.views.charts.data import ChartData
from app.views.charts.geometry import (
    concat_joined,
    decimate_peak,
    join_curves,
    nearest_curve,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def point(trial: int, value: float, step: int | None, name: str = "loss") -> MetricPoint:
    return MetricPoint(trial, name, value, step, 0.0)


def record(trial_id: int, state: TrialState = TrialState.COMPLETED, kpi: float | None = None,
           params: dict[str, object] | None = None) -> TrialRecord:
    return TrialRecord(id=trial_id, experiment_id=1, number=trial_id, state=state,
                       params=params or {}, created_at=T0, kpi=kpi)


# -- MetricBuffers -------------------------------------------------------------------------

def test_buffers_grow_by_doubling_and_keep_arrival_order() -> None:
    buffers = MetricBuffers()
    for i in range(100):
        assert buffers.add([point(7, float(i) * 0.5, i)]) == {7}
    steps, values = buffers.series(7, "loss")
    assert steps.tolist() == list(range(100))
    assert values.tolist() == [i * 0.5 for i in range(100)]
    assert buffers.capacity(7, "loss") == INITIAL_CAPACITY * 8  # 16 -> 32 -> 64 -> 128


def test_buffers_give_missing_steps_the_point_index() -> None:
    buffers = MetricBuffers()
    buffers.add([point(1, 3.0, None), point(1, 2.0, None)])
    buffers.add([point(1, 1.0, None), point(1, 0.5, 10)])
    steps, values = buffers.series(1, "loss")
    assert steps.tolist() == [0, 1, 2, 10]
    assert values.tolist() == [3.0, 2.0, 1.0, 0.5]


def test_buffers_track_versions_names_and_touched_trials() -> None:
    buffers = MetricBuffers()
    touched = buffers.add([point(1, 1.0, 0), point(2, 1.0, 0, "acc"), point(1, 2.0, 1)])
    assert touched == {1, 2}
    assert buffers.names() == ["loss", "acc"]
    before, v1, v2 = buffers.version, buffers.trial_version(1), buffers.trial_version(2)
    buffers.add([point(1, 3.0, 2)])
    assert buffers.version == before + 1
    assert (buffers.trial_version(1), buffers.trial_version(2)) == (v1 + 1, v2)
    assert buffers.touched_since(before) == {1}
    assert buffers.touched_since(buffers.version) == set()
    assert buffers.series(3, "loss")[0].size == 0


def test_buffers_cannot_tell_changes_past_a_clear_or_the_log() -> None:
    buffers = MetricBuffers()
    buffers.add([point(1, 1.0, 0)])
    start = buffers.version
    buffers.remove([1])
    assert buffers.touched_since(start) is None
    assert buffers.size(1, "loss") == 0
    start = buffers.version
    for i in range(CHANGE_LOG + 1):
        buffers.add([point(2, 1.0, i)])
    assert buffers.touched_since(start) is None  # older than the change log
    assert buffers.touched_since(buffers.version - 1) == {2}


def test_buffer_views_are_read_only() -> None:
    buffers = MetricBuffers()
    buffers.add([point(1, 1.0, 0)])
    _, values = buffers.series(1, "loss")
    with pytest.raises(ValueError, match="read-only"):
        values[0] = 2.0


def test_buffers_extend_refuses_mismatched_arrays() -> None:
    buffers = MetricBuffers()
    with pytest.raises(ValueError, match=r"trial 4 metric 'loss': 3 steps but 2 values"):
        buffers.extend(4, "loss", [0, 1, 2], [1.0, 2.0])
    buffers.extend(4, "loss", np.arange(40.0), np.ones(40))
    assert buffers.size(4, "loss") == 40


# -- ChartData -----------------------------------------------------------------------------

def test_best_trial_counts_completed_trials_only_and_follows_updates() -> None:
    data = ChartData("loss", Goal.MIN)
    data.set_trials([record(1, kpi=0.5), record(2, TrialState.PRUNED, kpi=0.1),
                     record(3, TrialState.RUNNING, kpi=0.05), record(4, kpi=0.7)])
    assert data.best_trial_id() == 1
    data.update_trial(record(5, kpi=0.2))
    assert data.best_trial_id() == 5
    data.update_trial(record(5, TrialState.FAILED))  # the best stops counting
    assert data.best_trial_id() == 1
    data.set_experiment("acc", Goal.MAX)
    data.set_trials([record(1, kpi=0.5), record(2, kpi=0.9)])
    assert data.best_trial_id() == 2


def test_trial_changes_are_listed_since_a_version() -> None:
    data = ChartData("loss")
    data.set_trials([record(1), record(2)])
    start = data.trials_version
    data.update_trial(record(2, kpi=1.0))
    data.update_trial(record(9, TrialState.RUNNING))
    assert data.trials_changed_since(start) == {2, 9}
    data.set_trials([record(1)])
    assert data.trials_changed_since(start) is None


def test_describe_trial_names_number_id_state_kpi_and_dotted_params() -> None:
    data = ChartData("loss")
    params = {"lr": 0.001, "optimizer": {"_name": "adam", "beta1": 0.9}}
    data.set_trials([record(12, kpi=0.25, params=params)])
    text = data.describe_trial(12)
    assert "Trial #12 (id 12) · completed" in text
    assert "loss = 0.25" in text
    assert "optimizer = adam" in text and "optimizer.beta1 = 0.9" in text
    assert data.describe_trial(99) == "trial id 99"


# -- geometry ------------------------------------------------------------------------------

def test_decimate_peak_keeps_spikes_ends_and_order() -> None:
    x = np.arange(10_000.0)
    y = np.sin(x / 100)
    y[5_001], y[7_777] = 9.0, -9.0
    dx, dy = decimate_peak(x, y, 100)
    assert len(dx) <= 100
    assert dy.max() == 9.0 and dy.min() == -9.0
    assert (dx[0], dx[-1]) == (0.0, 9_999.0)
    assert np.all(np.diff(dx) > 0)
    short = np.arange(5.0)
    assert decimate_peak(short, short, 10)[0] is short


@pytest.mark.parametrize(("args", "message"), [
    ((np.arange(3.0), np.arange(3.0), 3), "max_points must be >= 4, got 3"),
    ((np.arange(3.0), np.arange(2.0), 10), "x has 3 points but y has 2"),
])
def test_decimate_peak_refuses_bad_arguments(args: tuple[np.ndarray, np.ndarray, int],
                                             message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decimate_peak(*args)


def test_join_curves_separates_with_nan_and_tracks_ids() -> None:
    joined = join_curves([(5, np.array([0.0, 1.0]), np.array([1.0, 2.0])),
                          (6, np.empty(0), np.empty(0)),
                          (7, np.array([0.0]), np.array([3.0]))])
    assert np.isnan(joined.x[2]) and np.isnan(joined.y[4])
    assert joined.ids.tolist() == [5, 5, 5, 7, 7]
    x, y, ids = joined.endpoints()
    assert (x.tolist(), y.tolist(), ids.tolist()) == ([1.0, 0.0], [2.0, 3.0], [5, 7])
    both = concat_joined([joined, joined])
    assert both.endpoints()[2].tolist() == [5, 7, 5, 7]
    assert len(both) == 2 * len(joined)


def test_nearest_curve_finds_the_segment_under_the_cursor_and_not_across_gaps() -> None:
    joined = join_curves([(1, np.array([0.0, 10.0]), np.array([0.0, 0.0])),
                          (2, np.array([0.0, 10.0]), np.array([5.0, 5.0]))])
    # Between the points of curve 1, far from any point: the segment counts.
    assert nearest_curve(joined, 5.0, 0.4, 1.0, 1.0, radius=1.0) == (1, pytest.approx(0.4))
    assert nearest_curve(joined, 5.0, 4.0, 1.0, 1.0, radius=2.0)[0] == 2  # type: ignore[index]
    assert nearest_curve(joined, 5.0, 2.5, 1.0, 1.0, radius=1.0) is None
    # The NaN between curve 1's end (10, 0) and curve 2's start (0, 5) joins nothing.
    assert nearest_curve(joined, 5.0, 2.5, 1.0, 1.0, radius=2.4) is None
    # Scales turn data units into pixels: 0.4 data units at 0.1 per pixel are 4 px.
    assert nearest_curve(joined, 5.0, 0.4, 1.0, 0.1, radius=3.0) is None
    with pytest.raises(ValueError, match="must be positive"):
        nearest_curve(joined, 0.0, 0.0, 0.0, 1.0, 1.0)


# -- axes ----------------------------------------------------------------------------------

def test_axes_map_numbers_categories_and_missing_values() -> None:
    lr = build_axis("lr", [1e-4, 1e-2, None, 1e-3])
    assert lr.kind is AxisKind.LOG and lr.title == "lr (log)"
    assert lr.positions([1e-4, 1e-3, 1e-2, None]).tolist()[:3] == pytest.approx([0, 0.5, 1])
    assert np.isnan(lr.positions([None])[0])
    units = build_axis("units", [16, 32, 64])
    assert units.kind is AxisKind.LINEAR
    assert units.positions([16, 40, 64]).tolist() == pytest.approx([0, 0.5, 1])
    optimizer = build_axis("optimizer", ["sgd", "adam", "sgd", None])
    assert optimizer.categories == ("adam", "sgd")
    assert optimizer.ticks() == [(0.0, "adam"), (1.0, "sgd")]
    flag = build_axis("bn", [True, False])
    assert flag.categories == ("False", "True")
    assert build_axis("lr", [1e-4, 1e-2], log=False).kind is AxisKind.LINEAR


def test_build_axes_skips_fixed_params_and_keeps_first_seen_order() -> None:
    rows = [{"a": 1, "fixed": "x", "b": "u"}, {"a": 2, "fixed": "x"}, {"c": 3.0, "fixed": "x"}]
    axes = build_axes(rows)
    assert [axis.name for axis in axes] == ["a", "b", "c"]
    assert [axis.name for axis in build_axes(rows, keep_constant=True)][1] == "fixed"


def test_log_scaled_params_follow_choice_branches_by_dotted_name() -> None:
    lr = NumberParam("lr", auto=True, distribution=Distribution.LOGUNIFORM, min=1e-4, max=0.1)
    wd = NumberParam("wd", auto=True, distribution=Distribution.QLOGUNIFORM, min=1e-6,
                     max=1e-2, step=1e-6)
    momentum = NumberParam("momentum", auto=True, distribution=Distribution.UNIFORM,
                           min=0.5, max=0.99)
    space = Space([lr, Choice("optimizer", kind=ChoiceKind.GROUPS,
                              values=[Group("sgd", [momentum, wd])], default="sgd", auto=True)])
    assert log_scaled_params(space) == {"lr", "optimizer.wd"}


def test_best_so_far_skips_missing_values_for_either_goal() -> None:
    values = np.array([np.nan, 3.0, 5.0, 1.0, np.nan, 2.0])
    low = best_so_far(values, Goal.MIN)
    assert np.isnan(low[0]) and low[1:].tolist() == [3.0, 3.0, 1.0, 1.0, 1.0]
    assert best_so_far(values, Goal.MAX)[1:].tolist() == [3.0, 5.0, 5.0, 5.0, 5.0]
