"""Is a ``--key`` file a private key? Refuse what recognisably is not, before saving.

Public keys, PuTTY keys, empty, binary or damaged files are refused with a message
that says what the file is instead; text no loader knows is let through, for
paramiko to judge when it connects.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

MAX_KEY_BYTES = 64 * 1024
"""Larger files are not private keys (an RSA 16384 key is under 13 kB)."""


def key_file_problem(path: str) -> str | None:
    """Why ``path`` is recognisably not a private key file, or None.

    A missing file is no problem here (the key may be copied later; ``servers add``
    warns), nor is text no loader knows: paramiko reports that when it connects.
    """
    file = Path(path)
    try:
        if file.is_dir():
            return f"--key {path} is a folder, not a private key file"
        with file.open("rb") as handle:
            data = handle.read(MAX_KEY_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"--key {path}: cannot read it ({exc.strerror})"
    usual = "give the private key file, such as ~/.ssh/id_ed25519"
    if not data.strip():
        return f"--key {path} is empty, not a private key; {usual}"
    if len(data) > MAX_KEY_BYTES:
        return f"--key {path} is too large to be a private key; {usual}"
    if b"\x00" in data or not data.isascii():  # keys are ASCII text (PEM or OpenSSH)
        return f"--key {path} is binary data, not a private key; {usual}"
    text = data.decode("ascii")
    if text.lstrip().startswith(("ssh-", "ecdsa-", "sk-")) or "PUBLIC KEY-----" in text:
        return (f"--key {path} is a public key; give the private key (usually the same "
                "name without .pub)")
    if text.startswith("PuTTY-User-Key-File"):
        return (f"--key {path} is a PuTTY key, which Sweeplab cannot read; convert it with "
                f"`puttygen {path} -O private-openssh -o KEYFILE` and give KEYFILE")
    if "PRIVATE KEY-----" in text and not _key_readable(data):
        return f"--key {path} is a damaged private key (it cannot be read as one); {usual}"
    return None


def _key_readable(data: bytes) -> bool:
    """True unless every loader says the data is malformed (encrypted keys count as readable)."""
    for load in (serialization.load_ssh_private_key, serialization.load_pem_private_key):
        try:
            load(data, password=None)
        except TypeError:  # encrypted: a passphrase is needed, not a sign of damage
            return True
        except UnsupportedAlgorithm:  # a kind this cryptography lacks: paramiko may know it
            return True
        except ValueError:
            continue
        return True
    return False
