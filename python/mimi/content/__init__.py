"""MIMI content (draft-ietf-mimi-content): codec, message IDs, builders, history, receipts."""

from mimi.content.codec import (
    Cardinality,
    Disposition,
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
    message_id,
)

__all__ = [
    "Cardinality",
    "Disposition",
    "Expiration",
    "Extensions",
    "ExternalPart",
    "MimiContent",
    "MultiPart",
    "NestedPart",
    "NullPart",
    "PartSemantics",
    "SinglePart",
    "decode",
    "encode",
    "message_id",
]
