"""The space editor widget: building a space through its actions and editors, files, preview."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QComboBox, QLineEdit, QTreeView, QWidget
from pytestqt.qtbot import QtBot

from app.engine.docio import DocumentError
from app.engine.errors import SpaceError
from app.engine.experiment import load_experiment
from app.engine.search.base import Algorithm
from app.engine.space import space_from_dict, space_to_dict
from app.engine.space.files import SpaceFormat, load_space
from app.views.panels import ExperimentPanels
from app.views.space_editor import NodeKind, Placement, SpaceEditor
from app.views.space_editor.cells import Column
from app.views.space_editor.editors import NumberRangeEditor, NumberSpinBox, ValuesEditor
from app.views.space_editor.preview import ERROR_STYLE, MUTED_STYLE, SpacePreview
from tests.engine.spaces import EVERY_KIND, GRIDDABLE, GRIDDABLE_SIZE

ROOT = Path(__file__).resolve().parents[2]

Key = Qt.Key


@pytest.fixture
def editor(qtbot: QtBot) -> SpaceEditor:
    widget = SpaceEditor()
    qtbot.addWidget(widget)
    widget.resize(1100, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def trigger(editor: SpaceEditor, menu: Any, kind: NodeKind) -> None:
    """Pick ``kind`` from one of the editor's add menus, as a click would."""
    action = next(a for a in menu.actions() if NodeKind(a.data()) is kind)
    assert action.isEnabled(), f"{kind.value} is disabled in {menu.title()}"
    action.trigger()


def open_editor(editor: SpaceEditor, path: str, column: Column) -> tuple[QModelIndex, QWidget]:
    index = editor.model.index_for_path(path, column)
    assert index.isValid(), path
    editor.tree.setCurrentIndex(index)
    editor.tree.edit(index)
    widget = editor.tree.indexWidget(index)
    assert widget is not None, f"no editor opened on {path} column {column.name}"
    return index, widget


def commit(qtbot: QtBot, widget: QWidget) -> None:
    """Press Enter in an open cell editor: the delegate commits and closes it (queued);
    the editor Enter opens on the row's next cell is closed with Escape."""
    view = widget.parentWidget().parentWidget()  # the tree, around its viewport
    assert isinstance(view, QTreeView)
    index = view.currentIndex()
    qtbot.keyClick(widget, Key.Key_Return)
    qtbot.waitUntil(lambda: view.indexWidget(index) is None, timeout=2000)
    following = view.indexWidget(view.currentIndex())
    if following is not None:
        qtbot.keyClick(following, Key.Key_Escape)
        qtbot.waitUntil(lambda: view.indexWidget(view.currentIndex()) is None, timeout=2000)


def type_name(qtbot: QtBot, editor: SpaceEditor, name: str) -> None:
    """Type into the name editor that adding a node opens, then press Enter."""
    index = editor.current_index()
    widget = editor.tree.indexWidget(index)
    assert isinstance(widget, QLineEdit), "adding a node should open its name for editing"
    widget.selectAll()
    qtbot.keyClicks(widget, name)
    if widget.text() != name:  # completed to a longer name (batch_size): Delete refuses it
        qtbot.keyClick(widget, Key.Key_Delete)
    commit(qtbot, widget)
    assert index.data() == name


def set_range(qtbot: QtBot, editor: SpaceEditor, path: str, dist: str, low: float,
              high: float) -> None:
    _, widget = open_editor(editor, path, Column.SEARCH)
    assert isinstance(widget, NumberRangeEditor)
    widget.distribution.setCurrentIndex(widget.distribution.findText(dist))
    widget.low.set_number(low)
    widget.high.set_number(high)
    commit(qtbot, widget)


EXPECTED = {"version": 1, "space": [
    {"name": "lr", "type": "number", "auto": True, "distribution": "loguniform",
     "min": 1e-4, "max": 0.1, "default": 0.001},
    {"name": "optimizer", "type": "choice", "auto": True, "default": "sgd", "values": [
        {"name": "sgd", "type": "group", "children": [
            {"name": "momentum", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.0, "max": 0.99, "default": 0.9},  # proposed for its name
            {"name": "nesterov", "type": "boolean", "auto": True, "default": False},
        ]},
        {"name": "adam", "type": "group", "children": [
            {"name": "beta1", "type": "number", "auto": True, "distribution": "uniform",
             "min": 0.8, "max": 0.99, "default": 0.9},
        ]},
    ]},
    {"name": "use_bn", "type": "boolean", "auto": True, "default": False},
    {"name": "batch", "type": "choice", "auto": True, "default": 32,  # the middle one
     "values": [16, 32, 64]},
]}


def build_through_the_gui(qtbot: QtBot, editor: SpaceEditor) -> None:
    trigger(editor, editor.add_menu, NodeKind.NUMBER)
    type_name(qtbot, editor, "lr")
    set_range(qtbot, editor, "lr", "loguniform", 1e-4, 0.1)
    _, box = open_editor(editor, "lr", Column.DEFAULT)
    assert isinstance(box, NumberSpinBox) and box.text() == "1e-03"  # scientific on log scales
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "1e-3")
    commit(qtbot, box)

    trigger(editor, editor.sibling_menu, NodeKind.CHOICE_OF_GROUPS)
    type_name(qtbot, editor, "optimizer")
    for old, new in (("a", "sgd"), ("b", "adam")):
        _, line = open_editor(editor, f"optimizer.{old}", Column.NAME)
        assert isinstance(line, QLineEdit)
        line.setText(new)
        commit(qtbot, line)
    editor.select("optimizer.sgd")
    trigger(editor, editor.add_menu, NodeKind.NUMBER)  # "+ Add" on a branch: a child
    type_name(qtbot, editor, "momentum")
    trigger(editor, editor.add_menu, NodeKind.BOOLEAN)  # on a leaf: a sibling
    type_name(qtbot, editor, "nesterov")
    editor.select("optimizer.adam")
    trigger(editor, editor.child_menu, NodeKind.NUMBER)
    type_name(qtbot, editor, "beta1")
    set_range(qtbot, editor, "optimizer.adam.beta1", "uniform", 0.8, 0.99)
    editor.model.set_fields(editor.current_index(), default=0.9)

    editor.select("optimizer")
    editor.add(NodeKind.BOOLEAN, Placement.SIBLING)
    editor.model.set_fields(editor.current_index(), name="use_bn")  # add() opens no editor
    trigger(editor, editor.add_menu, NodeKind.CHOICE_OF_NUMBERS)
    type_name(qtbot, editor, "batch")
    _, values = open_editor(editor, "batch", Column.SEARCH)
    assert isinstance(values, ValuesEditor) and values.values() == ["1", "2", "3"]
    values.set_values(["16", "32"])
    values.add_value("64")
    commit(qtbot, values)


def test_build_a_nested_space_through_the_editor_then_undo_and_redo_all(
        qtbot: QtBot, editor: SpaceEditor) -> None:
    build_through_the_gui(qtbot, editor)
    built = space_to_dict(editor.space())
    assert built == EXPECTED
    assert editor.validity() == (True, "") and editor.is_modified()
    steps = editor.undo_stack.count()
    assert steps >= 15

    while editor.undo_stack.canUndo():
        editor.undo_action.trigger()
    assert space_to_dict(editor.space()) == {"version": 1, "space": []}
    while editor.undo_stack.canRedo():
        editor.redo_action.trigger()
    assert space_to_dict(editor.space()) == EXPECTED


def test_ctrl_z_and_ctrl_shift_z_undo_and_redo(qtbot: QtBot, editor: SpaceEditor) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    editor.select("lr")
    editor.delete_selected()
    assert editor.current_index().data() == "wd"  # the next row becomes current
    editor.activateWindow()
    editor.tree.setFocus()
    qtbot.waitUntil(editor.tree.hasFocus)
    qtbot.keyClick(editor.tree, Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.model.index_for_path("lr").isValid()
    qtbot.keyClick(editor.tree, Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert not editor.model.index_for_path("lr").isValid()


def test_duplicate_and_delete_act_on_the_selection(qtbot: QtBot, editor: SpaceEditor) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    editor.select("optimizer.sgd")
    editor.duplicate_action.trigger()
    assert editor.current_index().data() == "sgd_2"
    editor.duplicate_action.trigger()
    assert [editor.model.index(r, 0, editor.model.index_for_path("optimizer")).data()
            for r in range(4)] == ["sgd", "sgd_2", "sgd_3", "adam"]
    editor.delete_action.trigger()
    assert not editor.model.index_for_path("optimizer.sgd_3").isValid()
    editor.tree.setCurrentIndex(QModelIndex())
    assert not editor.delete_action.isEnabled() and not editor.child_menu.isEnabled()


def test_child_menu_offers_only_groups_in_a_choice_of_groups(editor: SpaceEditor) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    editor.select("optimizer")
    enabled = {NodeKind(a.data()) for a in editor.child_menu.actions() if a.isEnabled()}
    assert enabled == {NodeKind.GROUP}
    editor.select("first_dense")
    assert all(a.isEnabled() for a in editor.child_menu.actions())
    editor.select("lr")
    assert not editor.child_menu.isEnabled()
    trigger(editor, editor.add_menu, NodeKind.STRING)  # on a leaf: next to it
    assert editor.model.path_of(editor.model.node(editor.current_index())) == "text"  # type: ignore[arg-type]
    assert editor.current_index().row() == editor.model.index_for_path("lr").row() + 1


def test_invalid_edit_blocks_with_the_reason(qtbot: QtBot, editor: SpaceEditor) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    with qtbot.waitSignal(editor.validityChanged):
        set_range(qtbot, editor, "first_dense.neurons", "quniform", 512, 32)
    valid, reason = editor.validity()
    assert not valid and reason == "first_dense.neurons: min 512 > max 32"
    assert editor.status.text() == f"The space cannot run: {reason}"
    cell = editor.model.index_for_path("first_dense.neurons", Column.SEARCH)
    assert cell.data(Qt.ItemDataRole.ToolTipRole) == reason
    assert [str(p) for p in editor.problems()] == [reason]
    with pytest.raises(SpaceError, match="min 512 > max 32"):
        editor.export_space(Path("/nonexistent/never-written.yaml"))


def test_refused_rename_is_reported_and_the_name_editor_takes_identifiers_only(
        qtbot: QtBot, editor: SpaceEditor) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    _, line = open_editor(editor, "lr", Column.NAME)
    assert isinstance(line, QLineEdit)
    validator = line.validator()
    assert validator.validate("2fast", 0)[0] == QValidator.State.Invalid
    assert validator.validate("fast_2", 0)[0] == QValidator.State.Acceptable
    line.setText("dropout")
    commit(qtbot, line)
    assert editor.model.index_for_path("lr").isValid()
    assert editor.status.text() == "Not done: lr: name 'dropout' is taken by a sibling"
    editor.select("tag")
    editor.duplicate_selected()  # any edit clears the notice
    assert "Not done" not in editor.status.text()


def test_default_editors_per_kind(qtbot: QtBot, editor: SpaceEditor) -> None:
    editor.set_space(space_from_dict(EVERY_KIND))
    _, combo = open_editor(editor, "batch", Column.DEFAULT)
    assert isinstance(combo, QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == ["16", "32", "64"]
    assert combo.currentText() == "32"
    combo.setCurrentIndex(2)
    commit(qtbot, combo)
    assert editor.model.space().find("batch").default == 64  # type: ignore[union-attr]
    _, combo = open_editor(editor, "optimizer", Column.DEFAULT)
    assert isinstance(combo, QComboBox) and combo.currentText() == "adam"
    combo.setCurrentIndex(0)
    commit(qtbot, combo)
    assert editor.model.space().find("optimizer").default == "sgd"  # type: ignore[union-attr]
    _, box = open_editor(editor, "units", Column.DEFAULT)
    assert isinstance(box, NumberSpinBox) and box.text() == "64"
    assert box.validate("64.5", 0)[0] == QValidator.State.Intermediate  # an int
    _, kind = open_editor(editor, "dropout", Column.TYPE)
    assert isinstance(kind, QComboBox)
    kind.setCurrentIndex(kind.findText("int"))
    commit(qtbot, kind)
    assert editor.model.index_for_path("dropout", Column.TYPE).data() == "int"


def test_number_spin_box_text(qtbot: QtBot) -> None:
    box = NumberSpinBox(scientific=True, optional=True)
    for value, text in ((1e-4, "1e-04"), (0.00025, "2.5e-04"), (12.0, "1.2e+01")):
        box.set_number(value)
        assert box.text() == text and box.number() == value
    box.set_number(None)
    assert box.text() == "none" and box.number() is None
    box.set_number(1e-3)
    box.stepBy(1)
    assert box.number() == pytest.approx(1e-2)
    states = {t: box.validate(t, 0)[0] for t in ("1e-", "-", "abc", "3.5e2", "no")}
    assert states == {"1e-": QValidator.State.Intermediate, "-": QValidator.State.Intermediate,
                      "abc": QValidator.State.Invalid, "3.5e2": QValidator.State.Acceptable,
                      "no": QValidator.State.Intermediate}
    plain = NumberSpinBox()
    plain.set_number(0.1 + 0.2)
    assert plain.text() == "0.3"


def test_preview_shows_ten_samples_and_the_grid_size(qtbot: QtBot, editor: SpaceEditor) -> None:
    editor.set_space(space_from_dict(GRIDDABLE))
    preview = editor.preview
    assert preview.table.rowCount() == 10 and len(preview.samples) == 10
    headers = [preview.table.horizontalHeaderItem(c).text()
               for c in range(preview.table.columnCount())]
    assert headers[:3] == ["tag", "layers", "drop"] and "optimizer" in headers
    assert preview.grid_label.text() == f"Grid size: {GRIDDABLE_SIZE:,} points"
    editor.model.set_fields(editor.model.index_for_path("act"), auto=False)
    qtbot.waitUntil(lambda: preview.grid_label.text()
                    == f"Grid size: {GRIDDABLE_SIZE // 3:,} points", timeout=2000)
    editor.model.set_fields(editor.model.index_for_path("drop"), distribution="uniform",
                            step=None)
    qtbot.waitUntil(lambda: preview.grid_label.text().startswith(
        "Grid size: not countable (other algorithms sample it; grid search would need: "
        "drop: grid search needs a step"), timeout=2000)
    assert preview.grid_label.styleSheet() == MUTED_STYLE  # information, not a problem
    editor.set_algorithm(Algorithm.GRID)
    assert preview.grid_label.text().startswith(
        "Grid search not possible: drop: grid search needs a step")
    assert preview.grid_label.styleSheet() == ERROR_STYLE
    assert preview.table.rowCount() == 10  # random sampling still works
    editor.model.set_fields(editor.model.index_for_path("drop"), min=2.0)
    qtbot.waitUntil(lambda: preview.table.rowCount() == 0, timeout=2000)
    assert preview.message.text() == "Fix the space to preview it: drop: min 2.0 > max 0.5"


def test_changed_fires_on_edits_not_on_loading(qtbot: QtBot, editor: SpaceEditor) -> None:
    fired: list[bool] = []
    editor.changed.connect(lambda: fired.append(True))
    original = space_from_dict(EVERY_KIND)
    editor.set_space(original)
    assert fired == [] and not editor.is_modified()
    editor.model.set_fields(editor.model.index_for_path("lr"), default=0.02)
    assert fired == [True] and editor.is_modified()
    assert original.find("lr").default == 0.01  # type: ignore[union-attr]  # the caller's copy
    copy = editor.space()
    editor.model.set_fields(editor.model.index_for_path("lr"), default=0.03)
    assert copy.find("lr").default == 0.02  # type: ignore[union-attr]


@pytest.mark.parametrize(("name", "fmt"), [("space.yaml", SpaceFormat.SWEEPLAB),
                                           ("space.json", SpaceFormat.SWEEPLAB),
                                           ("search_space.json", SpaceFormat.NNI)])
def test_export_then_import_round_trip(editor: SpaceEditor, tmp_path: Path, name: str,
                                       fmt: SpaceFormat) -> None:
    document = GRIDDABLE if fmt is SpaceFormat.NNI else EVERY_KIND
    editor.set_space(space_from_dict(document))
    path = tmp_path / name
    editor.export_space(path, fmt)
    if path.suffix == ".json":
        json.loads(path.read_text())  # real JSON
    written = space_to_dict(load_space(path))
    editor.set_space(space_from_dict(doc_with_one_node()))
    editor.import_space(path)
    assert space_to_dict(editor.space()) == written
    if fmt is SpaceFormat.SWEEPLAB:
        assert written == space_to_dict(space_from_dict(document))
    editor.undo_action.trigger()  # importing is one undo step
    assert space_to_dict(editor.space()) == doc_with_one_node()


def doc_with_one_node() -> dict[str, Any]:
    return {"version": 1, "space": [{"name": "tag", "type": "string", "default": "x"}]}


def test_import_errors_name_the_file_and_leave_the_tree(editor: SpaceEditor,
                                                        tmp_path: Path) -> None:
    editor.set_space(space_from_dict(doc_with_one_node()))
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nspace: [\n")
    with pytest.raises(DocumentError, match=r"broken\.yaml: line"):
        editor.import_space(broken)
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("version: 1\nspace:\n- {name: lr, type: number, auto: true, "
                       "distribution: uniform, min: 2, max: 1}\n")
    with pytest.raises(SpaceError, match="lr: min 2 > max 1"):
        editor.import_space(invalid)
    with pytest.raises(DocumentError, match="no such file"):
        editor.import_space(tmp_path / "missing.yaml")
    assert space_to_dict(editor.space()) == doc_with_one_node()
    assert editor.undo_stack.count() == 0


def test_range_editor_switches_between_bounds_and_mu_sigma(qtbot: QtBot) -> None:
    widget = NumberRangeEditor()
    widget.set_fields({"distribution": "uniform", "min": 0.0, "max": 2.0, "mu": None,
                       "sigma": None, "step": None}, integer=False)
    assert (widget.low_label.text(), widget.low.text(), widget.high.text()) == ("min", "0", "2")
    widget.distribution.setCurrentIndex(widget.distribution.findText("normal"))
    assert (widget.low_label.text(), widget.high_label.text()) == ("μ", "σ")
    widget.low.set_number(1.0)
    widget.high.set_number(0.5)
    assert widget.fields() == {"distribution": "normal", "mu": 1.0, "sigma": 0.5, "step": None}
    widget.distribution.setCurrentIndex(widget.distribution.findText("loguniform"))
    assert widget.fields() == {"distribution": "loguniform", "min": 0.002, "max": 2.0,
                               "step": None}
    assert widget.low.text() == "2e-03"  # scientific on a log scale
    widget.distribution.setCurrentIndex(0)
    assert widget.fields() == {"distribution": None, "step": None}


def test_range_editor_offers_no_step_where_a_step_has_no_effect(qtbot: QtBot) -> None:
    widget = NumberRangeEditor()
    qtbot.addWidget(widget)
    widget.set_fields({"distribution": "quniform", "min": 0, "max": 8, "step": 2},
                      integer=True)
    assert widget.step.isEnabled() and widget.fields()["step"] == 2
    widget.distribution.setCurrentIndex(widget.distribution.findText("randint"))
    assert not widget.step.isEnabled()
    assert widget.fields() == {"distribution": "randint", "min": 0, "max": 8, "step": None}
    widget.distribution.setCurrentIndex(0)  # fixed
    assert not widget.step.isEnabled() and widget.fields()["step"] is None


def test_values_editor_is_one_line_of_values(qtbot: QtBot) -> None:
    widget = ValuesEditor()
    widget.set_values([16, 32.5, "x", "a, b", ' say "hi"'])
    assert widget.text() == '16, 32.5, x, "a, b", " say ""hi"""'
    assert widget.values() == ["16", "32.5", "x", "a, b", 'say "hi"']
    widget.setText("16,, x ,64")
    widget.add_value("y")
    assert widget.values() == ["16", "x", "64", "y"]


def test_a_hidden_preview_tells_the_grid_now_and_samples_once_painted(qtbot: QtBot) -> None:
    """Issue 18.6: the window's first paint does not wait for hyperopt; the Space tab's
    samples are drawn after the preview is first painted."""
    preview = SpacePreview()
    qtbot.addWidget(preview)
    preview.show_space(space_from_dict(GRIDDABLE), [])
    assert preview.samples == [] and preview.table.rowCount() == 0
    assert preview.message.text() == "Sampling…"
    assert preview.grid_label.text() == f"Grid size: {GRIDDABLE_SIZE:,} points"
    preview.show()
    qtbot.waitUntil(lambda: preview.table.rowCount() == 10, timeout=10000)
    assert len(preview.samples) == 10 and preview.message.text() == ""


def test_a_preview_shown_but_not_yet_painted_samples_after_its_paint(qtbot: QtBot) -> None:
    """Issue 18.6: a window is visible from ``show()`` on, and its first paint comes
    later, in the event loop: an experiment loaded in between (at start-up) must not
    load hyperopt before that paint."""
    preview = SpacePreview()
    qtbot.addWidget(preview)
    preview.show()
    assert preview.isVisible()
    preview.show_space(space_from_dict(GRIDDABLE), [])
    assert preview.samples == [] and preview.message.text() == "Sampling…"
    qtbot.waitUntil(lambda: preview.table.rowCount() == 10, timeout=10000)
    preview.show_space(space_from_dict(GRIDDABLE), [])  # painted and seen: sampled at once
    assert len(preview.samples) == 10


def test_a_demo_searched_by_tpe_shows_grid_facts_as_information(qtbot: QtBot) -> None:
    """Issue 15.14: the demo uses TPE; its continuous numbers are no grid problem."""
    config = load_experiment(ROOT / "examples" / "quadratic" / "experiment.yaml")
    panels = ExperimentPanels()
    qtbot.addWidget(panels.space)
    panels.show(config, [], [])
    label = panels.space.preview.grid_label
    assert label.text().startswith("Grid size: not countable (tpe samples it; grid search "
                                   "would need: x: grid search needs a step")
    assert label.styleSheet() == MUTED_STYLE
    assert "not possible" not in label.text()
    panels.show(replace(config, algorithm=Algorithm.GRID), [], [])
    assert label.text().startswith("Grid search not possible: x:")
    assert label.styleSheet() == ERROR_STYLE
