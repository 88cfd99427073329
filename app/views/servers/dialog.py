"""The "Servers…" window: saved lab servers with their live status: :class:`ServersDialog`.

Each row shows a server's address, whether it answers (and, when it does not, the
last error in plain words), its running trials and per-GPU memory and utilisation
bars. Statuses come from a :class:`StatusMonitor` (worker threads, queued signals):
the GUI thread never waits on the network. Add, Edit, Delete, Test connection and
Import from ``~/.ssh/config`` each call one method of
:class:`~app.application.servers.Servers` (profiles, secrets, probes).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QCloseEvent, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.application.clusters import Clusters, QueueSource
from app.application.servers import (
    DEFAULT_PATH,
    HostStatus,
    Secrets,
    SecretStoreError,
    ServerProfile,
    Servers,
    SshConfigError,
    StatusSource,
    without_server_prefix,
)
from app.engine.ports import StoreError
from app.views.servers.clusters import ClusterPanel
from app.views.servers.connection_test import ConnectionTest
from app.views.servers.form import ServerForm
from app.views.servers.gpu_bars import GpuBars
from app.views.servers.import_dialog import ImportDialog
from app.views.servers.monitor import REFRESH_S, StatusMonitor

COLUMNS = ("Server", "Address", "Status", "Running", "GPUs: memory and utilisation")
NAME, ADDRESS, STATUS, RUNNING, GPUS = range(len(COLUMNS))
ONLINE_COLOUR = QColor("#2e7d32")
OFFLINE_COLOUR = QColor("#c62828")
WAITING_COLOUR = QColor("#757575")


def status_text(status: HostStatus | None) -> str:
    """``online``, ``offline: <why>`` or ``checking…`` for the Status column."""
    if status is None:
        return "checking…"
    if status.online:
        return "online"
    if status.error:
        return f"offline: {without_server_prefix(status.name, status.error)}"
    return "offline (reconnecting…)"


class ServersDialog(QDialog):
    """Saved servers, their live status, and the actions on them.

    Args:
        servers: the saved servers, their secrets (give it the app's keeper, so that
            secrets kept for this session without a keyring outlive the window) and
            their connections.
        parent: the owning window.
        status_source: where live statuses come from (default: one status-only SSH
            connection per server, closed with the window).
        refresh_s: seconds between status refreshes of one server.
        ssh_config: the file "Import from ~/.ssh/config" reads.
        clusters: the saved Slurm clusters, shown below the servers with their queues
            (None: not shown). ``cluster_source``: where queues come from (default:
            through each cluster's login node).

    Signals:
        serversChanged(): a server was added, edited, deleted or imported.
    """

    serversChanged = Signal()

    def __init__(self, servers: Servers, parent: QWidget | None = None, *,
                 status_source: StatusSource | None = None, refresh_s: float = REFRESH_S,
                 ssh_config: Path = DEFAULT_PATH, clusters: Clusters | None = None,
                 cluster_source: QueueSource | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Servers")
        self.servers = servers
        self.keeper = servers.keeper
        self._ssh_config = ssh_config
        self._saved: dict[str, ServerProfile] = {}
        self._statuses: dict[str, HostStatus] = {}
        source = status_source if status_source is not None else servers.status_source()
        self.monitor = StatusMonitor(source, servers.secrets, interval=refresh_s, parent=self)
        self.monitor.statusChanged.connect(self.show_status)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in (NAME, ADDRESS, RUNNING):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(GPUS, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(GPUS, 360)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.cellDoubleClicked.connect(lambda _row, _col: self.edit_server())
        self.empty = QLabel("No servers yet: Add one, or Import from ~/.ssh/config.")
        self.empty.setStyleSheet("color: #616161;")

        self.add_button = QPushButton("Add…")
        self.edit_button = QPushButton("Edit…")
        self.delete_button = QPushButton("Delete")
        self.test_button = QPushButton("Test connection")
        self.import_button = QPushButton("Import from ~/.ssh/config…")
        self.add_button.clicked.connect(self.add_server)
        self.edit_button.clicked.connect(self.edit_server)
        self.delete_button.clicked.connect(self.delete_server)
        self.test_button.clicked.connect(self.test_server)
        self.import_button.clicked.connect(self.import_ssh_config)
        actions = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.delete_button,
                       self.test_button, self.import_button):
            actions.addWidget(button)
        actions.addStretch(1)

        self.tester = ConnectionTest(servers.probe, self)
        self.tester.hide()
        self.tester.finished.connect(self._tested)
        self.tester.keyAccepted.connect(self.monitor.refresh_now)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(actions)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        self.clusters = None if clusters is None else ClusterPanel(clusters, cluster_source,
                                                                   parent=self)
        if self.clusters is not None:
            layout.addWidget(self.clusters)
        layout.addWidget(self.tester)
        layout.addWidget(self.buttons)
        self.resize(980, 420)
        self.reload()

    # --- the list -----------------------------------------------------------------

    def reload(self, select: str | None = None) -> None:
        """Read the saved servers again, keep (or move) the selection, watch them all."""
        keep = select or self.selected_name()
        try:
            saved = self.servers.list()
        except StoreError as exc:
            QMessageBox.warning(self, "Servers", f"Cannot read the saved servers: {exc}")
            saved = []
        self._saved = {profile.name: profile for profile in saved}
        self._statuses = {name: s for name, s in self._statuses.items() if name in self._saved}
        self.table.setRowCount(len(saved))
        for row, profile in enumerate(saved):
            self._fill_row(row, profile)
        self.empty.setVisible(not saved)
        names = [profile.name for profile in saved]
        if keep in names:
            self.table.selectRow(names.index(keep))
        elif names:
            self.table.selectRow(0)
        self._selection_changed()
        self.monitor.watch(saved)

    def _fill_row(self, row: int, profile: ServerProfile) -> None:
        name = QTableWidgetItem(profile.name)
        name.setData(Qt.ItemDataRole.UserRole, profile.name)
        self.table.setItem(row, NAME, name)
        address = QTableWidgetItem(f"{profile.user}@{profile.host}:{profile.port}")
        address.setToolTip(f"work dir {profile.workdir}; python {profile.python}"
                           + (f"; setup: {profile.setup}" if profile.setup else ""))
        self.table.setItem(row, ADDRESS, address)
        self.table.setItem(row, STATUS, QTableWidgetItem())
        self.table.setItem(row, RUNNING, QTableWidgetItem())
        self.table.setCellWidget(row, GPUS, GpuBars())
        self._show_row(row, profile, self._statuses.get(profile.name))

    def _row_of(self, name: str) -> int | None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, NAME)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == name:
                return row
        return None

    @Slot(object)
    def show_status(self, status: HostStatus) -> None:
        """Show a server's new status in its row (statuses of deleted servers are dropped)."""
        profile = self._saved.get(status.name)
        row = self._row_of(status.name)
        if profile is None or row is None:
            return
        self._statuses[status.name] = status
        self._show_row(row, profile, status)

    def _show_row(self, row: int, profile: ServerProfile, status: HostStatus | None) -> None:
        state = self.table.item(row, STATUS)
        running = self.table.item(row, RUNNING)
        bars = self.table.cellWidget(row, GPUS)
        if state is None or running is None or not isinstance(bars, GpuBars):
            return
        text = status_text(status)
        state.setText(text)
        state.setToolTip(text)
        colour = (WAITING_COLOUR if status is None
                  else ONLINE_COLOUR if status.online else OFFLINE_COLOUR)
        state.setForeground(QBrush(colour))
        count = status.running if status is not None else 0
        running.setText(f"{count} / {profile.max_parallel}")
        running.setToolTip(f"{count} trial(s) running of at most {profile.max_parallel}")
        if status is None:
            bars.set_gpus((), "")
        elif status.online:
            bars.set_gpus(status.gpus, status.gpu_note or "no GPUs found; trials run on CPU")
        else:
            bars.set_gpus((), "unknown while offline")
        self.table.resizeRowToContents(row)

    def selected_name(self) -> str | None:
        """The selected server's name, if any."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), NAME)
        value = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return value if isinstance(value, str) else None

    def status_of(self, name: str) -> HostStatus | None:
        """The last status shown for server ``name``."""
        return self._statuses.get(name)

    def row_texts(self, name: str) -> dict[str, str]:
        """What the row of server ``name`` shows, by column title (for tests and logs)."""
        row = self._row_of(name)
        if row is None:
            raise KeyError(f"no row for server {name!r}")
        texts: dict[str, str] = {}
        for column, title in enumerate(COLUMNS):
            item = self.table.item(row, column)
            widget = self.table.cellWidget(row, column)
            texts[title] = (item.text() if item is not None
                            else widget.text() if isinstance(widget, GpuBars) else "")
        return texts

    @Slot()
    def _selection_changed(self) -> None:
        chosen = self.selected_name() is not None
        for button in (self.edit_button, self.delete_button):
            button.setEnabled(chosen)
        self.test_button.setEnabled(chosen and not self.tester.running)

    # --- actions ------------------------------------------------------------------

    @Slot()
    def add_server(self) -> ServerForm:
        """Open the form for a new server (window-modal); saved when accepted."""
        form = ServerForm(self.keeper, self, taken=self._saved, probe=self.servers.probe,
                          clusters=self._cluster_names())
        form.accepted.connect(lambda: self._save(form, new=True))
        form.open()
        return form

    @Slot()
    def edit_server(self) -> ServerForm | None:
        """Open the form on the selected server; saved when accepted."""
        name = self.selected_name()
        if name is None or name not in self._saved:
            return None
        form = ServerForm(self.keeper, self, profile=self._saved[name], taken=self._saved,
                          probe=self.servers.probe)
        form.accepted.connect(lambda: self._save(form, new=False))
        form.open()
        return form

    def _cluster_names(self) -> list[str]:
        try:  # unread, a clash is still refused when saving
            return self.servers.cluster_names()
        except StoreError:
            return []

    def _save(self, form: ServerForm, *, new: bool) -> None:
        try:
            profile = form.profile()
            saved = self.servers.add(profile) if new else self.servers.update(profile)
        except (StoreError, ValueError) as exc:
            QMessageBox.warning(self, "Servers", f"The server was not saved: {exc}")
            return
        try:
            self.servers.keep_secrets(saved, form.typed_secrets())
        except (SecretStoreError, ValueError) as exc:
            QMessageBox.warning(self, "Servers", f"Server {saved.name} was saved, but not its "
                                f"secret: {exc}")
        self.reload(select=saved.name)
        self.monitor.refresh_now(saved.name)
        self.serversChanged.emit()

    @Slot()
    def delete_server(self) -> bool:
        """Delete the selected server and its saved secrets, after asking."""
        name = self.selected_name()
        if name is None:
            return False
        answer = QMessageBox.question(
            self, "Delete server",
            f"Delete server {name}? Its saved password or passphrase is removed from the "
            "keyring too. Trials already running there keep running, but Sweeplab no "
            "longer follows them.")
        if answer != QMessageBox.StandardButton.Yes:
            return False
        try:
            self.servers.remove(name)
        except StoreError as exc:
            QMessageBox.warning(self, "Servers", f"Server {name} was not deleted: {exc}")
            return False
        try:
            self.servers.forget_secrets(name)
        except (SecretStoreError, ValueError) as exc:
            QMessageBox.warning(self, "Servers", f"Server {name} was deleted, but its "
                                f"secrets could not be removed from the keyring: {exc}")
        self._statuses.pop(name, None)
        self.reload()
        self.serversChanged.emit()
        return True

    @Slot()
    def test_server(self) -> bool:
        """Test the selected server's connection (on a worker thread)."""
        name = self.selected_name()
        if name is None or name not in self._saved or self.tester.running:
            return False
        try:
            secrets = self.servers.secrets(name)
        except (SecretStoreError, ValueError) as exc:
            QMessageBox.warning(self, "Servers", f"Cannot read the secrets of {name}: {exc}; "
                                "testing without them")
            secrets = Secrets()
        self.tester.show()
        started = self.tester.start(self._saved[name], secrets)
        self._selection_changed()
        return started

    @Slot(object)
    def _tested(self, report: object) -> None:
        self._selection_changed()
        name = getattr(report, "server", None)
        if isinstance(name, str):
            self.monitor.refresh_now(name)

    @Slot()
    def import_ssh_config(self) -> ImportDialog | None:
        """Offer the hosts of the ssh config to save (window-modal)."""
        try:
            found = self.servers.scan_ssh_config(self._ssh_config)
        except SshConfigError as exc:
            QMessageBox.warning(self, "Import from ssh config", str(exc))
            return None
        chooser = ImportDialog(found, self)
        chooser.accepted.connect(lambda: self._import(chooser.chosen()))
        chooser.open()
        return chooser

    def _import(self, chosen: list[ServerProfile]) -> None:
        failed: list[str] = []
        for profile in chosen:
            try:
                self.servers.add(profile)
            except StoreError as exc:
                failed.append(str(exc))
        self.reload(select=chosen[0].name if chosen else None)
        if chosen:
            self.serversChanged.emit()
        if failed:
            QMessageBox.warning(self, "Import from ssh config",
                                "Some servers were not imported:\n" + "\n".join(failed))

    # --- closing ------------------------------------------------------------------

    def done(self, result: int) -> None:
        """Close the window and stop watching the servers (their connections close)."""
        self.monitor.close()
        if self.clusters is not None:
            self.clusters.close_queues()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.monitor.close()
        if self.clusters is not None:
            self.clusters.close_queues()
        super().closeEvent(event)
