from PySide6.QtWidgets import QApplication, QLineEdit, QComboBox
from tests.views.test_space_editor_keys import editor, hands, NodeKind, Column, Key, CTRL, editing  # noqa
def st(editor, what):
    for _ in range(5): QApplication.processEvents()
    print(what, editor.tree.currentIndex().column(), QApplication.focusWidget(), editor.tree.state(), editor.model.node(editor.current_index()))
def test_x(qtbot, editor, hands):
    editor._add_and_edit(NodeKind.NUMBER, editor.add.__defaults__[0] if False else __import__("app.views.space_editor", fromlist=["Placement"]).Placement.AUTO)
    st(editor, "added")
    hands.type("lr")
    hands.key(Key.Key_Return)
    st(editor, "named")
    hands.key(Key.Key_Tab)
    st(editor, "tab")
    hands.key(Key.Key_A, CTRL)
    hands.type("0.01")
    st(editor, "typed")
    hands.key(Key.Key_Return)
    st(editor, "enter")
