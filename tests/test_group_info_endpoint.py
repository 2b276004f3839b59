"""`/groupInfo` (draft-ietf-mimi-protocol §Claim group key information) over a real group:
a new device asks, the hub answers sealed to the device's HPKE key, the device opens the
answer and joins by external commit, and every party agrees on the new epoch. Plus
EncryptWithLabel / DecryptWithLabel against the MLS interop vector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimi import _core
from mimi.errors import DecodeError, InvalidSignature, MlsError, PolicyError, RemoteProtocolError
from mimi.logic.group_info import answer_group_info_request, group_info_request, open_group_info_response

ROOM = "mimi://a.example/r/clubhouse"
HUB = "mimi://a.example"
NOW = 1_700_000_000_000


def opaque(data: bytes) -> bytes:
    assert len(data) < 64
    return bytes([len(data)]) + data


# ---------------------------------------------------------------- EncryptWithLabel


def test_decrypt_with_label_interop_vector(vectors: Path) -> None:
    cases = json.loads((vectors / "mls" / "crypto-basics.json").read_text())
    case = next(c for c in cases if c["cipher_suite"] == 1)["encrypt_with_label"]
    ciphertext = opaque(bytes.fromhex(case["kem_output"])) + opaque(bytes.fromhex(case["ciphertext"]))
    got = _core.decrypt_with_label(
        bytes.fromhex(case["priv"]), case["label"], bytes.fromhex(case["context"]), ciphertext
    )
    assert got == bytes.fromhex(case["plaintext"])
    # Sealing to the vector's public key opens with its private key.
    again = _core.encrypt_with_label(bytes.fromhex(case["pub"]), case["label"], b"ctx", b"plaintext")
    assert _core.decrypt_with_label(bytes.fromhex(case["priv"]), case["label"], b"ctx", again) == b"plaintext"
    with pytest.raises(MlsError, match="decryption failed"):
        _core.decrypt_with_label(bytes.fromhex(case["priv"]), "EncryptWithLabeL", bytes.fromhex(case["context"]), ciphertext)


def test_encrypt_with_label_round_trip_wrong_key_and_truncation() -> None:
    mine, other = _core.HpkeKeyPair.generate(), _core.HpkeKeyPair.generate()
    assert len(mine.public) == len(mine.private) == 32 and mine.public != other.public
    sealed = _core.encrypt_with_label(mine.public, "L", b"context", b"secret")
    assert len(sealed) == 1 + 32 + 1 + len(b"secret") + 16
    assert _core.decrypt_with_label(mine.private, "L", b"context", sealed) == b"secret"
    with pytest.raises(MlsError, match="decryption failed"):
        _core.decrypt_with_label(other.private, "L", b"context", sealed)
    with pytest.raises(MlsError):
        _core.decrypt_with_label(mine.private, "L", b"another context", sealed)
    for cut in (0, 1, 33, len(sealed) - 1):
        with pytest.raises(DecodeError):
            _core.decrypt_with_label(mine.private, "L", b"context", sealed[:cut])
    with pytest.raises(DecodeError, match="trailing"):
        _core.decrypt_with_label(mine.private, "L", b"context", sealed + b"\x00")
    with pytest.raises(DecodeError, match="public key must be 32 bytes"):
        _core.encrypt_with_label(mine.public[:31], "L", b"", b"")


def test_credentials_and_external_sender_bytes() -> None:
    credential = _core.basic_credential("mimi://a.example/d/alice/phone")
    assert credential == b"\x00\x01" + opaque(b"mimi://a.example/d/alice/phone")
    assert _core.basic_credential_identity(credential) == "mimi://a.example/d/alice/phone"
    with pytest.raises(DecodeError, match="credential_type"):
        _core.basic_credential_identity(b"\x00\x02\x00")
    key = _core.SignatureKeyPair.generate().public
    sender = _core.ExternalSender(key, HUB)
    assert sender.encode() == opaque(key) + _core.basic_credential(HUB)
    assert _core.ExternalSender.decode(sender.encode()) == sender


# ---------------------------------------------------------------- the endpoint


class Room:
    """alice@a created the room on hub a; bob@b is in; bob's Leave is pending."""

    def __init__(self) -> None:
        self.hub_key = _core.SignatureKeyPair.generate()
        self.alice = _core.Client("mimi://a.example/d/alice/phone")
        self.bob = _core.Client("mimi://b.example/d/bob/laptop")
        self.groups = {"alice": self.alice.create_group(b"clubhouse", self.hub_key.public, HUB)}
        group = self.groups["alice"]
        self.view = _core.HubView.from_group_info(group.export_group_info(), group.export_ratchet_tree())
        out = group.commit(adds=self.bob.key_packages(1))
        self.view.process(out.commit, out.group_info)
        self.view.merge()
        group.merge_pending_commit()
        assert out.welcome is not None
        self.groups["bob"] = self.bob.join_welcome(out.welcome, out.ratchet_tree)
        self.leave = self.groups["bob"].propose_leave()
        self.view.process(self.leave)
        self.view.merge()
        self.groups["alice"].process(self.leave)
        self.groups["alice"].merge()
        self.pending = [(self.leave, NOW)]

    def answer(self, request: bytes, provider: str = HUB, allow: bool = True, seen: list[str] | None = None) -> bytes:
        def authorize(client: str) -> bool:
            if seen is not None:
                seen.append(client)
            return allow

        return answer_group_info_request(
            request, ROOM, self.view, self.hub_key, HUB, self.pending, authorize, provider=provider
        )


def refused(status_byte: int) -> bytes:
    return b"\x01" + opaque(ROOM.encode()) + bytes([status_byte])


def test_new_device_joins_by_external_commit() -> None:
    room = Room()
    tablet = _core.Client("mimi://a.example/d/alice/tablet")
    hpke = _core.HpkeKeyPair.generate()
    request = group_info_request(tablet, hpke.public, joining_code=b"code")
    parsed = _core.GroupInfoRequest.decode(request)
    parsed.verify()
    assert (parsed.requesting_signature_key, parsed.group_info_public_key) == (tablet.signature_key.public, hpke.public)
    assert _core.basic_credential_identity(parsed.requesting_credential) == tablet.client_uri
    assert parsed.joining_code == b"code"

    seen: list[str] = []
    response = room.answer(request, seen=seen)
    assert seen == ["mimi://a.example/d/alice/tablet"]
    decoded = _core.GroupInfoResponse.decode(response)
    assert (decoded.room_id, decoded.status, decoded.cipher_suite) == (ROOM, "success", 1)
    assert decoded.hub_sender == _core.ExternalSender(room.hub_key.public, HUB).encode()
    decoded.verify()

    claimed = open_group_info_response(response, ROOM, hpke.private, room.hub_key.public)
    assert claimed.group_info == room.view.group_info()
    assert claimed.ratchet_tree == room.view.export_ratchet_tree()
    assert claimed.pending_proposals == ((room.leave, NOW),)

    tablet_group, out = tablet.join_external(claimed.group_info, claimed.ratchet_tree)
    report = room.view.process(out.commit, out.group_info)
    assert report.sender_kind == "new_member_commit"
    assert report.external_join is not None and report.external_join[0] == tablet.client_uri
    room.view.merge()
    for group in room.groups.values():
        group.process(out.commit)
        group.merge()
    room.groups["tablet"] = tablet_group
    assert {g.epoch for g in room.groups.values()} == {room.view.epoch} == {2}
    assert len({g.epoch_authenticator for g in room.groups.values()}) == 1
    assert {g.tree_hash for g in room.groups.values()} == {room.view.tree_hash}
    assert room.groups["alice"].process(tablet_group.encrypt(b"hi from the tablet")).plaintext == b"hi from the tablet"


def test_refusals_are_unsigned_codes() -> None:
    room = Room()
    tablet = _core.Client("mimi://a.example/d/alice/tablet")
    hpke = _core.HpkeKeyPair.generate()
    request = group_info_request(tablet, hpke.public)
    not_authorized = refused(2)

    # A signature that does not verify: the last byte of the signature flipped.
    assert room.answer(request[:-1] + bytes([request[-1] ^ 1])) == not_authorized
    # Signed by another key than the one the request names.
    other = _core.GroupInfoRequest.decode(request).signed(_core.SignatureKeyPair.generate().private).encode()
    assert room.answer(other) == not_authorized
    # The room's policy refuses the client.
    seen: list[str] = []
    assert room.answer(request, allow=False, seen=seen) == not_authorized
    assert seen == [tablet.client_uri]
    # Another provider cannot ask for a.example's client (the credential is only a name).
    seen = []
    assert room.answer(request, provider="mimi://b.example", seen=seen) == not_authorized
    assert seen == []
    # Not a body, not a client credential, not an X25519 key.
    assert room.answer(b"\x01\x00") == not_authorized
    key = tablet.signature_key
    user_credential = _core.GroupInfoRequest(1, key.public, _core.basic_credential("mimi://a.example/u/alice"), hpke.public)
    assert room.answer(user_credential.signed(key.private).encode()) == not_authorized
    bad_key = _core.GroupInfoRequest(1, key.public, _core.basic_credential(tablet.client_uri), b"\x07" * 31)
    assert room.answer(bad_key.signed(key.private).encode()) == not_authorized
    # No such room.
    no_room = answer_group_info_request(request, ROOM, None, room.hub_key, HUB, [], lambda _: True, provider=HUB)
    assert no_room == refused(3)

    with pytest.raises(PolicyError, match="notAuthorized"):
        open_group_info_response(not_authorized, ROOM, hpke.private, room.hub_key.public)
    with pytest.raises(PolicyError, match="noSuchRoom"):
        open_group_info_response(no_room, ROOM, hpke.private, room.hub_key.public)


def test_open_checks_hub_room_and_ciphertext() -> None:
    room = Room()
    tablet = _core.Client("mimi://a.example/d/alice/tablet")
    hpke = _core.HpkeKeyPair.generate()
    response = room.answer(group_info_request(tablet, hpke.public))
    decoded = _core.GroupInfoResponse.decode(response)
    sealed = decoded.encrypted_groupinfo_and_tree
    assert sealed is not None

    # Another hub key than the room's external sender.
    with pytest.raises(InvalidSignature, match="not from the room's hub"):
        open_group_info_response(response, ROOM, hpke.private, _core.SignatureKeyPair.generate().public)
    # The ciphertext altered on the way: the signature no longer verifies.
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    resigned_by_nobody = _core.GroupInfoResponse(ROOM, "success", 1, decoded.hub_sender, altered, decoded.signature)
    with pytest.raises(InvalidSignature):
        open_group_info_response(resigned_by_nobody.encode(), ROOM, hpke.private, room.hub_key.public)
    # Altered and signed again by the hub: the AEAD refuses it.
    resigned = _core.GroupInfoResponse(ROOM, "success", 1, decoded.hub_sender, altered, b"").signed(room.hub_key.private)
    with pytest.raises(MlsError, match="decryption failed"):
        open_group_info_response(resigned.encode(), ROOM, hpke.private, room.hub_key.public)
    # Another requester's key.
    with pytest.raises(MlsError, match="decryption failed"):
        open_group_info_response(response, ROOM, _core.HpkeKeyPair.generate().private, room.hub_key.public)
    # The answer for another room (the room ID is also the encryption context).
    with pytest.raises(RemoteProtocolError, match=r"not mimi://a.example/r/other"):
        open_group_info_response(response, "mimi://a.example/r/other", hpke.private, room.hub_key.public)
    with pytest.raises(DecodeError):
        open_group_info_response(response[:-1], ROOM, hpke.private, room.hub_key.public)


def test_tbe_is_the_bare_group_info_full_tree_and_pending() -> None:
    room = Room()
    tbe = _core.GroupInfoRatchetTreeTBE(
        room.view.group_info()[4:],
        _core.RatchetTreeOption("full", ratchet_tree=room.view.export_ratchet_tree()),
        [_core.PendingProposal(room.leave, NOW)],
    )
    body = tbe.encode()
    tree = room.view.export_ratchet_tree()
    assert body == (
        room.view.group_info()[4:]
        + b"\x01"
        + tree
        + bytes([0x40 | (len(room.leave) + 8) >> 8, (len(room.leave) + 8) & 0xFF])
        + room.leave
        + NOW.to_bytes(8, "big")
    )
    assert _core.GroupInfoRatchetTreeTBE.decode(body) == tbe
    # The MLSMessage, not the bare GroupInfo: its header can read as a GroupInfo's start
    # (version 1, cipher_suite 4), so the error may name a later field.
    with pytest.raises(DecodeError, match=r"GroupInfoRatchetTreeTBE\."):
        _core.GroupInfoRatchetTreeTBE(room.view.group_info(), tbe.ratchet_tree_option)
    with pytest.raises(DecodeError, match=r"PendingProposal\.proposal"):
        _core.PendingProposal(room.view.group_info(), NOW)
