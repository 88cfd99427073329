"""Logging in on a checked transport: ssh-agent, key file (+ passphrase), or password.

:func:`authenticate` names what was refused (the key file, "the password") but never
shows a secret: messages are built here from the profile alone.
"""

from __future__ import annotations

from pathlib import Path

import paramiko

from app.remote.ssh.errors import AuthFailed, ConnectFailed
from app.remote.ssh.profile import AuthKind, Secrets, ServerProfile


def authenticate(transport: paramiko.Transport, profile: ServerProfile,
                 secrets: Secrets) -> None:
    """Log in on a transport whose host key was checked, as the profile says.

    Raises:
        AuthFailed: refused, or the credentials cannot be used (named, never shown).
        ConnectFailed: the connection broke while logging in.
    """
    p = profile
    try:
        if p.auth is AuthKind.AGENT:
            _auth_agent(transport, p)
        elif p.auth is AuthKind.KEY:
            transport.auth_publickey(p.user, load_key(p, secrets))
        else:
            if not secrets.password:
                raise AuthFailed(p.name, f"{p.name}: the profile logs in with a password, "
                                 "but none was given")
            transport.auth_password(p.user, secrets.password)
    except paramiko.BadAuthenticationType as exc:
        allowed = ", ".join(exc.allowed_types) or "none"
        raise AuthFailed(p.name, f"{p.name}: the server does not accept {p.auth.value} "
                         f"logins for {p.user!r} (it allows: {allowed})") from None
    except paramiko.AuthenticationException:
        raise AuthFailed(p.name, f"{p.name}: the server refused {_credential(p)} for user "
                         f"{p.user!r}; {_hint(p)}") from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise ConnectFailed(p.name, f"{p.name}: the connection broke while logging in "
                            f"({type(exc).__name__}); try again") from None
    if not transport.is_authenticated():
        raise AuthFailed(p.name, f"{p.name}: the server wants more than one authentication "
                         "step; Sweeplab supports one")


def _credential(p: ServerProfile) -> str:
    if p.auth is AuthKind.AGENT:
        return "every key of ssh-agent"
    if p.auth is AuthKind.KEY:
        return f"the key {p.key_file}"
    return "the password"


def _hint(p: ServerProfile) -> str:
    if p.auth is AuthKind.PASSWORD:
        return "check the user name and the password"
    return "is the public key in ~/.ssh/authorized_keys of that user on the server?"


def _auth_agent(transport: paramiko.Transport, p: ServerProfile) -> None:
    agent = paramiko.Agent()
    try:
        keys = agent.get_keys()
        if not keys:
            raise AuthFailed(p.name, f"{p.name}: ssh-agent has no keys (is it running, is "
                             "SSH_AUTH_SOCK set, did you ssh-add your key?)")
        for key in keys:
            try:
                transport.auth_publickey(p.user, key)
                return
            except paramiko.AuthenticationException:
                continue
        raise paramiko.AuthenticationException("no agent key accepted")
    finally:
        agent.close()


def load_key(p: ServerProfile, secrets: Secrets) -> paramiko.PKey:
    """The profile's private key file, opened with the passphrase if one is given.

    Raises:
        AuthFailed: missing, unreadable, not a key, or the passphrase is missing/wrong.
    """
    path = Path(p.key_file or "").expanduser()
    passphrase = secrets.passphrase
    try:
        return paramiko.PKey.from_path(path, passphrase.encode() if passphrase else None)
    except FileNotFoundError:
        raise AuthFailed(p.name, f"{p.name}: the key file {path} does not exist") from None
    except PermissionError:
        raise AuthFailed(p.name, f"{p.name}: the key file {path} cannot be read "
                         "(permission denied)") from None
    except (TypeError, ValueError, paramiko.SSHException, OSError):
        if passphrase:
            raise AuthFailed(p.name, f"{p.name}: the key file {path} could not be opened "
                             "with the passphrase given; is it the right passphrase, and a "
                             "private key?") from None
        if _encrypted(path):
            raise AuthFailed(p.name, f"{p.name}: the key file {path} is protected by a "
                             "passphrase; give it") from None
        raise AuthFailed(p.name, f"{p.name}: the key file {path} could not be read; is it a "
                         "private key?") from None


def _encrypted(path: Path) -> bool:
    """Whether a private key file needs a passphrase (tried without one, it failed)."""
    try:
        paramiko.PKey.from_path(path, None)
    except (TypeError, paramiko.PasswordRequiredException):
        return True  # "password was not provided" (OpenSSH and PEM formats)
    except Exception:  # unreadable for another reason
        return False
    return False
