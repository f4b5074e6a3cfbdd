"""Opaque, signed pagination tokens.

A token carries the keyset cursor of the last item returned. It is signed with a server
secret and bound to its kind and account, so a forged, altered or foreign token is refused
with a clean validation error instead of leaking or crashing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

import orjson

from .wire.errors import ServiceError

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    # base64.urlsafe_b64encode, without its two extra copies (tokens are made on every page)
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: str):
        self._keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)  # copied per token

    def _mac(self, kind: str, account_id: str, body: str) -> str:
        mac = self._keyed.copy()
        mac.update(f"{kind}\n{account_id}\n{body}".encode())
        return _b64(mac.digest()[:18])

    def encode(self, kind: str, account_id: str, cursor: Any) -> str:
        """A token for ``cursor`` (any JSON value) that only ``kind`` for this account accepts."""
        body = _b64(orjson.dumps(cursor))
        return f"{body}.{self._mac(kind, account_id, body)}"

    def decode(self, kind: str, account_id: str, token: str, member: str = "nextToken") -> Any:
        """The cursor inside ``token``, or a ``ValidationException`` if it is not ours."""
        body, _, mac = token.partition(".")
        # compare_digest refuses non-ASCII str, so compare bytes: any token, however odd, is
        # simply not ours.
        expected = self._mac(kind, account_id, body).encode()
        if mac and hmac.compare_digest(mac.encode("utf-8", "replace"), expected):
            try:
                return orjson.loads(_unb64(body))
            except (ValueError, orjson.JSONDecodeError):
                pass
        raise ServiceError("ValidationException", f"Invalid {member}: {token[:64]}", 400)
