"""Attachments (§External content): encrypt and hash for upload, check and decrypt on download.

The caller does the upload and download (sans-IO); these functions only turn
bytes into bytes and an ExternalPart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mimi.content.codec import SHA256_HASH_ALG, Disposition, ExternalPart
from mimi.errors import DecodeError

NO_ENCRYPTION: Final = 0
AES_128_GCM: Final = 1  # IANA AEAD Algorithms registry: AEAD_AES_128_GCM
NO_HASH: Final = 0
_KEY_SIZE: Final = 16
_NONCE_SIZE: Final = 12


@dataclass(frozen=True, slots=True)
class SealedAttachment:
    """An encrypted file: upload ``ciphertext``, then send :meth:`part` with its URL."""

    ciphertext: bytes
    content_type: str
    filename: str
    description: str
    key: bytes
    nonce: bytes
    aad: bytes
    content_hash: bytes

    def part(
        self, url: str, *, disposition: int = Disposition.ATTACHMENT, language: str = "", expires: int = 0
    ) -> ExternalPart:
        """The ExternalPart for the uploaded ciphertext; ``expires`` is when the URL stops working."""
        return ExternalPart(
            disposition, language, self.content_type, url, expires, len(self.ciphertext), AES_128_GCM,
            self.key, self.nonce, self.aad, SHA256_HASH_ALG, self.content_hash, self.description, self.filename,
        )  # fmt: skip


def seal_attachment(
    plaintext: bytes,
    *,
    content_type: str,
    filename: str = "",
    description: str = "",
    key: bytes | None = None,
    nonce: bytes | None = None,
    aad: bytes = b"",
) -> SealedAttachment:
    """Encrypt with AES-128-GCM under a fresh key (unless given) and hash the ciphertext."""
    key = secrets.token_bytes(_KEY_SIZE) if key is None else key
    nonce = secrets.token_bytes(_NONCE_SIZE) if nonce is None else nonce
    _check_aead_inputs(key, nonce)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, aad)
    return SealedAttachment(
        ciphertext, content_type, filename, description, key, nonce, aad, hashlib.sha256(ciphertext).digest()
    )


def _check_aead_inputs(key: bytes, nonce: bytes) -> None:
    if len(key) != _KEY_SIZE:
        raise DecodeError(f"key: AES-128-GCM needs {_KEY_SIZE} bytes, got {len(key)}")
    if len(nonce) != _NONCE_SIZE:
        raise DecodeError(f"nonce: AES-128-GCM needs {_NONCE_SIZE} bytes, got {len(nonce)}")


def open_attachment(part: ExternalPart, downloaded: bytes) -> bytes:
    """Check the downloaded bytes against ``part`` (size, contentHash) and decrypt them.

    Raises DecodeError naming the field that does not hold: tampered or
    truncated bytes fail on ``size``, ``contentHash`` or the AEAD tag.
    """
    # §External content: size zero means "not provided".
    if part.size and len(downloaded) != part.size:
        raise DecodeError(f"size: downloaded {len(downloaded)} octets, the part says {part.size}")
    if part.hash_alg == SHA256_HASH_ALG:
        if not hmac.compare_digest(hashlib.sha256(downloaded).digest(), part.content_hash):
            raise DecodeError("contentHash: the downloaded bytes do not match the SHA-256 hash")
    elif part.hash_alg != NO_HASH:
        raise DecodeError(f"hashAlg: unsupported hash algorithm {part.hash_alg}")
    if part.enc_alg == NO_ENCRYPTION:
        return downloaded
    if part.enc_alg != AES_128_GCM:
        raise DecodeError(f"encAlg: unsupported AEAD algorithm {part.enc_alg}")
    _check_aead_inputs(part.key, part.nonce)
    try:
        return AESGCM(part.key).decrypt(part.nonce, downloaded, part.aad)
    except InvalidTag:
        raise DecodeError("encAlg: AES-128-GCM tag does not verify (wrong key, nonce, aad or bytes)") from None
