"""SecretStore over a recommended in-memory backend, and over the real 'no keyring' paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring.backend
import pytest
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringLocked, PasswordSetError

from app.remote.ssh.profile import Secrets
from app.remote.ssh.secrets import (
    SERVICE,
    SecretStore,
    SecretStoreError,
    key_needs_passphrase,
    secret_key,
)
from tests.servers.conftest import MemoryKeyring, UnrecommendedKeyring

ROOT = Path(__file__).resolve().parents[2]


def test_set_get_delete_round_trip() -> None:
    backend = MemoryKeyring()
    store = SecretStore(backend)
    assert store.available() and store.why_unavailable() == ""
    store.set("gpu-box", Secrets(password="hunter2", passphrase="open sesame"))
    assert backend.entries == {
        (SERVICE, "server:gpu-box:password"): "hunter2",
        (SERVICE, "server:gpu-box:passphrase"): "open sesame",
    }
    got = store.get("gpu-box")
    assert (got.password, got.passphrase) == ("hunter2", "open sesame")
    store.delete("gpu-box")
    assert backend.entries == {}
    assert store.get("gpu-box") == Secrets()


def test_set_with_none_forgets_that_secret_only() -> None:
    backend = MemoryKeyring()
    store = SecretStore(backend)
    store.set("a", Secrets(password="pw", passphrase="pp"))
    store.set("a", Secrets(passphrase="pp2"))
    assert backend.entries == {(SERVICE, secret_key("a", "passphrase")): "pp2"}


def test_profiles_do_not_share_secrets() -> None:
    store = SecretStore(MemoryKeyring())
    store.set("a", Secrets(password="one"))
    store.set("b", Secrets(password="two"))
    store.delete("a")
    assert store.get("a").password is None
    assert store.get("b").password == "two"


def test_delete_of_nothing_saved_is_fine() -> None:
    SecretStore(MemoryKeyring()).delete("never-saved")


def test_where_names_the_backend() -> None:
    assert "MemoryKeyring" in SecretStore(MemoryKeyring()).where()


@pytest.mark.parametrize("bad", ["", "a:b", "local host", None])
def test_bad_profile_name_is_a_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match="not a valid server profile name"):
        SecretStore(MemoryKeyring()).set(bad, Secrets(password="x"))  # type: ignore[arg-type]


def test_fail_backend_is_unavailable_and_set_raises() -> None:
    store = SecretStore(fail.Keyring())
    assert not store.available()
    assert "no OS keyring was found" in store.why_unavailable()
    with pytest.raises(SecretStoreError, match="cannot use the keyring: no OS keyring"):
        store.set("a", Secrets(password="hunter2"))
    with pytest.raises(SecretStoreError):
        store.delete("a")
    assert store.get("a") == Secrets()


def test_null_backend_is_unavailable() -> None:
    store = SecretStore(null.Keyring())
    assert not store.available()
    assert "switched off" in store.why_unavailable()


def test_unrecommended_backend_is_refused_and_gets_nothing() -> None:
    backend = UnrecommendedKeyring()
    store = SecretStore(backend)
    assert not store.available()
    assert "not one the keyring library recommends" in store.why_unavailable()
    with pytest.raises(SecretStoreError):
        store.set("a", Secrets(password="hunter2", passphrase="pp"))
    assert backend.entries == {}


@pytest.fixture
def nothing_to_chain(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """keyring's chainer sees no backend at all (its limit refuses every one)."""
    monkeypatch.setattr(keyring.backend, "_limit", lambda _backend: False)
    yield


@pytest.mark.usefixtures("nothing_to_chain")
def test_chainer_without_backends_is_unavailable() -> None:
    backend = chainer.ChainerBackend()
    assert list(backend.backends) == []
    store = SecretStore(backend)
    assert not store.available()
    assert "no OS keyring was found" in store.why_unavailable()


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError(f"refused to store {password}")


def test_backend_failures_become_plain_errors_without_the_secret() -> None:
    store = SecretStore(LockedKeyring())
    with pytest.raises(SecretStoreError, match=r"cannot read the secrets of server 'a'.*locked"):
        store.get("a")
    with pytest.raises(SecretStoreError) as caught:
        store.set("a", Secrets(password="hunter2"))
    assert "cannot save the password of server 'a'" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_secrets_repr_hides_values() -> None:
    text = repr(Secrets(password="hunter2", passphrase="pp-secret"))
    assert "hunter2" not in text and "pp-secret" not in text


PROBE = """
import json
from app.remote.ssh.profile import Secrets
from app.remote.ssh.secrets import SecretStore, SecretStoreError
store = SecretStore()
result = {"available": store.available(), "why": store.why_unavailable()}
try:
    store.set("a", Secrets(password="hunter2"))
    result["set"] = "saved"
except SecretStoreError as exc:
    result["set"] = str(exc)
print(json.dumps(result))
"""


def _probe_default(tmp_path: Path, **extra: str) -> dict[str, object]:
    """SecretStore() in a fresh process: keyring's own detection, no desktop session."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DBUS_", "PYTHON_KEYRING", "XDG_"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), **extra)
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    decoded: dict[str, object] = json.loads(result.stdout)
    return decoded


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_real_default_without_a_desktop_session_is_unavailable(tmp_path: Path) -> None:
    result = _probe_default(tmp_path)
    assert result["available"] is False
    assert "no OS keyring was found" in str(result["why"])
    assert str(result["set"]).startswith("cannot use the keyring")
    assert _files_under(tmp_path) == []  # nothing written anywhere under HOME


def test_keyring_env_choosing_the_fail_backend_is_unavailable(tmp_path: Path) -> None:
    result = _probe_default(tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    assert result["available"] is False
    assert _files_under(tmp_path) == []


def test_broken_keyring_configuration_is_reported(tmp_path: Path) -> None:
    result = _probe_default(tmp_path, PYTHON_KEYRING_BACKEND="no_such_module.Keyring")
    assert result["available"] is False
    assert "the keyring configuration could not be loaded" in str(result["why"])
    assert "no_such_module" in str(result["why"])


def _keygen(path: Path, passphrase: str, *extra: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-N", passphrase, "-f", str(path), *extra],
                   check=True, capture_output=True, timeout=60)
    return path


@pytest.mark.parametrize(("args", "passphrase", "expected"), [
    (["-t", "ed25519"], "pass-phrase", True),
    (["-t", "ed25519"], "", False),
    (["-t", "rsa", "-b", "2048", "-m", "PEM"], "pass-phrase", True),
    (["-t", "rsa", "-b", "2048", "-m", "PEM"], "", False),
    (["-t", "ecdsa"], "pass-phrase", True),
], ids=["ed25519-encrypted", "ed25519-plain", "rsa-pem-encrypted", "rsa-pem-plain",
        "ecdsa-encrypted"])
def test_key_needs_passphrase_on_real_keys(tmp_path: Path, args: list[str], passphrase: str,
                                           expected: bool) -> None:
    assert key_needs_passphrase(_keygen(tmp_path / "key", passphrase, *args)) is expected


def test_key_needs_passphrase_is_false_for_what_is_not_a_key(tmp_path: Path) -> None:
    (tmp_path / "junk").write_text("not a key")
    assert key_needs_passphrase(tmp_path / "junk") is False
    assert key_needs_passphrase(tmp_path / "missing") is False
    assert key_needs_passphrase(tmp_path) is False
