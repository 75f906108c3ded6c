"""Random identifiers: user tokens (handed out once; the store keeps only their sha256) and preference ids."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "pe-"
MAX_TOKEN = 256


def new_token() -> str:
    """A fresh bearer token (256 bits of randomness)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token. A plain hash suffices: tokens are random, not passwords."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison (for the admin token)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def new_preference_id() -> str:
    return "pref_" + secrets.token_hex(8)
