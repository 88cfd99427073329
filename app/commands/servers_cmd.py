"""``sweeplab servers ...``: saved lab servers, managed and tested without a display.

Passwords and passphrases are typed at a getpass prompt and kept only in the OS
keyring. Without a usable keyring the command says so and uses what was typed
for that one command; nothing is ever written in plain text.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from app.application.database import open_if_stored, open_store
from app.application.servers import (
    HOSTS_CLASH,
    AuthKind,
    InvalidProfile,
    SecretKeeper,
    Secrets,
    SecretStoreError,
    ServerProfile,
    Servers,
    check_profile,
    key_needs_passphrase,
    scan_ssh_config,
)
from app.commands.console import console
from app.commands.keyfile import key_file_problem
from app.engine.errors import Problem, ValidationError

_ADD_ONE = "add one with `sweeplab servers add` or `sweeplab servers import`"
"""What to do when none is saved."""

EXIT_FAILED = 1


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _problems(exc: InvalidProfile) -> ValidationError:
    return ValidationError(Problem("", problem) for problem in exc.problems)


def prompt_secret(prompt: str, what: str) -> str | None:
    """A secret typed at a getpass prompt; None when nothing was typed.

    Raises:
        ValueError: the input closed before anything was typed.
    """
    try:
        typed = getpass.getpass(prompt)
    except EOFError:
        raise ValueError(f"no {what} was typed (the input is closed)") from None
    return typed or None


def _address(profile: ServerProfile) -> str:
    return f"{profile.user}@{profile.host}:{profile.port}"


def _auth_text(profile: ServerProfile) -> str:
    if profile.auth is AuthKind.KEY:
        return f"key {profile.key_file}"
    return profile.auth.value


def _gpus_text(gpus: tuple[int, ...] | None) -> str:
    if gpus is None:
        return "all"
    return ",".join(map(str, gpus)) if gpus else "none"


def _profile_from_args(args: argparse.Namespace) -> ServerProfile:
    if args.passphrase_prompt and not args.key:
        raise ValueError("--passphrase-prompt goes with --key FILE")
    auth = AuthKind.AGENT
    key_file: str | None = None
    if args.key:
        auth, key_file = AuthKind.KEY, os.path.abspath(os.path.expanduser(args.key))
    elif args.password_prompt:
        auth = AuthKind.PASSWORD
    profile = ServerProfile(
        name=args.name, host=args.host, user=args.user, port=args.port, auth=auth,
        key_file=key_file, workdir=args.workdir, setup=args.setup, python=args.python,
        max_parallel=args.max_parallel, gpus=args.gpus, trials_per_gpu=args.trials_per_gpu,
        allow_busy_gpus=args.allow_busy_gpus,
    )
    try:
        return check_profile(profile)
    except InvalidProfile as exc:
        raise _problems(exc) from None


def _add(args: argparse.Namespace) -> int:
    profile = _profile_from_args(args)
    problem = key_file_problem(profile.key_file) if profile.key_file else None
    if problem is not None:
        raise ValueError(problem)
    with open_store(args.db) as store:
        servers = Servers(store)
        if any(saved.name == profile.name for saved in servers.list()):
            raise ValueError(f"a server profile named {profile.name!r} already exists in "
                             f"{store.url}; remove it first with `sweeplab servers rm "
                             f"{profile.name}`")
        if profile.name in servers.cluster_names():  # refused before any prompt
            raise ValueError(HOSTS_CLASH.format(kind="cluster", name=profile.name))
        password = passphrase = None
        if args.password_prompt:
            password = prompt_secret(f"Password for {profile.user}@{profile.host}: ", "password")
        if args.passphrase_prompt:
            passphrase = prompt_secret(f"Passphrase for {profile.key_file}: ", "passphrase")
        try:
            servers.add(profile)
        except InvalidProfile as exc:
            raise _problems(exc) from None
    if profile.key_file and not Path(profile.key_file).is_file():
        _note(f"warning: there is no key file at {profile.key_file} on this machine")
    elif profile.key_file and b"PRIVATE KEY-----" not in Path(profile.key_file).read_bytes():
        _note(f"warning: {profile.key_file} does not look like a private key; "
              f"`sweeplab servers test {profile.name}` will tell")
    print(f"saved server {profile.name} ({_address(profile)}, {_auth_text(profile)})")
    typed = [what for what, value in (("password", password), ("passphrase", passphrase))
             if value is not None]
    if typed:
        _save_secrets(servers, profile, Secrets(password=password, passphrase=passphrase),
                      typed)
    return 0


def _save_secrets(servers: Servers, profile: ServerProfile, secrets: Secrets,
                  typed: Sequence[str]) -> None:
    what = " and ".join(typed)
    later = (f"`sweeplab servers test {profile.name}` and runs on it will ask for the {what} "
             "(or use --agent / a key without a passphrase)")
    keeper = servers.keeper
    if not keeper.available():
        _note(f"the {what} was not saved: {keeper.why_unavailable()}. {later}")
        return
    try:
        servers.keep_secrets(profile, secrets)
    except SecretStoreError as exc:
        _note(f"the {what} was not saved: {exc}. {later}")
        return
    print(f"{what} saved in {keeper.where()}")


def _ls(args: argparse.Namespace) -> int:
    opened = open_if_stored(args.db)
    if opened is None:  # before the first run: nothing saved anywhere yet
        print(f"no servers saved yet; {_ADD_ONE}")
        return 0
    with opened as store:
        saved = Servers(store).list()
        if not saved:
            print(f"no servers saved in {store.url}; {_ADD_ONE}")
            return 0
        table = Table(title=f"servers in {escape(store.url)}", title_justify="left")
    for column in ("name", "address", "auth", "workdir", "parallel", "GPUs", "setup"):
        table.add_column(column, overflow="fold", no_wrap=column in ("name", "address"))
    for profile in saved:  # every cell literally: a setup command may hold '[...]'
        table.add_row(*(escape(cell) for cell in (
            profile.name, _address(profile), _auth_text(profile), profile.workdir,
            str(profile.max_parallel), _gpus_text(profile.gpus), profile.setup)))
    console.print(table)
    return 0


def _secret_status(keeper: SecretKeeper, name: str) -> str:
    if not keeper.available():
        return f"none can be saved here ({keeper.why_unavailable()})"
    try:
        secrets = keeper.get(name)
    except SecretStoreError as exc:
        return str(exc)
    saved = [what for what, value in (("password", secrets.password),
                                      ("passphrase", secrets.passphrase)) if value]
    return f"{' and '.join(saved)} saved in {keeper.where()}" if saved else "none saved"


def _show(args: argparse.Namespace) -> int:
    with open_store(args.db, create=False) as store:
        servers = Servers(store)
        profile = servers.get(args.name)
    rows = [
        ("name", profile.name), ("address", _address(profile)), ("auth", _auth_text(profile)),
        ("workdir", profile.workdir), ("setup", profile.setup or "—"),
        ("python", profile.python), ("max parallel", str(profile.max_parallel)),
        ("GPUs", _gpus_text(profile.gpus)), ("trials per GPU", str(profile.trials_per_gpu)),
        ("busy GPUs", "used" if profile.allow_busy_gpus else "skipped"),
        ("secrets", _secret_status(servers.keeper, profile.name)),
    ]
    for label, value in rows:
        print(f"{label + ':':<16}{value}")
    return 0


def _secrets_for(keeper: SecretKeeper, profile: ServerProfile) -> Secrets:
    """Saved secrets, with a prompt for what the profile needs and the keyring lacks."""
    secrets = Secrets()
    if keeper.available():
        try:
            secrets = keeper.get(profile.name)
        except SecretStoreError as exc:
            _note(f"{exc}; asking instead")
    password, passphrase = secrets.password, secrets.passphrase
    ask_password = profile.auth is AuthKind.PASSWORD and password is None
    ask_passphrase = (profile.auth is AuthKind.KEY and passphrase is None
                      and profile.key_file is not None and key_needs_passphrase(profile.key_file))
    if (ask_password or ask_passphrase) and not keeper.available():
        _note(f"the keyring is unavailable ({keeper.why_unavailable()}); "
              "what you type is used for this test only")
    if ask_password:
        password = prompt_secret(f"Password for {profile.user}@{profile.host}: ", "password")
    if ask_passphrase:
        passphrase = prompt_secret(f"Passphrase for {profile.key_file}: ", "passphrase")
    return Secrets(password=password, passphrase=passphrase)


def _test(args: argparse.Namespace) -> int:
    fingerprint = args.accept_host_key
    if fingerprint is not None and not (fingerprint.startswith("SHA256:") and len(fingerprint) > 7):
        raise ValueError(f"--accept-host-key: expected a fingerprint like SHA256:AbC..., "
                         f"got {fingerprint!r}")
    if args.timeout <= 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {args.timeout:g}")
    with open_store(args.db, create=False) as store:
        servers = Servers(store)
        profile = servers.get(args.name)
    secrets = _secrets_for(servers.keeper, profile)
    report = servers.probe(profile, secrets, accept_fingerprint=fingerprint,
                           timeout=args.timeout)
    print(str(report))
    unknown = report.unknown_host_key
    if unknown is not None:
        print(f"\nThe host key of {profile.host}:{profile.port} is not known yet. "
              f"Its fingerprint is {unknown.fingerprint}.\nIf that is the server's key "
              f"(ask its administrator, or run `ssh-keygen -lf` on the server's host key), "
              f"accept it with:\n  sweeplab servers test {profile.name} "
              f"--accept-host-key {unknown.fingerprint}")
    return 0 if report.ok else EXIT_FAILED


def _rm(args: argparse.Namespace) -> int:
    with open_store(args.db, create=False) as store:
        servers = Servers(store)
        servers.remove(args.name)
    print(f"removed server {args.name}")
    keeper = servers.keeper
    if not keeper.available():
        _note(f"the keyring is unavailable here, so any secret saved for {args.name} from a "
              f"desktop session stays in that keyring ({keeper.why_unavailable()})")
        return 0
    try:
        servers.forget_secrets(args.name)
    except SecretStoreError as exc:
        _note(f"warning: {exc}")
        return EXIT_FAILED
    print(f"its saved secrets, if any, were deleted from {keeper.where()}")
    return 0


def _import(args: argparse.Namespace) -> int:
    found = scan_ssh_config(args.ssh_config)
    chosen = found.profiles
    if args.only is not None:
        known = set(found.aliases) | set(found.aliases.values()) | {
            skipped.alias for skipped in found.skipped}
        unknown = [name for name in args.only if name not in known]
        if unknown:
            hosts = ", ".join(found.aliases.values()) or "none"
            raise ValueError(f"--only: no host {', '.join(map(repr, unknown))} in "
                             f"{found.path} (its hosts: {hosts})")
        wanted = set(args.only)
        chosen = [p for p in chosen if p.name in wanted or found.aliases[p.name] in wanted]
    broken = []
    for skipped in found.skipped:
        if args.only is None or skipped.alias in args.only:
            where = f" (Host entry at {found.path} line {skipped.line})" if skipped.line else ""
            _note(f"skipped {skipped.alias}: {skipped.reason}{where}")
            if not skipped.pattern:
                broken.append(skipped.alias)
    for note in found.notes:
        _note(note)
    if not chosen:
        why = (f"{', '.join(map(repr, broken))} cannot be used (see above)" if broken
               else "it has no Host entry that names one server")
        raise ValueError(f"no host to import in {found.path}: {why}")
    added = 0
    with open_store(args.db) as store:
        servers = Servers(store)
        saved = {profile.name for profile in servers.list()}
        clusters = set(servers.cluster_names())
        for profile in chosen:
            if profile.name in saved:
                _note(f"skipped {profile.name}: a server with this name is saved already")
                continue
            if profile.name in clusters:
                _note(f"skipped {profile.name}: a cluster with this name is saved already")
                continue
            servers.add(profile)
            added += 1
            print(f"imported {profile.name} ({_address(profile)}, {_auth_text(profile)})")
    print(f"{added} server(s) imported from {found.path}")
    return 0
