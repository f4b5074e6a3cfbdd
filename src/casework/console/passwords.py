"""Agent passwords: scrypt (memory-hard, in the standard library) with a random salt.

Stored as ``scrypt$N$r$p$<salt hex>$<hash hex>``, so that the cost can be raised later and old
hashes still verify. N=2^15, r=8 uses 32 MiB and about 0.1 s per check on a laptop core:
slow enough for guessing to be expensive, quick enough for a person signing in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

N, R, P = 2**15, 8, 1
MIN_LENGTH = 12  # a password an agent chooses must be at least this long
_MAXMEM = 64 * 1024 * 1024


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${N}${R}${P}${salt.hex()}${_derive(password, salt, N, R, P).hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(derived.hex(), expected)


# A hash of nothing anyone knows: verifying against it costs what a real check costs, so an
# unknown e-mail answers as slowly as a wrong password.
DUMMY_HASH = hash_password(secrets.token_hex(16))


def generate_password() -> str:
    """A strong random password (about 143 bits) that survives copying from a terminal."""
    return secrets.token_urlsafe(24)


def check_chosen(password: str) -> None:
    """Refuse a password too weak to keep (ValueError says why)."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password must be at least {MIN_LENGTH} characters long")
    if len(password) > 1024:
        raise ValueError("the password must be at most 1,024 characters long")
