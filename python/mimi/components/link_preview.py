"""Link preview policy (draft-ietf-mimi-room-policy §Link Preview policy component)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from mimi.components.optionality import Optionality, OptionalitySelect
from mimi.tls_codec import Reader, Writer


@dataclass(frozen=True, slots=True)
class LinkPreviewPolicy(OptionalitySelect):
    """`link_preview_policy` component data and its update (the same format)."""

    SELECTOR: ClassVar[str] = "link_preview_proxy_use"

    autodetect_hyperlinks_in_text: Optionality = Optionality.optional
    send_link_previews: Optionality = Optionality.optional
    automatic_link_previews: Optionality = Optionality.optional
    link_preview_proxy_use: Optionality = Optionality.forbidden
    link_preview_proxy: tuple[str, ...] = ()

    def write(self, w: Writer) -> None:
        w.uint8(self.autodetect_hyperlinks_in_text)
        w.uint8(self.send_link_previews)
        w.uint8(self.automatic_link_previews)
        self.write_select(w)

    def write_case(self, w: Writer) -> None:
        w.vector_of(self.link_preview_proxy, Writer.string)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            r.enum(Optionality, "autodetect_hyperlinks_in_text"),
            r.enum(Optionality, "send_link_previews"),
            r.enum(Optionality, "automatic_link_previews"),
            *cls.read_select(r),
        )

    @classmethod
    def read_case(cls, r: Reader) -> tuple[Any, ...]:
        return (r.vector("link_preview_proxy", Reader.string),)
