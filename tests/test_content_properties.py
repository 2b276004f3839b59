"""Property tests: encode/decode round trip, and decode never fails but with DecodeError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shared_dir
from mimi.content import (
    Expiration,
    Extensions,
    ExternalPart,
    MimiContent,
    MultiPart,
    NestedPart,
    NullPart,
    PartSemantics,
    SinglePart,
    decode,
    encode,
)
from mimi.content.codec import MAX_PART_DEPTH
from mimi.errors import DecodeError

# Module level, because hypothesis draws from it; the `vectors` fixture's source.
VECTORS = shared_dir() / "vectors" / "mimi-content"

uint8 = st.integers(0, 2**8 - 1)
text = st.text(max_size=20)
small_bytes = st.binary(max_size=40)
message_ids = st.none() | st.binary(min_size=32, max_size=32)


null_parts = st.builds(NullPart, uint8, text)
single_parts = st.builds(SinglePart, uint8, text, text, small_bytes)
external_parts = st.builds(
    ExternalPart, uint8, text, text, text,
    st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**16 - 1),
    small_bytes, small_bytes, small_bytes, uint8, small_bytes, text, text,
)  # fmt: skip
leaf_parts = null_parts | single_parts | external_parts


def parts(depth: int) -> st.SearchStrategy[NestedPart]:
    if depth == MAX_PART_DEPTH:
        return leaf_parts
    children = st.lists(parts(depth + 1), min_size=2, max_size=3).map(tuple)
    return leaf_parts | st.builds(MultiPart, uint8, text, st.sampled_from(PartSemantics), children)


# What decode gives back for extension values: tuples for arrays, maps as maps.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.floats(allow_nan=False)
    | text
    | small_bytes
)
keys = st.integers(-(2**53) + 1, 2**53 - 1).filter(lambda k: k not in (1, 2)) | st.text(min_size=1, max_size=8)
extension_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.dictionaries(st.integers(0, 99) | text, inner, max_size=3),
    max_leaves=6,
).filter(lambda value: _depth(value) <= 3)


def _depth(value: object) -> int:
    if isinstance(value, tuple):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


extensions = st.builds(
    Extensions,
    st.none() | text,
    st.none() | text,
    st.dictionaries(keys, extension_values, max_size=3).map(lambda d: tuple(d.items())),
)
contents = st.builds(
    MimiContent,
    st.binary(min_size=16, max_size=16),
    message_ids,
    small_bytes,
    st.none() | st.builds(Expiration, st.booleans(), st.integers(0, 2**32 - 1)),
    message_ids,
    extensions,
    parts(1),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(contents)
def test_encode_then_decode_gives_the_same_message(content: MimiContent) -> None:
    data = encode(content)
    assert decode(data) == content
    assert encode(decode(data)) == data


def _decode_or_reject(data: bytes) -> None:
    try:
        content = decode(data)
    except DecodeError:
        return
    # Whatever decodes is the one deterministic encoding of what it decoded to.
    assert encode(content) == data


@settings(max_examples=1000)
@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_decode_error(data: bytes) -> None:
    _decode_or_reject(data)


EXAMPLES = sorted(path.read_bytes() for path in VECTORS.glob("*.cbor") if path.name != "implied-original.cbor")


@settings(max_examples=1000)
@given(st.sampled_from(EXAMPLES), st.data())
def test_mutated_examples_only_ever_raise_decode_error(example: bytes, data: st.DataObject) -> None:
    mutated = bytearray(example)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    _decode_or_reject(bytes(mutated[:cut] if data.draw(st.booleans()) else mutated))
