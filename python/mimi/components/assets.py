"""Asset policy (draft-ietf-mimi-room-policy §Asset policies component)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Self

from mimi.components.media_type import MediaType
from mimi.tls_codec import Reader, Struct, Writer


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


def _write_media_types(w: Writer, v: tuple[MediaType, ...]) -> None:
    w.structs(v)


def _read_media_types(r: Reader) -> tuple[MediaType, ...]:
    return r.vector("permitted_media_types", MediaType.read)


@dataclass(frozen=True, slots=True)
class AssetPolicy(Struct):
    """`asset_policy` component data and its update (the same format).
    `optional<MediaType> permitted_media_types<V>` is read as an optional list
    (present or absent as a whole)."""

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
