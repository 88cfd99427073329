"""A saved lab server, as the remote layer sees it: :class:`ServerProfile`.

The profile holds no secret. Passwords and key passphrases travel beside it as a
:class:`Secrets` value (read from the OS keyring by the caller, or typed at a prompt),
so a profile can be logged, stored and shown without leaking anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LOCAL_HOST = "local"
"""The name of this machine in an experiment's ``hosts`` list; no profile may take it."""


class AuthKind(StrEnum):
    """How Sweeplab logs in to a server."""

    AGENT = "agent"
    KEY = "key"
    PASSWORD = "password"


@dataclass(frozen=True)
class ServerProfile:
    """Where and how trials run on one server.

    Attributes:
        name: unique profile name, used in ``hosts: [local, NAME]``.
        host, port, user: where to connect.
        auth: agent, key (``key_file``, optionally with a passphrase) or password.
        key_file: private key path on this machine (``auth == KEY``).
        workdir: where trial directories and snapshots live on the server
            (``~`` is the login user's home).
        setup: shell code run before each trial, e.g. ``source ~/venv/bin/activate``.
        python: what ``{python}`` in a command stands for on that server.
        max_parallel: trials at a time on this server.
        gpus: GPU indices to use; None uses every GPU ``nvidia-smi`` finds, ``()`` none.
        trials_per_gpu: trials sharing one GPU.
        allow_busy_gpus: also use GPUs that run other people's processes.
    """

    name: str
    host: str
    user: str
    port: int = 22
    auth: AuthKind = AuthKind.AGENT
    key_file: str | None = None
    workdir: str = "~/sweeplab"
    setup: str = ""
    python: str = "python3"
    max_parallel: int = 1
    gpus: tuple[int, ...] | None = None
    trials_per_gpu: int = 1
    allow_busy_gpus: bool = False

    def problems(self) -> list[str]:
        """What is wrong with this profile, each naming the field; empty when valid."""
        found: list[str] = []
        where = f"server {self.name!r}"
        if not NAME_PATTERN.match(self.name):
            found.append(f"{where}: name must be 1-64 letters, digits, '_', '.' or '-', "
                         "starting with a letter or digit")
        if self.name == LOCAL_HOST:
            found.append(f"{where}: the name {LOCAL_HOST!r} is this machine; pick another")
        if not self.host.strip():
            found.append(f"{where}: host is empty")
        if not self.user.strip():
            found.append(f"{where}: user is empty")
        if not 1 <= self.port <= 65535:
            found.append(f"{where}: port must be 1-65535, got {self.port}")
        if self.auth is AuthKind.KEY and not self.key_file:
            found.append(f"{where}: auth is 'key' but no key file is given")
        if not self.workdir.strip():
            found.append(f"{where}: workdir is empty")
        if self.max_parallel < 1:
            found.append(f"{where}: max parallel must be >= 1, got {self.max_parallel}")
        if self.trials_per_gpu < 1:
            found.append(f"{where}: trials per GPU must be >= 1, got {self.trials_per_gpu}")
        if self.gpus is not None and any(index < 0 for index in self.gpus):
            found.append(f"{where}: GPU indices must be >= 0, got {list(self.gpus)}")
        return found


@dataclass(frozen=True)
class Secrets:
    """The secrets of one connection, never stored beside the profile."""

    password: str | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        password = "***" if self.password else None
        passphrase = "***" if self.passphrase else None
        return f"Secrets(password={password}, passphrase={passphrase})"
