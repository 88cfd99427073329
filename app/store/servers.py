"""Saved lab servers in the database: :class:`ServerProfiles`.

Rows of ``server_profiles`` go in and out as frozen
:class:`~app.remote.ssh.profile.ServerProfile` values. No secret is ever stored:
a profile holds none (passwords and passphrases live in the OS keyring, see
:mod:`app.remote.ssh.secrets`). A server may not share its name with a saved cluster: an
experiment's ``hosts`` names either. The repository code itself is
:class:`~app.store.named.NamedRows`.
"""

from __future__ import annotations

from app.remote.ssh.profile import AuthKind, ServerProfile
from app.store.models import NAME_LENGTH, ServerProfileRow
from app.store.named import InvalidProfile, NamedRows

__all__ = ["InvalidProfile", "ServerProfiles", "check_profile"]

_TEXT_LIMIT = 255
"""Longest host or user name the schema holds (``String(255)``)."""


def _type_problems(profile: ServerProfile) -> list[str]:
    where = f"server {profile.name!r}"
    found: list[str] = []
    for field in ("name", "host", "user", "workdir", "setup", "python"):
        if not isinstance(getattr(profile, field), str):
            found.append(f"{where}: {field} must be text, got {getattr(profile, field)!r}")
    for field in ("port", "max_parallel", "trials_per_gpu"):
        value = getattr(profile, field)
        if isinstance(value, bool) or not isinstance(value, int):
            found.append(f"{where}: {field.replace('_', ' ')} must be an integer, got {value!r}")
    if not isinstance(profile.auth, AuthKind):
        allowed = ", ".join(kind.value for kind in AuthKind)
        found.append(f"{where}: auth must be one of {allowed}, got {profile.auth!r}")
    if profile.key_file is not None and not isinstance(profile.key_file, str):
        found.append(f"{where}: key file must be a path or None, got {profile.key_file!r}")
    if not isinstance(profile.allow_busy_gpus, bool):
        found.append(f"{where}: allow busy GPUs must be true or false, "
                     f"got {profile.allow_busy_gpus!r}")
    gpus = profile.gpus
    if gpus is not None and (not isinstance(gpus, tuple) or any(
            isinstance(index, bool) or not isinstance(index, int) for index in gpus)):
        found.append(f"{where}: GPUs must be a tuple of indices or None, got {gpus!r}")
    return found


def check_profile(profile: object) -> ServerProfile:
    """``profile`` if it is a valid ServerProfile that fits the schema.

    Raises:
        ValueError: not a ServerProfile at all.
        InvalidProfile: every problem found, each naming the field.
    """
    if not isinstance(profile, ServerProfile):
        raise ValueError(f"expected a ServerProfile, got {type(profile).__name__}")
    found = _type_problems(profile)
    if found:
        raise InvalidProfile(found)
    found = profile.problems()
    where = f"server {profile.name!r}"
    if len(profile.name) > NAME_LENGTH:
        found.append(f"{where}: name is longer than {NAME_LENGTH} characters")
    for field in ("host", "user"):
        if len(getattr(profile, field)) > _TEXT_LIMIT:
            found.append(f"{where}: {field} is longer than {_TEXT_LIMIT} characters")
    if found:
        raise InvalidProfile(found)
    return profile


class ServerProfiles(NamedRows[ServerProfileRow, ServerProfile]):
    """The saved servers of one database: add, get, list, names, update, remove (see
    :class:`~app.store.named.NamedRows`).

    Every method is one session scope of the store (commit, or roll back and raise
    :class:`~app.engine.ports.StoreError`); profiles handed out are frozen values.
    Thread safety: as the store's, any thread. A server may not take a saved cluster's
    name. Removing a server leaves its keyring secrets to the caller.

    Args:
        store: the open store whose database holds the profiles.
    """

    _row_type = ServerProfileRow
    _noun = "server profile"

    def _check(self, profile: object) -> ServerProfile:
        return check_profile(profile)

    def _to_profile(self, row: ServerProfileRow) -> ServerProfile:
        return ServerProfile(
            name=row.name, host=row.host, user=row.user, port=row.port,
            auth=AuthKind(row.auth_kind), key_file=row.key_file, workdir=row.workdir,
            setup=row.setup_command or "", python=row.python, max_parallel=row.max_parallel,
            gpus=None if row.gpus is None else tuple(row.gpus),
            trials_per_gpu=row.trials_per_gpu, allow_busy_gpus=row.allow_busy_gpus,
        )

    def _fill(self, row: ServerProfileRow, profile: ServerProfile) -> None:
        row.name = profile.name
        row.host = profile.host
        row.port = profile.port
        row.user = profile.user
        row.auth_kind = profile.auth.value
        row.key_file = profile.key_file
        row.workdir = profile.workdir
        row.setup_command = profile.setup or None
        row.python = profile.python
        row.max_parallel = profile.max_parallel
        row.gpus = None if profile.gpus is None else list(profile.gpus)
        row.trials_per_gpu = profile.trials_per_gpu
        row.allow_busy_gpus = profile.allow_busy_gpus
