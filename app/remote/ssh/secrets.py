"""Server passwords and key passphrases in the OS keyring: :class:`SecretStore`.

Secrets are kept under the service ``sweeplab`` with the user names
``server:<profile>:password`` and ``server:<profile>:passphrase``. Only a backend
that the ``keyring`` library recommends (Secret Service, KWallet, the macOS
Keychain, the Windows Credential Locker) counts as usable. Without one, nothing is
written anywhere: there is no plain-text fallback, and ``keyrings.alt`` is never
imported.
"""

from __future__ import annotations

from pathlib import Path

import keyring
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringError, PasswordDeleteError

from app.remote.ssh.profile import NAME_PATTERN, Secrets

SERVICE = "sweeplab"
"""The keyring service every Sweeplab secret is filed under."""

_PASSWORD = "password"
_PASSPHRASE = "passphrase"

_NO_BACKEND = (
    "no OS keyring was found: no Secret Service (such as GNOME Keyring), KWallet, "
    "macOS Keychain or Windows Credential Locker, as is usual on a Linux machine "
    "without a desktop session"
)


class SecretStoreError(Exception):
    """The keyring cannot be used, or it failed; the message says why in plain words."""


def secret_key(profile_name: str, kind: str) -> str:
    """The keyring user name of one secret: ``server:<profile_name>:<kind>``."""
    return f"server:{profile_name}:{kind}"


def key_needs_passphrase(key_file: str | Path) -> bool:
    """True when the private key file is encrypted, so a passphrase must be asked for.

    A file that is missing, unreadable or not a key gives False: whoever connects
    reports that in its own words.
    """
    try:
        data = Path(key_file).expanduser().read_bytes()
    except OSError:
        return False
    loaders = (serialization.load_ssh_private_key, serialization.load_pem_private_key)
    for load in loaders:
        try:
            load(data, password=None)
        except TypeError:  # cryptography: "the key is encrypted but no password was given"
            return True
        except (ValueError, UnsupportedAlgorithm):
            continue
        return False
    return False


def _backend_name(backend: KeyringBackend) -> str:
    return str(getattr(backend, "name", type(backend).__name__))


def _unusable_reason(backend: KeyringBackend) -> str | None:
    """Why ``backend`` cannot hold Sweeplab's secrets, or None when it can."""
    if isinstance(backend, fail.Keyring):
        return _NO_BACKEND
    if isinstance(backend, null.Keyring):
        return "the keyring is switched off (keyring's null backend is configured)"
    if isinstance(backend, chainer.ChainerBackend):
        chained = list(backend.backends)
        if any(_unusable_reason(each) is None for each in chained):
            return None
        return _NO_BACKEND
    try:
        priority = float(backend.priority)
    except Exception as exc:  # a backend says it is not viable by raising here
        return f"the keyring backend {_backend_name(backend)} cannot run here: {exc}"
    if priority < 1:
        return (f"the keyring backend {_backend_name(backend)} is not one the keyring "
                "library recommends (it may keep secrets unencrypted), so Sweeplab does "
                "not use it")
    return None


def _check_name(profile_name: object) -> str:
    if not isinstance(profile_name, str) or not NAME_PATTERN.match(profile_name):
        raise ValueError(f"secrets: {profile_name!r} is not a valid server profile name")
    return profile_name


class SecretStore:
    """The passwords and passphrases of saved servers, in the OS keyring.

    Thread safety: as safe as the keyring backend (the OS keyrings are); the store
    itself holds no state beyond the backend.

    Args:
        backend: the keyring backend to use; None asks ``keyring.get_keyring()``
            (its environment variable, its config file, else the best one found).
    """

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self._reason: str | None
        if backend is None:
            try:
                backend = keyring.get_keyring()
            except Exception as exc:  # a broken keyringrc.cfg or PYTHON_KEYRING_BACKEND
                self._backend: KeyringBackend | None = None
                self._reason = f"the keyring configuration could not be loaded: {exc}"
                return
        self._backend = backend
        self._reason = _unusable_reason(backend)

    def available(self) -> bool:
        """True when secrets can be saved and read."""
        return self._reason is None

    def why_unavailable(self) -> str:
        """Why secrets cannot be saved, in plain words; empty when they can."""
        return self._reason or ""

    def where(self) -> str:
        """Where secrets go, for telling the user (``the keyring (SecretService Keyring)``)."""
        if self._backend is None or self._reason is not None:
            return "nowhere (the keyring is unavailable)"
        return f"the keyring ({_backend_name(self._backend)})"

    def _usable(self) -> KeyringBackend:
        if self._backend is None or self._reason is not None:
            raise SecretStoreError(f"cannot use the keyring: {self._reason}")
        return self._backend

    def get(self, profile_name: str) -> Secrets:
        """The saved secrets of ``profile_name``; empty Secrets when none or unavailable.

        Raises:
            ValueError: ``profile_name`` is not a valid profile name.
            SecretStoreError: the keyring failed (locked, its service stopped).
        """
        name = _check_name(profile_name)
        if self._backend is None or self._reason is not None:
            return Secrets()
        try:
            password = self._backend.get_password(SERVICE, secret_key(name, _PASSWORD))
            passphrase = self._backend.get_password(SERVICE, secret_key(name, _PASSPHRASE))
        except KeyringError as exc:
            raise SecretStoreError(
                f"cannot read the secrets of server {name!r} from {self.where()}: {exc}"
            ) from None
        return Secrets(password=password, passphrase=passphrase)

    def set(self, profile_name: str, secrets: Secrets) -> None:
        """Save both secrets of ``profile_name``; a None field deletes that secret.

        Raises:
            ValueError: ``profile_name`` is not a valid profile name.
            SecretStoreError: no usable keyring (nothing is written anywhere), or
                the keyring refused; the message never contains the secret.
        """
        name = _check_name(profile_name)
        backend = self._usable()
        for kind, value in ((_PASSWORD, secrets.password), (_PASSPHRASE, secrets.passphrase)):
            try:
                if value is None:
                    self._delete_one(backend, name, kind)
                else:
                    backend.set_password(SERVICE, secret_key(name, kind), value)
            except KeyringError as exc:
                reason = str(exc) or type(exc).__name__
                if value:
                    reason = reason.replace(value, "***")
                raise SecretStoreError(
                    f"cannot save the {kind} of server {name!r} in {self.where()}: {reason}"
                ) from None

    def delete(self, profile_name: str) -> None:
        """Forget both secrets of ``profile_name``; missing ones are fine.

        Raises:
            ValueError: ``profile_name`` is not a valid profile name.
            SecretStoreError: no usable keyring, or the keyring failed.
        """
        name = _check_name(profile_name)
        backend = self._usable()
        for kind in (_PASSWORD, _PASSPHRASE):
            try:
                self._delete_one(backend, name, kind)
            except KeyringError as exc:
                raise SecretStoreError(
                    f"cannot delete the {kind} of server {name!r} from {self.where()}: {exc}"
                ) from None

    @staticmethod
    def _delete_one(backend: KeyringBackend, name: str, kind: str) -> None:
        key = secret_key(name, kind)
        if backend.get_password(SERVICE, key) is None:
            return
        try:
            backend.delete_password(SERVICE, key)
        except PasswordDeleteError:
            if backend.get_password(SERVICE, key) is not None:
                raise

    def __repr__(self) -> str:
        return f"SecretStore({self.where()})"
