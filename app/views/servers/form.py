"""Add or edit one saved server: :class:`ServerForm`.

Every field is checked as it is typed: the profile's own problems
(:meth:`ServerProfile.problems`, plus the database's limits) show beside the field
they name, and OK stays disabled while there is any. Passwords and passphrases are
only handed to a :class:`SecretKeeper` (the OS keyring, or this session's memory when
there is none), never to the profile.
"""

from __future__ import annotations

import getpass
from collections.abc import Collection
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.application.servers import (
    AuthKind,
    InvalidProfile,
    Probe,
    SecretKeeper,
    Secrets,
    ServerProfile,
    check_profile,
    key_needs_passphrase,
)
from app.views.servers.connection_test import ConnectionTest
from app.views.servers.fields import field_of, gpus_text, parse_gpus
from app.views.servers.wrapped_label import WrappedLabel

ERROR_STYLE = "color: #c62828;"
NOTE_STYLE = "color: #8d6e00;"
AUTH_CHOICES = (("key file", AuthKind.KEY), ("ssh-agent", AuthKind.AGENT),
                ("password", AuthKind.PASSWORD))
DEFAULT_KEYS = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
MIN_WIDTH = 560
"""The form's least width in pixels: room for a path or a setup command in a field."""


def _default_key() -> str:
    for candidate in DEFAULT_KEYS:
        path = Path(candidate).expanduser()
        if path.is_file():
            return str(path)
    return ""


class ServerForm(QDialog):
    """The fields of one server profile, checked as typed.

    Args:
        keeper: where secrets go; its note is shown beside the secret fields.
        parent: the owning window.
        profile: the profile to edit (its name cannot change); None adds a new one.
        taken: names of saved servers, which a new one may not take.
        clusters: names of saved Slurm clusters, which no server may take either (a
            host name in an experiment means one or the other).
        probe: when given (:meth:`Servers.probe`), a "Test connection" button tests the
            typed profile.
    """

    def __init__(self, keeper: SecretKeeper, parent: QWidget | None = None, *,
                 profile: ServerProfile | None = None, taken: Collection[str] = (),
                 clusters: Collection[str] = (), probe: Probe | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit server {profile.name}" if profile else "Add a server")
        self._keeper = keeper
        self._editing = profile is not None
        self._taken = {name for name in taken if profile is None or name != profile.name}
        self._clusters = set(clusters)
        self._profile: ServerProfile | None = None
        self._problems: dict[str, str] = {}
        self.errors: dict[str, QLabel] = {}
        saved_password, saved_passphrase = (keeper.has_saved(profile.name) if profile
                                            else (False, False))
        self._saved = {"password": saved_password, "passphrase": saved_passphrase}

        self.name = QLineEdit()
        self.name.setPlaceholderText("gpu-box-1")
        self.host = QLineEdit()
        self.host.setPlaceholderText("gpu-box-1.lab.example.org")
        self.port = _spin(1, 65535, 22)
        self.user = QLineEdit(getpass.getuser())
        self.auth = QComboBox()
        for label, kind in AUTH_CHOICES:
            self.auth.addItem(label, kind.value)
        self.key_file = QLineEdit()
        self.key_file.setPlaceholderText("~/.ssh/id_ed25519")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_file, 1)
        key_row.addWidget(self.browse)
        self.passphrase = _secret_field(saved_passphrase, "no passphrase")
        self.password = _secret_field(saved_password, "password")
        self.secret_notes = {key: _note_label(keeper) for key in ("passphrase", "password")}
        self.workdir = QLineEdit("~/sweeplab")
        self.setup = QLineEdit()
        self.setup.setPlaceholderText("e.g. source ~/venv/bin/activate  or  conda activate x")
        self.python = QLineEdit("python3")
        self.max_parallel = _spin(1, 1024, 1)
        self.gpus = QLineEdit()
        self.gpus.setPlaceholderText("blank = every GPU; e.g. 0, 1; none = CPU only")
        self.trials_per_gpu = _spin(1, 64, 1)
        self.allow_busy_gpus = QCheckBox("also use GPUs that run other people's processes")

        self.form = QFormLayout()
        rows: list[tuple[str, QWidget | QHBoxLayout, str]] = [
            ("Name", self.name, "name"), ("Host", self.host, "host"),
            ("Port", self.port, "port"), ("User", self.user, "user"),
            ("Log in with", self.auth, "auth"), ("Key file", key_row, "key_file"),
            ("Key passphrase", self.passphrase, "passphrase"),
            ("Password", self.password, "password"),
            ("Work directory", self.workdir, "workdir"),
            ("Setup command", self.setup, "setup"), ("Python", self.python, "python"),
            ("Max parallel trials", self.max_parallel, "max_parallel"),
            ("GPUs to use", self.gpus, "gpus"),
            ("Trials per GPU", self.trials_per_gpu, "trials_per_gpu"),
            ("Busy GPUs", self.allow_busy_gpus, "allow_busy_gpus"),
        ]
        self._cells: dict[str, QWidget] = {}
        for label, widget, key in rows:
            cell = QWidget()
            column = QVBoxLayout(cell)
            column.setContentsMargins(0, 0, 0, 0)
            if isinstance(widget, QHBoxLayout):
                column.addLayout(widget)
            else:
                column.addWidget(widget)
            if key in self.secret_notes:
                column.addWidget(self.secret_notes[key])
            error = _validation_line()
            column.addWidget(error)
            self.errors[key] = error
            self._cells[key] = cell
            self.form.addRow(label, cell)
        self.general_error = WrappedLabel()
        self.general_error.setStyleSheet(ERROR_STYLE)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.tester: ConnectionTest | None = None
        self.test_button: QPushButton | None = None
        # the fields, their notes and the test report scroll rather than squash: a dialog
        # does not grow for word-wrapped text (height for width), a scroll area's content
        # is given the height its text needs at the width it has
        content = self._content = QWidget()
        inner = QVBoxLayout(content)
        inner.addLayout(self.form)
        inner.addWidget(self.general_error)
        if probe is not None:
            self.tester = ConnectionTest(probe, content)
            self.tester.hide()
            self.test_button = self.buttons.addButton(
                "Test connection", QDialogButtonBox.ButtonRole.ActionRole)
            self.test_button.clicked.connect(self.test_connection)
            self.tester.finished.connect(self.validate)
            self.tester.finished.connect(self._grow_to_content)
            inner.addWidget(self.tester)
        inner.addStretch(1)
        self.fields_area = QScrollArea()
        self.fields_area.setWidgetResizable(True)
        self.fields_area.setFrameShape(QFrame.Shape.NoFrame)
        self.fields_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.fields_area.setWidget(content)
        self._layout = QVBoxLayout(self)
        self._layout.addWidget(self.fields_area, 1)
        self._layout.addWidget(self.buttons)

        if profile is not None:
            self.load(profile)
        else:
            key = _default_key()
            self.key_file.setText(key)
            self.auth.setCurrentIndex(0 if key else 1)
        for line in (self.name, self.host, self.user, self.key_file, self.workdir, self.setup,
                     self.python, self.gpus, self.password, self.passphrase):
            line.textChanged.connect(self.validate)
        for spin in (self.port, self.max_parallel, self.trials_per_gpu):
            spin.valueChanged.connect(self.validate)
        self.auth.currentIndexChanged.connect(self.validate)
        self.allow_busy_gpus.toggled.connect(self.validate)
        self.validate()
        self.resize(self.sizeHint())  # not Qt's default of 2/3 of the screen at most

    def load(self, profile: ServerProfile) -> None:
        """Show a saved profile's fields; its name is fixed from now on."""
        self.name.setText(profile.name)
        self.name.setReadOnly(self._editing)
        self.host.setText(profile.host)
        self.port.setValue(profile.port)
        self.user.setText(profile.user)
        self.auth.setCurrentIndex(self.auth.findData(profile.auth.value))
        self.key_file.setText(profile.key_file or "")
        self.workdir.setText(profile.workdir)
        self.setup.setText(profile.setup)
        self.python.setText(profile.python)
        self.max_parallel.setValue(profile.max_parallel)
        self.gpus.setText(gpus_text(profile.gpus))
        self.trials_per_gpu.setValue(profile.trials_per_gpu)
        self.allow_busy_gpus.setChecked(profile.allow_busy_gpus)

    def auth_kind(self) -> AuthKind:
        """The chosen way to log in."""
        value = self.auth.currentData()
        return AuthKind(value) if value in tuple(AuthKind) else AuthKind.AGENT

    def _build(self) -> tuple[ServerProfile | None, dict[str, list[str]]]:
        """The profile the fields describe and the problems by field key."""
        found: dict[str, list[str]] = {}
        try:
            gpus = parse_gpus(self.gpus.text())
        except ValueError as exc:
            found.setdefault("gpus", []).append(str(exc))
            gpus = None
        auth = self.auth_kind()
        key_file = self.key_file.text().strip()
        profile = ServerProfile(
            name=self.name.text().strip(), host=self.host.text().strip(),
            user=self.user.text().strip(), port=self.port.value(), auth=auth,
            key_file=key_file if auth is AuthKind.KEY and key_file else None,
            workdir=self.workdir.text().strip(), setup=self.setup.text().strip(),
            python=self.python.text().strip() or "python3",
            max_parallel=self.max_parallel.value(), gpus=gpus,
            trials_per_gpu=self.trials_per_gpu.value(),
            allow_busy_gpus=self.allow_busy_gpus.isChecked(),
        )
        try:
            check_profile(profile)
        except InvalidProfile as exc:
            prefix = f"server {profile.name!r}: "
            for problem in exc.problems:
                text = problem[len(prefix):] if problem.startswith(prefix) else problem
                found.setdefault(field_of(text), []).append(text)
        if not self._editing and profile.name in self._taken:
            found.setdefault("name", []).append(
                f"a server named {profile.name!r} exists already; pick another name")
        elif not self._editing and profile.name in self._clusters:
            found.setdefault("name", []).append(
                f"a Slurm cluster is named {profile.name!r}; a server needs a name of its own")
        return (None if found else profile), found

    def _notes(self, auth: AuthKind) -> dict[str, str]:
        """Warnings that do not block OK (a missing key file, a secret not typed)."""
        notes: dict[str, str] = {}
        key = self.key_file.text().strip()
        if auth is AuthKind.KEY and key:
            path = Path(key).expanduser()
            if not path.is_file():
                notes["key_file"] = f"there is no file {path} on this machine"
            elif (key_needs_passphrase(path) and not self.passphrase.text()
                  and not self._saved["passphrase"]):
                notes["passphrase"] = "this key is encrypted: type its passphrase"
        if auth is AuthKind.PASSWORD and not self.password.text() and not self._saved["password"]:
            notes["password"] = "type the password, or logging in will fail"
        return notes

    @Slot()
    def validate(self) -> bool:
        """Show each problem beside its field; enable OK only when there is none."""
        auth = self.auth_kind()
        self.form.setRowVisible(self._cells["key_file"], auth is AuthKind.KEY)
        self.form.setRowVisible(self._cells["passphrase"], auth is AuthKind.KEY)
        self.form.setRowVisible(self._cells["password"], auth is AuthKind.PASSWORD)
        profile, found = self._build()
        notes = self._notes(auth)
        self._problems = {key: "; ".join(texts) for key, texts in found.items()}
        for key, label in self.errors.items():
            if key in found:
                label.setText(self._problems[key])
                label.setStyleSheet(ERROR_STYLE)
                label.show()
            elif key in notes:
                label.setText(notes[key])
                label.setStyleSheet(NOTE_STYLE)
                label.show()
            else:  # its line stays reserved (see _validation_line): nothing below moves
                label.clear()
                label.hide()
        general = [text for key, texts in found.items() if key not in self.errors
                   for text in texts]
        self.general_error.setText("\n".join(general))
        self._profile = profile
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(profile is not None)
        if self.test_button is not None:
            self.test_button.setEnabled(profile is not None and not self._testing())
        return profile is not None

    def sizeHint(self) -> QSize:
        """Room for every field, note and report line without scrolling, within the
        screen."""
        content = self._content
        inner = content.sizeHint()
        width = max(inner.width() + self.fields_area.verticalScrollBar().sizeHint().width(),
                    MIN_WIDTH)
        height = max(inner.height(), content.heightForWidth(width)) if (
            content.hasHeightForWidth()) else inner.height()
        margins = self._layout.contentsMargins()
        wanted = QSize(width + margins.left() + margins.right(),
                       height + self.buttons.sizeHint().height() + margins.top()
                       + margins.bottom() + self._layout.spacing())
        screen = self.screen().availableGeometry().size()
        return wanted.boundedTo(QSize(screen.width(), int(screen.height() * 0.9)))

    @Slot()
    def _grow_to_content(self) -> None:
        """After a test, grow (never shrink) so that its report shows without scrolling
        where the screen has room."""
        self.resize(self.size().expandedTo(self.sizeHint()))

    def row_shown(self, key: str) -> bool:
        """Whether the row of field ``key`` (``password``, ``key_file``...) is shown."""
        cell = self._cells.get(key)
        return cell is not None and self.form.isRowVisible(cell)

    def _testing(self) -> bool:
        return self.tester is not None and self.tester.running

    def problems(self) -> dict[str, str]:
        """The problems shown now, by field key (``name``, ``host``, ``gpus``...)."""
        return dict(self._problems)

    def profile(self) -> ServerProfile:
        """The valid profile the fields describe.

        Raises:
            ValueError: the fields have problems (they are shown beside the fields).
        """
        if self._profile is None:
            raise ValueError("the server settings are not valid: "
                             + "; ".join(self.problems().values()))
        return self._profile

    def typed_secrets(self) -> Secrets:
        """What was typed in the secret fields the chosen login uses (None: nothing)."""
        auth = self.auth_kind()
        password = self.password.text() if auth is AuthKind.PASSWORD else ""
        passphrase = self.passphrase.text() if auth is AuthKind.KEY else ""
        return Secrets(password=password or None, passphrase=passphrase or None)

    def secrets_for_test(self) -> Secrets:
        """The typed secrets, else the ones on file, for testing before saving."""
        typed = self.typed_secrets()
        try:
            saved = self._keeper.get(self.name.text().strip()) if self._editing else Secrets()
        except ValueError:
            saved = Secrets()
        except Exception:  # keyring trouble: test with what was typed
            saved = Secrets()
        return Secrets(password=typed.password or saved.password,
                       passphrase=typed.passphrase or saved.passphrase)

    @Slot()
    def test_connection(self) -> None:
        """Test the profile as typed (nothing is saved)."""
        if self.tester is None or self._profile is None:
            return
        self.tester.show()
        self.tester.start(self._profile, self.secrets_for_test())
        if self.test_button is not None:
            self.test_button.setEnabled(False)

    @Slot()
    def _browse(self) -> None:
        start = self.key_file.text().strip() or str(Path("~/.ssh").expanduser())
        path, _ = QFileDialog.getOpenFileName(self, "Private key file",
                                              str(Path(start).expanduser()))
        if path:
            self.key_file.setText(path)


def _validation_line() -> QLabel:
    """The line under a field where its problem shows: one line of height is reserved
    even while it is hidden, so that the fields below do not move when a problem
    appears or goes (a problem longer than a line still wraps)."""
    label = WrappedLabel(lines=1)
    label.setStyleSheet(ERROR_STYLE)
    policy = label.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    label.setSizePolicy(policy)
    label.hide()
    return label


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


def _secret_field(saved: bool, what: str) -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setPlaceholderText("saved; type to replace it" if saved else f"({what})")
    return field


def _note_label(keeper: SecretKeeper) -> QLabel:
    """Where secrets go, shown beside a secret field (a warning without a keyring)."""
    note = WrappedLabel(keeper.note())
    note.setStyleSheet("color: #616161;" if keeper.available() else NOTE_STYLE)
    return note
