"""Pick which hosts of an OpenSSH client config to save: :class:`ImportDialog`."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.application.servers import ServerProfile, SshConfigImport


def describe(profile: ServerProfile) -> str:
    """``name  —  user@host:port (key ~/.ssh/id)`` for the list."""
    login = f"key {profile.key_file}" if profile.key_file else profile.auth.value
    return f"{profile.name}  —  {profile.user}@{profile.host}:{profile.port} ({login})"


class ImportDialog(QDialog):
    """The profiles found in an ssh config, each with a checkbox (all checked).

    Hosts that gave no profile are listed below with the reason.
    """

    def __init__(self, found: SshConfigImport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import from ssh config")
        self._found = found
        intro = QLabel(f"Servers found in {found.path}. Sweeplab never runs commands from "
                       "the file; check the ones to save (settings such as the work "
                       "directory can be edited afterwards).")
        intro.setWordWrap(True)
        self.list = QListWidget()
        for profile in found.profiles:
            item = QListWidgetItem(describe(profile))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setData(Qt.ItemDataRole.UserRole, profile.name)
            self.list.addItem(item)
        lines = [f"{s.alias}: skipped, {s.reason}" for s in found.skipped] + list(found.notes)
        self.skipped = QLabel("\n".join(lines))
        self.skipped.setWordWrap(True)
        self.skipped.setStyleSheet("color: #616161;")
        self.skipped.setVisible(bool(lines))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            bool(found.profiles))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list)
        layout.addWidget(self.skipped)
        layout.addWidget(self.buttons)

    def chosen(self) -> list[ServerProfile]:
        """The checked profiles, in file order."""
        names = {self.list.item(row).data(Qt.ItemDataRole.UserRole)
                 for row in range(self.list.count())
                 if self.list.item(row).checkState() == Qt.CheckState.Checked}
        return [profile for profile in self._found.profiles if profile.name in names]
