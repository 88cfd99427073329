"""Where the Servers view puts passwords and passphrases: :class:`SecretKeeper`.

Secrets go to the OS keyring through :class:`~app.remote.ssh.secrets.SecretStore`.
Without a usable keyring they are kept in this object's memory for this session only
(never written anywhere), and the user is told why. No Qt here.
"""

from __future__ import annotations

import threading

from app.remote.ssh.profile import AuthKind, Secrets, ServerProfile
from app.remote.ssh.secrets import SecretStore, SecretStoreError


class SecretKeeper:
    """Server secrets in the keyring, or in memory for this session when there is none.

    Args:
        store: the keyring access.

    Thread safety: every method may be called from any thread (status workers read
    secrets while the GUI thread saves them).
    """

    def __init__(self, store: SecretStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._session: dict[str, Secrets] = {}

    def available(self) -> bool:
        """True when secrets are saved in the OS keyring."""
        return self.store.available()

    def note(self) -> str:
        """Where typed secrets go, in plain words, for the text beside the fields."""
        if self.store.available():
            return f"Saved in {self.store.where()}; never in the database."
        return (f"Not saved: {self.store.why_unavailable()}. What you type is kept for this "
                "session only and asked again next time.")

    def get(self, name: str) -> Secrets:
        """The secrets of server ``name``: this session's, else the keyring's.

        Raises:
            ValueError: ``name`` is not a valid profile name.
            SecretStoreError: the keyring failed (locked, its service stopped).
        """
        with self._lock:
            kept = self._session.get(name)
        return kept if kept is not None else self.store.get(name)

    def has_saved(self, name: str) -> tuple[bool, bool]:
        """Whether a password and a passphrase are on file for ``name`` (never raises)."""
        try:
            secrets = self.get(name)
        except (SecretStoreError, ValueError):
            return False, False
        return bool(secrets.password), bool(secrets.passphrase)

    def update(self, profile: ServerProfile, typed: Secrets) -> Secrets:
        """Keep what ``profile``'s login needs: the typed secrets, else the ones on file.

        A password is kept only for password logins and a passphrase only for key
        files; the other is forgotten. Secrets are saved in the keyring when there is
        one, else in memory for this session.

        Returns:
            The secrets now on file for the profile.

        Raises:
            ValueError: the profile name is not valid.
            SecretStoreError: the keyring failed; the message never holds a secret.
        """
        try:
            old = self.get(profile.name)
        except SecretStoreError:
            old = Secrets()
        password = passphrase = None
        if profile.auth is AuthKind.PASSWORD:
            password = typed.password or old.password
        elif profile.auth is AuthKind.KEY:
            passphrase = typed.passphrase or old.passphrase
        wanted = Secrets(password=password, passphrase=passphrase)
        if self.store.available():
            if wanted != old:
                self.store.set(profile.name, wanted)
            with self._lock:
                self._session.pop(profile.name, None)
        else:
            with self._lock:
                if password or passphrase:
                    self._session[profile.name] = wanted
                else:
                    self._session.pop(profile.name, None)
        return wanted

    def forget(self, name: str) -> None:
        """Forget the secrets of server ``name``: this session's and the keyring's.

        Raises:
            ValueError: ``name`` is not a valid profile name.
            SecretStoreError: the keyring failed to delete them.
        """
        with self._lock:
            self._session.pop(name, None)
        if self.store.available():
            self.store.delete(name)

    def __repr__(self) -> str:
        with self._lock:
            kept = sorted(self._session)
        return f"SecretKeeper({self.store!r}, session-only secrets for {kept})"
