"""Benchmarks of the Rust core through mimi._core, beside their best Python alternative.

Run with `make bench` (pytest-benchmark; JSON under docs/results/). Groups are
built once per size; each benchmark undoes its effect (clear_pending_commit,
discard) so every round measures the same operation.
"""

from __future__ import annotations

import functools
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mimi import _core

LABEL = "FanoutTBS"
CONTENT = os.urandom(256)
BATCH = 64
KIB = os.urandom(1024)
SIZES = [2, 10, 100, 1000]


def sign_content(label: str, content: bytes) -> bytes:
    full = b"MLS 1.0 " + label.encode()
    return bytes([len(full)]) + full + (0x4000 | len(content)).to_bytes(2, "big") + content


@pytest.fixture(scope="module")
def key() -> _core.SignatureKeyPair:
    return _core.SignatureKeyPair.generate()


@pytest.fixture(scope="module")
def pyca(key: _core.SignatureKeyPair) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(key.private)


# ---------------------------------------------------------------- Ed25519


@pytest.mark.benchmark(group="ed25519-sign")
def test_sign_mimi(benchmark, key) -> None:  # type: ignore[no-untyped-def]
    benchmark(key.sign_with_label, LABEL, CONTENT)


@pytest.mark.benchmark(group="ed25519-sign")
def test_sign_pyca(benchmark, pyca) -> None:  # type: ignore[no-untyped-def]
    benchmark(lambda: pyca.sign(sign_content(LABEL, CONTENT)))


@pytest.mark.benchmark(group="ed25519-verify")
def test_verify_mimi(benchmark, key) -> None:  # type: ignore[no-untyped-def]
    sig = key.sign_with_label(LABEL, CONTENT)
    benchmark(_core.verify_with_label, key.public, LABEL, CONTENT, sig)


@pytest.mark.benchmark(group="ed25519-verify")
def test_verify_pyca(benchmark, pyca) -> None:  # type: ignore[no-untyped-def]
    public = pyca.public_key()
    data = sign_content(LABEL, CONTENT)
    sig = pyca.sign(data)
    benchmark(public.verify, sig, data)


def batch_items() -> list[tuple[bytes, str, bytes, bytes]]:
    keys = [_core.SignatureKeyPair.generate() for _ in range(8)]
    items = []
    for i in range(BATCH):
        k = keys[i % len(keys)]
        content = CONTENT + i.to_bytes(4, "big")
        items.append((k.public, LABEL, content, k.sign_with_label(LABEL, content)))
    return items


@pytest.mark.benchmark(group=f"ed25519-verify-{BATCH}")
def test_verify_batch_mimi(benchmark) -> None:  # type: ignore[no-untyped-def]
    items = batch_items()
    assert all(benchmark(_core.verify_batch, items))


@pytest.mark.benchmark(group=f"ed25519-verify-{BATCH}")
def test_verify_singles_mimi(benchmark) -> None:  # type: ignore[no-untyped-def]
    items = batch_items()

    def singles() -> None:
        for item in items:
            _core.verify_with_label(*item)

    benchmark(singles)


@pytest.mark.benchmark(group=f"ed25519-verify-{BATCH}")
def test_verify_singles_pyca(benchmark) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    prepared = [
        (Ed25519PublicKey.from_public_bytes(pub), sig, sign_content(label, content))
        for pub, label, content, sig in batch_items()
    ]

    def singles() -> None:
        for public, sig, data in prepared:
            public.verify(sig, data)

    benchmark(singles)


# ---------------------------------------------------------------- binding overhead


@pytest.mark.benchmark(group="binding-sign-100")
def test_sign_100_in_rust(benchmark, key) -> None:  # type: ignore[no-untyped-def]
    contents = [CONTENT] * 100
    benchmark(_core.sign_with_label_many, key, LABEL, contents)


@pytest.mark.benchmark(group="binding-sign-100")
def test_sign_100_from_python(benchmark, key) -> None:  # type: ignore[no-untyped-def]
    contents = [CONTENT] * 100
    benchmark(lambda: [key.sign_with_label(LABEL, c) for c in contents])


# ---------------------------------------------------------------- MLS


@pytest.mark.benchmark(group="key-packages")
def test_key_package_one(benchmark) -> None:  # type: ignore[no-untyped-def]
    client = _core.Client("mimi://a.example/d/bench/one")
    benchmark(client.key_packages, 1)


@pytest.mark.benchmark(group="key-packages")
def test_key_package_100(benchmark) -> None:  # type: ignore[no-untyped-def]
    client = _core.Client("mimi://a.example/d/bench/many")
    benchmark(client.key_packages, 100)


class Room:
    """A group of `size` members (one creator + size-1 joiners who need not exist as objects)."""

    def __init__(self, size: int) -> None:
        self.hub_key = _core.SignatureKeyPair.generate()
        self.creator = _core.Client("mimi://a.example/d/creator/bench")
        self.group = self.creator.create_group(f"bench-{size}".encode(), self.hub_key.public, "mimi://a.example")
        self.hub = _core.HubView.from_group_info(self.group.export_group_info(), self.group.export_ratchet_tree())
        self.reader: _core.Group | None = None
        if size > 1:
            reader = _core.Client("mimi://b.example/d/reader/bench")
            kps = reader.key_packages(1) + [
                _core.Client(f"mimi://b.example/d/u{i}/bench").key_packages(1)[0] for i in range(size - 2)
            ]
            out = self.group.commit(adds=kps)
            self.hub.process(out.commit, out.group_info)
            self.hub.merge()
            self.group.merge_pending_commit()
            assert out.welcome is not None
            self.reader = reader.join_welcome(out.welcome, out.ratchet_tree)
        self.joiner = _core.Client("mimi://c.example/d/joiner/bench")


@functools.cache
def room(size: int) -> Room:
    return Room(size)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.benchmark(group="mls-commit-add")
def test_commit_add(benchmark, size: int) -> None:  # type: ignore[no-untyped-def]
    r = room(size)
    kp = r.joiner.key_packages(1)[0]

    def commit_add() -> None:
        r.group.commit(adds=[kp])
        r.group.clear_pending_commit()

    benchmark(commit_add)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.benchmark(group="mls-hub-validate-commit")
def test_hub_view_validates_add_commit(benchmark, size: int) -> None:  # type: ignore[no-untyped-def]
    """`HubView.process` of a commit adding one member: the hub's MLS validation alone
    (the hub's whole `/update` path is bench_mls_scale's `test_hub_room_update`)."""
    r = room(size)
    out = r.group.commit(adds=r.joiner.key_packages(1))
    r.group.clear_pending_commit()

    def validate() -> None:
        r.hub.process(out.commit, out.group_info)
        r.hub.discard()

    benchmark(validate)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.benchmark(group="mls-member-process-commit")
def test_member_processes_commit(benchmark, size: int) -> None:  # type: ignore[no-untyped-def]
    r = room(size)
    assert r.reader is not None
    out = r.group.commit(adds=r.joiner.key_packages(1))
    r.group.clear_pending_commit()
    reader = r.reader

    def process() -> None:
        reader.process(out.commit)
        reader.discard()

    benchmark(process)


@pytest.mark.benchmark(group="mls-1kib")
def test_encrypt_1kib(benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark(room(2).group.encrypt, KIB)


@pytest.mark.benchmark(group="mls-1kib")
def test_decrypt_1kib(benchmark) -> None:  # type: ignore[no-untyped-def]
    # A room of its own: encrypt benchmarks move the sender's ratchet further
    # than a receiver accepts to skip (openmls' default out-of-order tolerance).
    r = Room(2)
    assert r.reader is not None
    reader = r.reader

    def fresh() -> tuple[tuple[bytes], dict[str, object]]:
        return (r.group.encrypt(KIB),), {}

    result = benchmark.pedantic(reader.process, setup=fresh, rounds=2000)
    assert result.plaintext == KIB
