"""Fixtures for the server-profile tests: an in-memory keyring, profiles, databases.

The PostgreSQL cluster is the suite's one (tests/conftest.py); ``store_url`` is the store
tests' fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from app.remote.ssh.profile import AuthKind, ServerProfile
from tests.store.conftest import store_url

__all__ = ["store_url"]


class MemoryKeyring(KeyringBackend):
    """A recommended keyring backend that keeps secrets in a dict (this machine has none)."""

    priority = 10
    viable = False  # never picked by keyring's own detection

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise PasswordDeleteError(f"no {username} in {service}")
        del self.entries[(service, username)]


class UnrecommendedKeyring(MemoryKeyring):
    """Like keyrings.alt's plain-text file: works, but keyring does not recommend it."""

    priority = 0.5


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An empty in-memory keyring installed as the process's keyring backend."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """keyring's own 'no backend found' backend, installed for this process."""
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def make_profile(**changes: Any) -> ServerProfile:
    """A valid profile with every field set away from its default, then ``changes``."""
    fields: dict[str, Any] = {
        "name": "gpu-box", "host": "10.1.2.3", "user": "alice", "port": 2202,
        "auth": AuthKind.KEY, "key_file": "/home/alice/.ssh/id_ed25519",
        "workdir": "/scratch/alice/sweeplab", "setup": "conda activate torch",
        "python": "/opt/py/bin/python3", "max_parallel": 4, "gpus": (0, 2),
        "trials_per_gpu": 2, "allow_busy_gpus": True,
    }
    fields.update(changes)
    return ServerProfile(**fields)


@pytest.fixture
def profile_factory() -> Callable[..., ServerProfile]:
    """:func:`make_profile` as a fixture."""
    return make_profile
