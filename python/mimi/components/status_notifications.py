"""Status notification policy (draft-ietf-mimi-room-policy §Status Notifications component)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mimi.components.optionality import Optionality
from mimi.tls_codec import Reader, Struct, Writer


@dataclass(frozen=True, slots=True)
class StatusNotificationPolicy(Struct):
    """`status_notification_policy` component data and its update (the same format)."""

    delivery_notifications: Optionality = Optionality.optional
    read_receipts: Optionality = Optionality.optional

    def write(self, w: Writer) -> None:
        w.uint8(self.delivery_notifications)
        w.uint8(self.read_receipts)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.enum(Optionality, "delivery_notifications"), r.enum(Optionality, "read_receipts"))
