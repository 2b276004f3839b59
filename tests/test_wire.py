"""Provider-to-provider bodies of draft-ietf-mimi-protocol (mimi._core wire classes).

Expected encodings are built here independently (struct.pack and a varint of
our own), then compared with what the extension writes and reads back. Bad
inputs must raise DecodeError naming the struct and the field.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mimi import _core
from mimi.errors import DecodeError, InvalidSignature

ROOM_URI = "mimi://a.example/r/clubhouse"
ALICE = "mimi://a.example/u/alice"


def varint(n: int) -> bytes:
    """RFC 9420 §2.1.2, written out independently of mimi.tls_codec."""
    if n < 0x40:
        return struct.pack(">B", n)
    if n < 0x4000:
        return struct.pack(">H", 0x4000 | n)
    return struct.pack(">I", 0x8000_0000 | n)


def opaque(b: bytes) -> bytes:
    return varint(len(b)) + b


def private_message(content_type: int = 1, epoch: int = 7) -> bytes:
    """An MLSMessage PrivateMessage (RFC 9420 §6.3): parses, is not decryptable."""
    return (
        struct.pack(">HH", 1, 2)
        + opaque(b"g")
        + struct.pack(">QB", epoch, content_type)
        + opaque(b"")
        + opaque(b"\xaa\xbb")
        + opaque(b"\xcc")
    )


@dataclass(frozen=True)
class Mls:
    """Real MLS objects from a two-member group (handshakes are PublicMessages)."""

    application: bytes
    commit: bytes
    welcome: bytes
    group_info: bytes
    ratchet_tree: bytes
    proposal: bytes
    proposal2: bytes
    key_package: bytes


@pytest.fixture(scope="module")
def mls() -> Mls:
    hub = _core.SignatureKeyPair.generate()
    alice = _core.Client("mimi://a.example/d/alice/phone")
    bob = _core.Client("mimi://b.example/d/bob/laptop")
    group = alice.create_group(b"clubhouse", hub.public, "mimi://a.example")
    kp, spare = bob.key_packages(2)
    out = group.commit(adds=[kp])
    group.merge_pending_commit()
    assert out.welcome is not None
    bob_group = bob.join_welcome(out.welcome, out.ratchet_tree)
    return Mls(
        application=group.encrypt(b"hello"),
        commit=out.commit,
        welcome=out.welcome,
        group_info=out.group_info,
        ratchet_tree=out.ratchet_tree,
        proposal=bob_group.propose_leave(),
        proposal2=group.propose_app_data(0x8000, b"x"),
        key_package=spare,
    )


def test_mls_message_kinds(mls: Mls) -> None:
    assert _core.mls_message_kind(mls.application) == "application"
    assert _core.mls_message_kind(mls.commit) == "commit"
    assert _core.mls_message_kind(mls.welcome) == "welcome"
    assert _core.mls_message_kind(mls.proposal) == "proposal"
    assert _core.mls_message_kind(private_message(3)) == "commit"
    with pytest.raises(DecodeError, match="GroupInfo"):
        _core.mls_message_kind(mls.group_info)


# ---------------------------------------------------------------- FanoutMessage and /notify


def test_fanout_application_known_bytes() -> None:
    pm = private_message()
    frank = _core.Frank(bytes(range(32)), 1, b"\x05\x06")
    msg = _core.FanoutMessage(1_700_000_000_123, pm, frank=frank)
    want = struct.pack(">Q", 1_700_000_000_123) + pm + b"\x01" + bytes(range(32)) + struct.pack(">H", 1) + opaque(b"\x05\x06")
    assert msg.encode() == want
    assert msg.kind == "application"
    back = _core.FanoutMessage.decode(want)
    assert back == msg
    assert back.frank == frank and back.frank is not None
    assert back.frank.server_frank == bytes(range(32))
    # no frank: the optional's presence byte is 0
    assert _core.FanoutMessage(5, pm).encode() == struct.pack(">Q", 5) + pm + b"\x00"


def test_fanout_welcome_known_bytes(mls: Mls) -> None:
    for rto, tail in [
        (_core.RatchetTreeOption("distributionService"), b"\x04"),
        (_core.RatchetTreeOption("outOfBand", tree_signature=b"sig"), b"\x03" + opaque(b"sig")),
        (
            _core.RatchetTreeOption("httpsUri", ratchet_tree_url="https://a.example/t", tree_signature=b"s"),
            b"\x02" + opaque(b"https://a.example/t") + opaque(b"s"),
        ),
        (_core.RatchetTreeOption("full", ratchet_tree=mls.ratchet_tree), b"\x01" + mls.ratchet_tree),
    ]:
        msg = _core.FanoutMessage(9, mls.welcome, ratchet_tree_option=rto)
        want = struct.pack(">Q", 9) + mls.welcome + tail
        assert msg.encode() == want, rto
        assert _core.FanoutMessage.decode(want) == msg
        assert rto.encode() == tail
        assert _core.RatchetTreeOption.decode(tail) == rto


def test_fanout_handshakes_carry_proposal_lists(mls: Mls) -> None:
    more = [mls.proposal, mls.proposal2]
    listed = b"".join(more)
    assert len(listed) >= 0x40  # a two-byte vector prefix
    for first, proposals in [(mls.proposal, more), (mls.commit, more), (mls.commit, [])]:
        msg = _core.FanoutMessage(3, first, proposals=proposals)
        body = b"".join(proposals)
        assert msg.encode() == struct.pack(">Q", 3) + first + varint(len(body)) + body
        assert _core.FanoutMessage.decode(msg.encode()).proposals == proposals


def test_notify_batch_round_trip(mls: Mls) -> None:
    messages = [_core.FanoutMessage(1000 + i, mls.application) for i in range(200)]
    messages.append(_core.FanoutMessage(2000, mls.welcome, ratchet_tree_option=_core.RatchetTreeOption("full", mls.ratchet_tree)))
    messages.append(_core.FanoutMessage(2001, mls.commit, proposals=[mls.proposal2]))
    body = _core.encode_notify(messages)
    assert body == b"".join(m.encode() for m in messages)
    back = _core.decode_notify(body)
    assert back == messages
    assert [m.timestamp for m in back] == [m.timestamp for m in messages]
    assert [m.kind for m in back[-3:]] == ["application", "welcome", "commit"]


def test_notify_errors_name_the_message(mls: Mls) -> None:
    one = _core.FanoutMessage(1, mls.application).encode()
    with pytest.raises(DecodeError, match=r"message 2: FanoutMessage\.timestamp: truncated"):
        _core.decode_notify(one + one + one[:3])
    with pytest.raises(DecodeError, match="empty"):
        _core.decode_notify(b"")
    with pytest.raises(DecodeError, match="at least one"):
        _core.encode_notify([])


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda m: _core.FanoutMessage(1, m.application, proposals=[m.proposal]), "application message takes only frank"),
        (lambda m: _core.FanoutMessage(1, m.welcome), "ratchet_tree_option"),
        (lambda m: _core.FanoutMessage(1, m.commit, frank=_core.Frank(bytes(32), 1, b"")), "commit message takes only proposals"),
        (lambda m: _core.FanoutMessage(1, m.commit, proposals=[m.commit]), "externalProposals: each item must be a proposal"),
        (lambda m: _core.FanoutMessage(1, m.group_info), "FanoutMessage.message: .*GroupInfo"),
        (lambda m: _core.FanoutMessage(1, m.application + b"\x00"), "FanoutMessage.message"),
        (lambda m: _core.Frank(bytes(31), 1, b""), r"Frank.server_frank: must be 32 bytes"),
        (lambda m: _core.RatchetTreeOption("full"), "representation full takes ratchet_tree only"),
        (lambda m: _core.RatchetTreeOption("outOfBand", ratchet_tree=m.ratchet_tree, tree_signature=b""), "outOfBand"),
        (lambda m: _core.RatchetTreeOption("httpsUrl"), "unknown RatchetTreeRepresentation"),
        (lambda m: _core.RatchetTreeOption("full", ratchet_tree=b"\x01\x02"), "RatchetTreeOption.ratchet_tree"),
        (lambda m: _core.SubmitMessageRequest(m.commit, ALICE), "appMessage: must be a PrivateMessage"),
        (lambda m: _core.SubmitMessageResponse("success", 5), "unknown SubmitResponseCode"),
        (lambda m: _core.SubmitMessageResponse("accepted"), "accepted_timestamp"),
        (lambda m: _core.SubmitMessageResponse("notAllowed", current_epoch=3), "notAllowed takes no field"),
        (lambda m: _core.HandshakeBundle(m.commit), "a commit takes group_info_option and ratchet_tree_option"),
        (lambda m: _core.HandshakeBundle(m.application), "proposalOrCommit: must be a proposal or a commit"),
        (lambda m: _core.HandshakeBundle(m.proposal, welcome=m.welcome[4:]), "a proposal takes only more_proposals"),
        (lambda m: _core.HandshakeBundle(m.commit, m.welcome, _core.GroupInfoOption("full", m.group_info[4:]), _core.RatchetTreeOption("distributionService")), "HandshakeBundle.welcome: not a valid Welcome"),
        (lambda m: _core.GroupInfoOption("full", m.group_info), "GroupInfoOption.groupInfo: not a valid GroupInfo"),
        (lambda m: _core.GroupInfoOption("partial", m.group_info[4:]), "representation partial takes partial_group_info only"),
        (lambda m: _core.PartialGroupInfo("present", [(2, b"")], b""), "must not contain ratchet_tree"),
        (lambda m: _core.PartialGroupInfo("present", [(4, b""), (4, b"")], b""), "0x0004 appears twice"),
        (lambda m: _core.PartialGroupInfo("gone", [], b""), "unknown RatchetTreePresence"),
        (lambda m: _core.UpdateResponse("success"), "success takes accepted_timestamp"),
        (lambda m: _core.UpdateResponse("notAllowed", invalid_proposals=[b"x"]), "notAllowed takes no field"),
        (lambda m: _core.KeyMaterialRequest(ALICE, ALICE, ROOM_URI, [], EMPTY_REQUIRED_CAPABILITIES, b"k", _core.basic_credential(ALICE)), r"KeyMaterialRequest\.acceptableCiphersuites: must not be empty"),
        (lambda m: _core.KeyMaterialRequest(ALICE, ALICE, ROOM_URI, [1], b"\x00\x00", b"k", _core.basic_credential(ALICE)), r"KeyMaterialRequest\.requiredCapabilities: not a valid RequiredCapabilities"),
        (lambda m: _core.KeyMaterialRequest(ALICE, ALICE, ROOM_URI, [1], EMPTY_REQUIRED_CAPABILITIES, b"k", b"\x00"), r"KeyMaterialRequest\.requesterCredential: not a valid Credential"),
        (lambda m: _core.ClientKeyMaterial("success", "c"), "clientStatus success takes key_package only"),
        (lambda m: _core.ClientKeyMaterial("success", "c", key_package=b"\x00\x01\x00\x05" + m.key_package), r"ClientKeyMaterial\.keyPackage: not a valid KeyPackage"),
        (lambda m: _core.ClientKeyMaterial("keyMaterialExhausted", "c", client_capabilities=CAPABILITIES), "keyMaterialExhausted takes no field"),
        (lambda m: _core.ClientKeyMaterial("exhausted", "c"), "unknown KeyMaterialClientCode"),
        (lambda m: _core.KeyMaterialResponse("success", "u", [_core.ClientKeyMaterial("keyMaterialExhausted", "c")]), "success needs at least one client, each with clientStatus success"),
        (lambda m: _core.KeyMaterialResponse("success", "u"), "success needs at least one client"),
        (lambda m: _core.KeyMaterialResponse("partialSuccess", "u", [_core.ClientKeyMaterial("keyMaterialExhausted", "c")]), "partialSuccess needs a client"),
        (lambda m: _core.KeyMaterialResponse("userUnknown", "u", [_core.ClientKeyMaterial("keyMaterialExhausted", "c")]), "userUnknown must not list clients"),
        (lambda m: _core.GroupInfoResponse(ROOM_URI, "success"), "status success takes cipher_suite"),
        (lambda m: _core.GroupInfoResponse(ROOM_URI, "noSuchRoom", cipher_suite=1), "noSuchRoom takes no field"),
        (lambda m: _core.GroupInfoResponse(ROOM_URI, "success", 1, b"\x05", b"\x00\x00", b""), r"GroupInfoResponse\.hub_sender: not a valid ExternalSender"),
        (lambda m: _core.GroupInfoResponse(ROOM_URI, "reserved"), "unknown GroupInfoCode"),
        (lambda m: _core.KeyMaterialRequest(ALICE, ALICE, ROOM_URI, [1], EMPTY_REQUIRED_CAPABILITIES, b"k", _core.basic_credential(ALICE)).signed(b"short"), "32 bytes"),
    ],
)
def test_constructors_refuse_inconsistent_fields(mls: Mls, build: Callable[[Mls], Any], match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        build(mls)


# ---------------------------------------------------------------- Submit a Message


def test_submit_request_known_bytes(mls: Mls) -> None:
    req = _core.SubmitMessageRequest(mls.application, ALICE)
    want = b"\x01" + mls.application + opaque(ALICE.encode())
    assert req.encode() == want
    assert _core.SubmitMessageRequest.decode(want) == req
    assert req.app_message == mls.application and req.sending_uri == ALICE


def test_submit_response_known_bytes() -> None:
    frank = _core.Frank(b"\x11" * 32, 1, b"sig")
    cases = [
        (_core.SubmitMessageResponse("accepted", 77, frank), b"\x01\x00" + struct.pack(">Q", 77) + b"\x01" + b"\x11" * 32 + b"\x00\x01" + opaque(b"sig")),
        (_core.SubmitMessageResponse("accepted", 77), b"\x01\x00" + struct.pack(">Q", 77) + b"\x00"),
        (_core.SubmitMessageResponse("notAllowed"), b"\x01\x01"),
        (_core.SubmitMessageResponse("epochTooOld", current_epoch=12), b"\x01\x02" + struct.pack(">Q", 12)),
    ]
    for resp, want in cases:
        assert resp.encode() == want
        back = _core.SubmitMessageResponse.decode(want)
        assert back == resp
        assert back.status == resp.status


# ---------------------------------------------------------------- Update Room State


def bare(mls_message: bytes) -> bytes:
    """The struct inside an MLSMessage (drop version and wire_format)."""
    return mls_message[4:]


def test_handshake_bundle_commit_known_bytes(mls: Mls) -> None:
    pgi = _core.PartialGroupInfo("present", [(0x0004, b"\x20" + b"k" * 32)], b"sig")
    pgi_bytes = b"\x01" + opaque(struct.pack(">H", 4) + opaque(b"\x20" + b"k" * 32)) + opaque(b"sig")
    assert pgi.encode() == pgi_bytes
    cases = [
        (bare(mls.welcome), _core.GroupInfoOption("full", group_info=bare(mls.group_info)), b"\x01" + bare(mls.group_info)),
        (None, _core.GroupInfoOption("partial", partial_group_info=pgi), b"\x02" + pgi_bytes),
    ]
    rto = _core.RatchetTreeOption("full", mls.ratchet_tree)
    for welcome, gio, gio_bytes in cases:
        bundle = _core.HandshakeBundle(mls.commit, welcome, gio, rto)
        welcome_bytes = b"\x00" if welcome is None else b"\x01" + welcome
        want = mls.commit + welcome_bytes + gio_bytes + b"\x01" + mls.ratchet_tree
        assert bundle.encode() == want
        assert _core.HandshakeBundle.decode(want) == bundle
        assert _core.UpdateRequest is _core.HandshakeBundle
        assert bundle.kind == "commit" and bundle.group_info_option == gio


def test_handshake_bundle_proposal_known_bytes(mls: Mls) -> None:
    bundle = _core.HandshakeBundle(mls.proposal, more_proposals=[mls.proposal2])
    want = mls.proposal + opaque(mls.proposal2)
    assert bundle.encode() == want
    back = _core.HandshakeBundle.decode(want)
    assert back == bundle and back.more_proposals == [mls.proposal2] and back.welcome is None


def test_update_response_known_bytes() -> None:
    refs = [b"\x01" * 32, b"\x02" * 32]
    cases = [
        (_core.UpdateResponse("success", accepted_timestamp=99), b"\x00\x00" + struct.pack(">Q", 99)),
        (_core.UpdateResponse("wrongEpoch", "stale", current_epoch=4), b"\x01" + opaque(b"stale") + struct.pack(">Q", 4)),
        (_core.UpdateResponse("notAllowed", "policy"), b"\x02" + opaque(b"policy")),
        (_core.UpdateResponse("invalidProposal", invalid_proposals=refs), b"\x03\x00" + opaque(b"".join(opaque(r) for r in refs))),
    ]
    for resp, want in cases:
        assert resp.encode() == want
        assert _core.UpdateResponse.decode(want) == resp
    assert _core.UpdateResponse.decode(cases[3][1]).invalid_proposals == refs


# ---------------------------------------------------------------- Fetch Key Material


EMPTY_REQUIRED_CAPABILITIES = b"\x00\x00\x00"  # three empty vectors (RFC 9420 §11.1)
CAPABILITIES = opaque(struct.pack(">H", 1)) + opaque(struct.pack(">H", 1)) + b"\x00\x00" + opaque(struct.pack(">H", 1))


def test_key_material_request_known_bytes_and_signature() -> None:
    key = _core.SignatureKeyPair.generate()
    target = "mimi://b.example/u/bob"
    unsigned = _core.KeyMaterialRequest(ALICE, target, ROOM_URI, [1, 3], EMPTY_REQUIRED_CAPABILITIES, key.public, _core.basic_credential(ALICE))
    tbs = (
        b"\x01"
        + opaque(ALICE.encode())
        + opaque(target.encode())
        + opaque(ROOM_URI.encode())
        + opaque(struct.pack(">HH", 1, 3))
        + EMPTY_REQUIRED_CAPABILITIES
        + opaque(key.public)
        + _core.basic_credential(ALICE)
    )
    assert unsigned.tbs() == tbs
    assert unsigned.encode() == tbs + b"\x00"
    req = unsigned.signed(key.private)
    assert req.signature == key.sign_with_label("KeyMaterialRequestTBS", tbs) or len(req.signature) == 64
    _core.verify_with_label(key.public, "KeyMaterialRequestTBS", tbs, req.signature)
    assert req.encode() == tbs + opaque(req.signature)
    back = _core.KeyMaterialRequest.decode(req.encode())
    assert back == req and back.acceptable_ciphersuites == [1, 3] and back.room_id == ROOM_URI
    back.verify()
    with pytest.raises(DecodeError, match="64 bytes"):
        unsigned.verify()
    other = _core.KeyMaterialRequest(ALICE, target, "mimi://a.example/r/other", [1], EMPTY_REQUIRED_CAPABILITIES, key.public, _core.basic_credential(ALICE), req.signature)
    with pytest.raises(InvalidSignature):
        other.verify()


def test_key_material_response_known_bytes(mls: Mls) -> None:
    kp = mls.key_package  # Client.key_packages gives bare KeyPackages
    bob_phone, bob_laptop, bob_tablet = (f"mimi://b.example/d/bob/{d}" for d in ("phone", "laptop", "tablet"))
    clients = [
        _core.ClientKeyMaterial("success", bob_phone, key_package=kp),
        _core.ClientKeyMaterial("keyMaterialExhausted", bob_laptop),
        _core.ClientKeyMaterial("nothingCompatible", bob_tablet, client_capabilities=CAPABILITIES),
    ]
    resp = _core.KeyMaterialResponse("partialSuccess", "mimi://b.example/u/bob", clients)
    listed = (
        b"\x00" + opaque(bob_phone.encode()) + kp
        + b"\x01" + opaque(bob_laptop.encode())
        + b"\x02" + opaque(bob_tablet.encode()) + b"\x01" + CAPABILITIES
    )
    want = b"\x01\x01" + opaque(b"mimi://b.example/u/bob") + varint(len(listed)) + listed
    assert resp.encode() == want
    back = _core.KeyMaterialResponse.decode(want)
    assert back == resp and back.clients == clients and back.clients[0].key_package == kp
    consent = _core.KeyMaterialResponse("noConsent", "mimi://b.example/u/bob")
    assert consent.encode() == b"\x01\x05" + opaque(b"mimi://b.example/u/bob") + b"\x00"
    nothing = _core.ClientKeyMaterial("nothingCompatible", bob_tablet)
    assert _core.KeyMaterialResponse("noCompatibleMaterial", "u", [nothing]).clients == [nothing]


def test_key_material_response_every_client_exhausted() -> None:
    """§Fetch Key Material has no user code for "every client exhausted". We send
    noCompatibleMaterial listing each client as keyMaterialExhausted; an independent
    implementation sends partialSuccess in that form, which we decode but never send
    (docs/interop.md, "KeyMaterialResponse user/client codes")."""
    laptop, phone = "mimi://b.example/d/bob/laptop", "mimi://b.example/d/bob/phone"
    listed = b"\x01" + opaque(laptop.encode()) + b"\x01" + opaque(phone.encode())
    theirs = b"\x01\x01" + opaque(b"mimi://b.example/u/bob") + varint(len(listed)) + listed
    back = _core.KeyMaterialResponse.decode(theirs)
    assert back.user_status == "partialSuccess"
    assert [(c.client_status, c.client_uri, c.key_package) for c in back.clients] == [
        ("keyMaterialExhausted", laptop, None), ("keyMaterialExhausted", phone, None)]
    with pytest.raises(DecodeError, match="partialSuccess needs a client with clientStatus success"):
        _core.KeyMaterialResponse("partialSuccess", "mimi://b.example/u/bob", back.clients)
    ours = _core.KeyMaterialResponse("noCompatibleMaterial", "mimi://b.example/u/bob", back.clients).encode()
    assert ours == b"\x01\x03" + theirs[2:]
    empty = b"\x01\x01" + opaque(b"mimi://b.example/u/bob") + b"\x00"
    with pytest.raises(DecodeError, match=r"KeyMaterialResponse\.clients: userStatus partialSuccess needs at least one client"):
        _core.KeyMaterialResponse.decode(empty)


# ---------------------------------------------------------------- Claim group key information


def test_group_info_request_known_bytes_and_signature() -> None:
    key = _core.SignatureKeyPair.generate()
    hpke = b"\x07" * 32
    for code, code_bytes in [(None, b"\x00"), (b"join-me", b"\x01" + opaque(b"join-me"))]:
        unsigned = _core.GroupInfoRequest(1, key.public, _core.basic_credential(ALICE), hpke, code)
        tbs = b"\x01" + struct.pack(">H", 1) + opaque(key.public) + _core.basic_credential(ALICE) + opaque(hpke) + code_bytes
        assert unsigned.tbs() == tbs
        req = unsigned.signed(key.private)
        _core.verify_with_label(key.public, "GroupInfoRequestTBS", tbs, req.signature)
        assert req.encode() == tbs + opaque(req.signature)
        back = _core.GroupInfoRequest.decode(req.encode())
        assert back == req and back.joining_code == code
        back.verify()
        with pytest.raises(InvalidSignature):
            _core.GroupInfoRequest(2, key.public, _core.basic_credential(ALICE), hpke, code, req.signature).verify()


def test_group_info_response_known_bytes_and_signature() -> None:
    hub = _core.SignatureKeyPair.generate()
    sender = opaque(hub.public) + _core.basic_credential("mimi://a.example")
    ciphertext = opaque(b"\x01" * 32) + opaque(b"sealed group info")
    unsigned = _core.GroupInfoResponse(ROOM_URI, "success", 1, sender, ciphertext, b"")
    tbs = b"\x01" + opaque(ROOM_URI.encode()) + b"\x01" + struct.pack(">H", 1) + sender + ciphertext
    assert unsigned.tbs() == tbs
    resp = unsigned.signed(hub.private)
    assert resp.signature is not None
    _core.verify_with_label(hub.public, "GroupInfoResponseTBS", tbs, resp.signature)
    assert resp.encode() == tbs + opaque(resp.signature)
    back = _core.GroupInfoResponse.decode(resp.encode())
    assert back == resp
    back.verify()
    with pytest.raises(InvalidSignature):
        _core.GroupInfoResponse("mimi://a.example/r/other", "success", 1, sender, ciphertext, resp.signature).verify()
    for status, byte in [("notAuthorized", 2), ("noSuchRoom", 3)]:
        refused = _core.GroupInfoResponse(ROOM_URI, status)
        want = b"\x01" + opaque(ROOM_URI.encode()) + bytes([byte])
        assert refused.encode() == want
        assert _core.GroupInfoResponse.decode(want) == refused
        with pytest.raises(DecodeError, match="not signed"):
            refused.tbs()


# ---------------------------------------------------------------- strict decoding


def _bad_inputs(mls: Mls) -> list[tuple[Callable[[bytes], object], bytes, str]]:
    fan = _core.FanoutMessage(1, mls.application).encode()
    sub = _core.SubmitMessageRequest(mls.application, ALICE).encode()
    resp = _core.SubmitMessageResponse("accepted", 77, _core.Frank(b"\x11" * 32, 1, b"sig")).encode()
    prop = _core.FanoutMessage(3, mls.proposal, proposals=[mls.proposal2]).encode()
    uri = ALICE.encode()
    return [
        (_core.FanoutMessage.decode, fan[:7], r"FanoutMessage\.timestamp: truncated"),
        (_core.FanoutMessage.decode, fan + b"\x00", "FanoutMessage: 1 trailing byte"),
        (_core.FanoutMessage.decode, fan[:-1], r"FanoutMessage\.frank: truncated"),
        (_core.FanoutMessage.decode, fan[:-1] + b"\x02", r"FanoutMessage\.frank: optional presence byte"),
        (_core.FanoutMessage.decode, fan[:8] + b"\x00\x09" + fan[10:], r"FanoutMessage\.message: not a valid MLSMessage"),
        (_core.FanoutMessage.decode, prop[:-3], r"FanoutMessage\.moreProposals"),
        (_core.FanoutMessage.decode, _core.FanoutMessage(1, mls.welcome, ratchet_tree_option=_core.RatchetTreeOption("distributionService")).encode()[:-1] + b"\x05", r"FanoutMessage\.ratchetTreeOption\.representation: unknown RatchetTreeRepresentation value 5"),
        (_core.FanoutMessage.decode, _core.FanoutMessage(1, mls.welcome, ratchet_tree_option=_core.RatchetTreeOption("distributionService")).encode()[:-1] + b"\x00", "unknown RatchetTreeRepresentation value 0"),
        (_core.SubmitMessageRequest.decode, sub[:-1], r"SubmitMessageRequest\.sendingUri\.uri: truncated"),
        (_core.SubmitMessageRequest.decode, b"\x02" + sub[1:], r"SubmitMessageRequest\.protocol: unknown Protocol value 2"),
        (_core.SubmitMessageRequest.decode, b"\x00" + sub[1:], r"SubmitMessageRequest\.protocol"),
        (_core.SubmitMessageRequest.decode, b"\x01" + mls.application + b"\x40" + varint(len(uri))[-1:] + uri, r"sendingUri\.uri: non-minimal length prefix"),
        (_core.SubmitMessageRequest.decode, b"\x01" + mls.application + b"\xc0" + uri, r"sendingUri\.uri: length prefix 0b11 is reserved"),
        (_core.SubmitMessageRequest.decode, b"\x01" + mls.application + opaque(b"\xff\xfe"), r"sendingUri\.uri: not UTF-8"),
        (_core.SubmitMessageRequest.decode, b"\x01" + private_message(2) + opaque(uri), r"appMessage: must be a PrivateMessage"),
        (_core.SubmitMessageResponse.decode, b"\x01\x03", r"SubmitMessageResponse\.statusCode: unknown SubmitResponseCode value 3"),
        (_core.SubmitMessageResponse.decode, resp[:9], r"SubmitMessageResponse\.accepted_timestamp: truncated"),
        (_core.SubmitMessageResponse.decode, resp[:20], r"SubmitMessageResponse\.frank\.server_frank: truncated"),
        (_core.SubmitMessageResponse.decode, b"\x01\x01\x00", "SubmitMessageResponse: 1 trailing byte"),
        (_core.SubmitMessageResponse.decode, b"\x01\x02" + b"\x00" * 7, r"SubmitMessageResponse\.currentEpoch: truncated"),
        (_core.RatchetTreeOption.decode, b"\x03\x05ab", r"RatchetTreeOption\.tree_signature: truncated"),
        (_core.HandshakeBundle.decode, mls.commit + b"\x02", r"HandshakeBundle\.welcome: optional presence byte"),
        (_core.HandshakeBundle.decode, mls.commit + b"\x00\x03", r"HandshakeBundle\.groupInfoOption\.representation: unknown GroupInfoRepresentation value 3"),
        (_core.HandshakeBundle.decode, mls.commit + b"\x00\x02\x04" + opaque(b"") + opaque(b""), r"HandshakeBundle\.groupInfoOption\.partialGroupInfo\.ratchet_tree_presence: unknown RatchetTreePresence value 4"),
        (_core.HandshakeBundle.decode, mls.commit + b"\x00\x02\x01" + opaque(b"") + opaque(b""), r"HandshakeBundle\.ratchetTreeOption\.representation: truncated"),
        (_core.HandshakeBundle.decode, mls.commit + b"\x00\x02\x01" + opaque(b"") + opaque(b"") + b"\x04\x00", "HandshakeBundle: 1 trailing byte"),
        (_core.HandshakeBundle.decode, mls.proposal + b"\x41" + mls.proposal2, r"HandshakeBundle\.moreProposals"),
        (_core.HandshakeBundle.decode, mls.proposal + opaque(mls.commit), r"HandshakeBundle\.moreProposals: each item must be a proposal"),
        (_core.UpdateResponse.decode, b"\x04\x00", r"UpdateRoomResponse\.responseCode: unknown UpdateResponseCode value 4"),
        (_core.UpdateResponse.decode, b"\x00\x00" + b"\x00" * 7, r"UpdateRoomResponse\.accepted_timestamp: truncated"),
        (_core.UpdateResponse.decode, b"\x02\x05abc", r"UpdateRoomResponse\.errorDescription: truncated"),
        (_core.UpdateResponse.decode, b"\x03\x00\x02\x05a", r"UpdateRoomResponse\.invalidProposals: truncated"),
        (_core.UpdateResponse.decode, b"\x03\x00\x40\x00", r"UpdateRoomResponse\.invalidProposals: non-minimal"),
        (_core.KeyMaterialRequest.decode, b"\x01" + opaque(b"a") + opaque(b"b") + opaque(b"c") + b"\x03\x00\x01\x00", r"KeyMaterialRequest\.acceptableCiphersuites: truncated"),
        (_core.KeyMaterialRequest.decode, b"\x01" + opaque(b"a") + opaque(b"b"), r"KeyMaterialRequest\.roomId\.uri: truncated"),
        (_core.KeyMaterialRequest.decode, b"\x01" + opaque(b"a") + opaque(b"b") + opaque(b"c") + opaque(b"\x00\x01") + EMPTY_REQUIRED_CAPABILITIES + opaque(b"k") + _core.basic_credential(ALICE), r"KeyMaterialRequest\.key_material_request_signature: truncated"),
        (_core.KeyMaterialRequest.decode, b"\x01" + opaque(b"a") + opaque(b"b") + opaque(b"c") + opaque(b"\x00\x01") + EMPTY_REQUIRED_CAPABILITIES + opaque(b"k") + _core.basic_credential(ALICE) + b"\x00\x00", "KeyMaterialRequest: 1 trailing byte"),
        (_core.KeyMaterialResponse.decode, b"\x01\x08" + opaque(b"u") + b"\x00", r"KeyMaterialResponse\.userStatus: unknown KeyMaterialUserCode value 8"),
        (_core.KeyMaterialResponse.decode, b"\x01\x01" + opaque(b"u") + opaque(b"\x03" + opaque(b"c")), r"KeyMaterialResponse\.clients\.clientStatus: unknown KeyMaterialClientCode value 3"),
        (_core.KeyMaterialResponse.decode, b"\x01\x01" + opaque(b"u") + opaque(b"\x02" + opaque(b"c") + b"\x05"), r"KeyMaterialResponse\.clients\.clientCapabilities: optional presence byte"),
        (_core.KeyMaterialResponse.decode, b"\x01\x01" + opaque(b"u") + opaque(b"\x00" + opaque(b"c") + b"\x00\x01"), r"KeyMaterialResponse\.clients\.keyPackage: not a valid KeyPackage"),
        (_core.KeyMaterialResponse.decode, b"\x01\x04" + opaque(b"u") + opaque(b"\x01" + opaque(b"c")), r"KeyMaterialResponse\.clients: userStatus userUnknown must not list clients"),
        (_core.GroupInfoRequest.decode, b"\x01\x00\x01" + opaque(b"k") + _core.basic_credential(ALICE) + opaque(b"h") + b"\x02", r"GroupInfoRequest\.joiningCode: optional presence byte"),
        (_core.GroupInfoRequest.decode, b"\x01\x00\x01" + opaque(b"k") + _core.basic_credential(ALICE) + opaque(b"h") + b"\x00", r"GroupInfoRequest\.signature: truncated"),
        (_core.GroupInfoRequest.decode, b"\x01\x00", r"GroupInfoRequest\.cipher_suite: truncated"),
        (_core.GroupInfoResponse.decode, b"\x01" + opaque(b"r") + b"\x00", r"GroupInfoResponse\.status: unknown GroupInfoCode value 0"),
        (_core.GroupInfoResponse.decode, b"\x01" + opaque(b"r") + b"\x02\x00", "GroupInfoResponse: 1 trailing byte"),
        (_core.GroupInfoResponse.decode, b"\x01" + opaque(b"r") + b"\x01\x00\x01" + opaque(b"k") + _core.basic_credential(ALICE) + opaque(b"kem"), r"GroupInfoResponse\.encrypted_groupinfo_and_tree\.ciphertext: truncated"),
        (_core.GroupInfoResponse.decode, b"\x00" + opaque(b"r") + b"\x02", r"GroupInfoResponse\.version: unknown Protocol value 0"),
    ]


def test_bad_inputs_name_the_field(mls: Mls) -> None:
    cases = _bad_inputs(mls)
    for decode, data, match in cases:
        with pytest.raises(DecodeError, match=match):
            decode(data)
