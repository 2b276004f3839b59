"""The other policy components (draft-ietf-mimi-room-policy §Other MIMI policy components).

Each `select (x) { case mandatory/optional: ...; case forbidden: struct {}; }`
carries its fields unless x is `forbidden`; a forbidden value with non-empty
fields cannot be built, so every value re-encodes to the bytes it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Self

from mimi.policy.component import Optionality
from mimi.tls import Reader, Struct, Writer


def _forbid_fields(name: str, optionality: Optionality, *fields: object) -> None:
    if optionality is Optionality.forbidden and any(fields):
        raise ValueError(f"{name} is forbidden: its other fields must be empty")


@dataclass(frozen=True, slots=True)
class StatusNotificationPolicy(Struct):
    """§Status Notifications component."""

    delivery_notifications: Optionality = Optionality.optional
    read_receipts: Optionality = Optionality.optional

    def write(self, w: Writer) -> None:
        w.uint8(self.delivery_notifications)
        w.uint8(self.read_receipts)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.enum(Optionality, "delivery_notifications"), r.enum(Optionality, "read_receipts"))


@dataclass(frozen=True, slots=True)
class JoinLinkPolicy(Struct):
    """§Join Link policies component."""

    on_request: bool = False
    join_link: str = ""
    multiuser: bool = False
    expiration: int = 0

    def write(self, w: Writer) -> None:
        w.bool(self.on_request)
        w.string(self.join_link)
        w.bool(self.multiuser)
        w.uint32(self.expiration)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.bool("on_request"), r.string("join_link"), r.bool("multiuser"), r.uint32("expiration"))


@dataclass(frozen=True, slots=True)
class JoinLinks(Struct):
    """§Join Link policies component: `JoinLink JoinLinksData<V>`, each `opaque join_link<V>`."""

    join_links: tuple[bytes, ...] = ()

    def write(self, w: Writer) -> None:
        w.vector_of(self.join_links, Writer.opaque)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("join_links", Reader.opaque))


@dataclass(frozen=True, slots=True)
class JoinLinksUpdate(Struct):
    removed_indices: tuple[int, ...] = ()
    added_links: tuple[bytes, ...] = ()

    def write(self, w: Writer) -> None:
        w.vector_of(self.removed_indices, Writer.uint32)
        w.vector_of(self.added_links, Writer.opaque)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("removedIndices", Reader.uint32), r.vector("added_links", Reader.opaque))


@dataclass(frozen=True, slots=True)
class LinkPreviewPolicy(Struct):
    """§Link Preview policy component."""

    autodetect_hyperlinks_in_text: Optionality = Optionality.optional
    send_link_previews: Optionality = Optionality.optional
    automatic_link_previews: Optionality = Optionality.optional
    link_preview_proxy_use: Optionality = Optionality.forbidden
    link_preview_proxy: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _forbid_fields("link_preview_proxy_use", self.link_preview_proxy_use, self.link_preview_proxy)

    def write(self, w: Writer) -> None:
        w.uint8(self.autodetect_hyperlinks_in_text)
        w.uint8(self.send_link_previews)
        w.uint8(self.automatic_link_previews)
        w.uint8(self.link_preview_proxy_use)
        if self.link_preview_proxy_use is not Optionality.forbidden:
            w.vector_of(self.link_preview_proxy, Writer.string)

    @classmethod
    def read(cls, r: Reader) -> Self:
        autodetect = r.enum(Optionality, "autodetect_hyperlinks_in_text")
        send = r.enum(Optionality, "send_link_previews")
        automatic = r.enum(Optionality, "automatic_link_previews")
        use = r.enum(Optionality, "link_preview_proxy_use")
        proxies = () if use is Optionality.forbidden else r.vector("link_preview_proxy", Reader.string)
        return cls(autodetect, send, automatic, use, proxies)


class AssetUploadLocation(IntEnum):
    unspecified = 0
    localProvider = 1
    hub = 2


class DownloadPrivacyType(IntEnum):
    direct = 0
    hubProxy = 1
    ohttp = 2


@dataclass(frozen=True, slots=True)
class ProviderAssetUploadDomains(Struct):
    provider: str
    asset_upload_destinations: tuple[str, ...] = ()

    def write(self, w: Writer) -> None:
        w.string(self.provider)
        w.vector_of(self.asset_upload_destinations, Writer.string)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.string("provider"), r.vector("asset_upload_destinations", Reader.string))


def _write_download_type(w: Writer, v: DownloadPrivacyType) -> None:
    w.uint8(v)


def _read_download_type(r: Reader) -> DownloadPrivacyType:
    return r.enum(DownloadPrivacyType, "DownloadPrivacyType")


@dataclass(frozen=True, slots=True)
class DownloadPrivacy(Struct):
    allowed_download_types: tuple[DownloadPrivacyType, ...] = ()
    forbidden_download_types: tuple[DownloadPrivacyType, ...] = ()
    default_download_type: DownloadPrivacyType = DownloadPrivacyType.direct

    def write(self, w: Writer) -> None:
        w.vector_of(self.allowed_download_types, _write_download_type)
        w.vector_of(self.forbidden_download_types, _write_download_type)
        w.uint8(self.default_download_type)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            r.vector("allowed_download_types", _read_download_type),
            r.vector("forbidden_download_types", _read_download_type),
            _read_download_type(r),
        )


@dataclass(frozen=True, slots=True)
class Parameter(Struct):
    """draft-ietf-mls-extensions §MediaType."""

    parameter_name: bytes
    parameter_value: bytes

    def write(self, w: Writer) -> None:
        w.opaque(self.parameter_name)
        w.opaque(self.parameter_value)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.opaque("parameter_name"), r.opaque("parameter_value"))


@dataclass(frozen=True, slots=True)
class MediaType(Struct):
    """draft-ietf-mls-extensions §MediaType: "type/subtype" and parameters."""

    type: bytes
    parameters: tuple[Parameter, ...] = ()

    def write(self, w: Writer) -> None:
        w.opaque(self.type)
        w.structs(self.parameters)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.opaque("type"), r.vector("parameters", Parameter.read))


def _write_media_types(w: Writer, v: tuple[MediaType, ...]) -> None:
    w.structs(v)


def _read_media_types(r: Reader) -> tuple[MediaType, ...]:
    return r.vector("permitted_media_types", MediaType.read)


@dataclass(frozen=True, slots=True)
class AssetPolicy(Struct):
    """§Asset policies component. `optional<MediaType> permitted_media_types<V>` is
    read as an optional list (present or absent as a whole)."""

    asset_upload_location: AssetUploadLocation = AssetUploadLocation.localProvider
    upload_domains: tuple[ProviderAssetUploadDomains, ...] = ()
    download_privacy: DownloadPrivacy = DownloadPrivacy()
    max_image: int = 0
    max_audio: int = 0
    max_video: int = 0
    max_attachment: int = 0
    forbidden_media_types: tuple[MediaType, ...] = ()
    permitted_media_types: tuple[MediaType, ...] | None = None

    def write(self, w: Writer) -> None:
        w.uint8(self.asset_upload_location)
        w.structs(self.upload_domains)
        self.download_privacy.write(w)
        for size in (self.max_image, self.max_audio, self.max_video, self.max_attachment):
            w.uint64(size)
        w.structs(self.forbidden_media_types)
        w.optional(self.permitted_media_types, _write_media_types)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            asset_upload_location=r.enum(AssetUploadLocation, "asset_upload_location"),
            upload_domains=r.vector("upload_domains", ProviderAssetUploadDomains.read),
            download_privacy=DownloadPrivacy.read(r),
            max_image=r.uint64("max_image"),
            max_audio=r.uint64("max_audio"),
            max_video=r.uint64("max_video"),
            max_attachment=r.uint64("max_attachment"),
            forbidden_media_types=r.vector("forbidden_media_types", MediaType.read),
            permitted_media_types=r.optional("permitted_media_types", _read_media_types),
        )


@dataclass(frozen=True, slots=True)
class LoggingPolicy(Struct):
    """§Logging policy component; an empty policy URI means none is given."""

    logging: Optionality = Optionality.forbidden
    logging_clients: tuple[str, ...] = ()
    machine_readable_policy: str = ""
    human_readable_policy: str = ""

    def __post_init__(self) -> None:
        _forbid_fields(
            "logging", self.logging, self.logging_clients, self.machine_readable_policy, self.human_readable_policy
        )

    def write(self, w: Writer) -> None:
        w.uint8(self.logging)
        if self.logging is not Optionality.forbidden:
            w.vector_of(self.logging_clients, Writer.string)
            w.string(self.machine_readable_policy)
            w.string(self.human_readable_policy)

    @classmethod
    def read(cls, r: Reader) -> Self:
        logging = r.enum(Optionality, "logging")
        if logging is Optionality.forbidden:
            return cls(logging)
        return cls(
            logging,
            r.vector("logging_clients", Reader.string),
            r.string("machine_readable_policy"),
            r.string("human_readable_policy"),
        )


@dataclass(frozen=True, slots=True)
class HistoryPolicy(Struct):
    """§Chat history policy component."""

    history_sharing: Optionality = Optionality.forbidden
    roles_that_can_share: tuple[int, ...] = ()
    automatically_share: bool = False
    max_time_period: int = 0

    def __post_init__(self) -> None:
        _forbid_fields(
            "history_sharing",
            self.history_sharing,
            self.roles_that_can_share,
            self.automatically_share,
            self.max_time_period,
        )

    def write(self, w: Writer) -> None:
        w.uint8(self.history_sharing)
        if self.history_sharing is not Optionality.forbidden:
            w.vector_of(self.roles_that_can_share, Writer.uint32)
            w.bool(self.automatically_share)
            w.uint32(self.max_time_period)

    @classmethod
    def read(cls, r: Reader) -> Self:
        sharing = r.enum(Optionality, "history_sharing")
        if sharing is Optionality.forbidden:
            return cls(sharing)
        return cls(
            sharing,
            r.vector("roles_that_can_share", Reader.uint32),
            r.bool("automatically_share"),
            r.uint32("max_time_period"),
        )


@dataclass(frozen=True, slots=True)
class Bot(Struct):
    name: bytes
    description: bytes = b""
    homepage: str = ""
    local_client_bot: bool = False
    bot_role_index: int = 0
    can_target_message_in_group: bool = False
    per_user_content: bool = False

    def write(self, w: Writer) -> None:
        w.opaque(self.name)
        w.opaque(self.description)
        w.string(self.homepage)
        w.bool(self.local_client_bot)
        w.uint32(self.bot_role_index)
        w.bool(self.can_target_message_in_group)
        w.bool(self.per_user_content)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(
            r.opaque("name"),
            r.opaque("description"),
            r.string("homepage"),
            r.bool("local_client_bot"),
            r.uint32("bot_role_index"),
            r.bool("can_target_message_in_group"),
            r.bool("per_user_content"),
        )


@dataclass(frozen=True, slots=True)
class BotPolicy(Struct):
    """§Chat bot policy component."""

    allowed_bots: tuple[Bot, ...] = ()

    def write(self, w: Writer) -> None:
        w.structs(self.allowed_bots)

    @classmethod
    def read(cls, r: Reader) -> Self:
        return cls(r.vector("allowed_bots", Bot.read))


@dataclass(frozen=True, slots=True)
class MessageExpiration(Struct):
    """§Message expiration policy component."""

    expiring_messages: Optionality = Optionality.forbidden
    min_expiration_duration: int = 0
    max_expiration_duration: int = 0
    default_expiration_duration: int | None = None

    def __post_init__(self) -> None:
        _forbid_fields(
            "expiring_messages",
            self.expiring_messages,
            self.min_expiration_duration,
            self.max_expiration_duration,
            self.default_expiration_duration is not None,
        )

    def write(self, w: Writer) -> None:
        w.uint8(self.expiring_messages)
        if self.expiring_messages is not Optionality.forbidden:
            w.uint32(self.min_expiration_duration)
            w.uint32(self.max_expiration_duration)
            w.optional(self.default_expiration_duration, Writer.uint32)

    @classmethod
    def read(cls, r: Reader) -> Self:
        expiring = r.enum(Optionality, "expiring_messages")
        if expiring is Optionality.forbidden:
            return cls(expiring)
        return cls(
            expiring,
            r.uint32("min_expiration_duration"),
            r.uint32("max_expiration_duration"),
            r.optional("default_expiration_duration", Reader.uint32),
        )
