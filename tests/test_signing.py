"""Ed25519 with MLS labels (RFC 9420 §5.1.2), batch verify, RefHash — and the interop vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mimi import _core
from mimi.errors import DecodeError, InvalidSignature


def sign_content(label: str, content: bytes) -> bytes:
    """SignContent built independently of the extension (varint lengths < 64)."""
    full = b"MLS 1.0 " + label.encode()
    assert len(full) < 64 and len(content) < 64
    return bytes([len(full)]) + full + bytes([len(content)]) + content


def test_sign_with_label_is_ed25519_over_sign_content() -> None:
    key = _core.SignatureKeyPair.generate()
    signature = key.sign_with_label("KeyMaterialRequestTBS", b"request")
    # pyca verifies the same bytes: the label framing is RFC 9420's.
    Ed25519PublicKey.from_public_bytes(key.public).verify(signature, sign_content("KeyMaterialRequestTBS", b"request"))
    _core.verify_with_label(key.public, "KeyMaterialRequestTBS", b"request", signature)
    with pytest.raises(InvalidSignature):
        _core.verify_with_label(key.public, "UpdateRequestTBS", b"request", signature)
    with pytest.raises(InvalidSignature):
        _core.verify_with_label(key.public, "KeyMaterialRequestTBS", b"requesT", signature)


def test_key_round_trip_and_bad_sizes() -> None:
    key = _core.SignatureKeyPair.generate()
    again = _core.SignatureKeyPair.from_private(key.private)
    assert again.public == key.public
    pyca = Ed25519PrivateKey.from_private_bytes(key.private)
    assert pyca.public_key().public_bytes_raw() == key.public
    with pytest.raises(DecodeError, match="32 bytes"):
        _core.SignatureKeyPair.from_private(b"short")
    with pytest.raises(DecodeError, match="public key must be 32 bytes"):
        _core.verify_with_label(b"\x01" * 31, "L", b"", b"\x00" * 64)
    with pytest.raises(DecodeError, match="signature must be 64 bytes"):
        _core.verify_with_label(key.public, "L", b"", b"\x00" * 63)


def test_batch_verify_gives_one_verdict_per_item() -> None:
    keys = [_core.SignatureKeyPair.generate() for _ in range(3)]
    items = [(k.public, "FanoutTBS", bytes([i]), k.sign_with_label("FanoutTBS", bytes([i]))) for i, k in enumerate(keys * 3)]
    assert _core.verify_batch(items) == [True] * 9
    tampered = list(items)
    tampered[4] = (items[4][0], items[4][1], b"other", items[4][3])
    tampered[7] = (items[7][0], items[7][1], items[7][2], b"\x00" * 10)  # malformed signature
    assert _core.verify_batch(tampered) == [True] * 4 + [False] + [True] * 2 + [False] + [True]
    assert _core.verify_batch([]) == []


def test_sign_many_matches_single_signatures() -> None:
    key = _core.SignatureKeyPair.generate()
    contents = [bytes([i]) * i for i in range(5)]
    assert _core.sign_with_label_many(key, "L", contents) == [key.sign_with_label("L", c) for c in contents]


def crypto_basics(vectors: Path) -> dict[str, object]:
    cases = json.loads((vectors / "mls" / "crypto-basics.json").read_text())
    (suite1,) = [c for c in cases if c["cipher_suite"] == 1]
    return suite1  # type: ignore[no-any-return]


def test_vector_sign_with_label(vectors: Path) -> None:
    case = crypto_basics(vectors)["sign_with_label"]
    assert isinstance(case, dict)
    public, content, signature = (bytes.fromhex(case[k]) for k in ("pub", "content", "signature"))
    _core.verify_with_label(public, case["label"], content, signature)
    key = _core.SignatureKeyPair.from_private(bytes.fromhex(case["priv"]))
    assert key.public == public
    # Ed25519 is deterministic: our signature is the vector's.
    assert key.sign_with_label(case["label"], content) == signature


def test_vector_ref_hash(vectors: Path) -> None:
    case = crypto_basics(vectors)["ref_hash"]
    assert isinstance(case, dict)
    assert _core.ref_hash(case["label"], bytes.fromhex(case["value"])).hex() == case["out"]
