"""Encryption of secrets at rest with Fernet; several keys allow rotation (first one encrypts)."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """A stored secret cannot be read with any configured key."""


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("DTS_ENCRYPTION_KEYS is empty: set at least one Fernet key")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"DTS_ENCRYPTION_KEYS holds an invalid Fernet key ({exc}); keys are 32 url-safe base64-encoded bytes"
        ) from None


def cipher() -> MultiFernet:
    return _cipher(tuple(settings.DTS_ENCRYPTION_KEYS))


def encrypt(plain: str) -> str:
    return cipher().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "a stored secret cannot be decrypted with DTS_ENCRYPTION_KEYS: the key it was written with is missing"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt with the first (newest) key."""
    return cipher().rotate(token.encode()).decode()
