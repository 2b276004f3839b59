"""Every variant of every core error enum reaches Python as its mimi.errors class; a panic is InternalError."""

from __future__ import annotations

import pytest

from mimi import _core, errors

# The class each variant is raised as: what the peer or the caller did, or a bug.
CLASSES: dict[str, type[errors.MimiError]] = {
    "DecodeError": errors.DecodeError,
    "InternalError": errors.InternalError,
    "VerifyError::Malformed": errors.DecodeError,
    "VerifyError::DoesNotVerify": errors.InvalidSignature,
    "HpkeError::Malformed": errors.DecodeError,
    "HpkeError::Seal": errors.MlsError,
    "HpkeError::Open": errors.MlsError,
    "CodecError::Decode": errors.DecodeError,
    "CodecError::InvalidKeyPackage": errors.MlsError,
    "CodecError::Internal": errors.InternalError,
    "JoinError::Decode": errors.DecodeError,
    "JoinError::Refused": errors.MlsError,
    "JoinError::Internal": errors.InternalError,
    "AppDataError::NoResolver": errors.MlsError,
    "AppDataError::Refused": errors.MlsError,
    "CreateError::KeyPackage": errors.DecodeError,  # its sample: a KeyPackage that does not decode
    "CreateError::Refused": errors.MlsError,
    "CreateError::NotExternalSender": errors.MlsError,
    "CreateError::NotAMember": errors.MlsError,
    "CreateError::AppData": errors.MlsError,
    "CreateError::Internal": errors.InternalError,
    "ProcessError::Decode": errors.DecodeError,
    "ProcessError::OtherGroup": errors.MlsError,
    "ProcessError::WrongEpoch": errors.WrongEpoch,
    "ProcessError::InvalidSignature": errors.InvalidSignature,
    "ProcessError::Rejected": errors.MlsError,
    "ProcessError::NotHandshake": errors.MlsError,
    "ProcessError::SenderCannotCommit": errors.MlsError,
    "ProcessError::MissingGroupInfo": errors.MlsError,
    "ProcessError::GroupInfoSigner": errors.MlsError,
    "ProcessError::GroupInfoSignature": errors.InvalidSignature,
    "ProcessError::GroupInfoContext": errors.MlsError,
    "ProcessError::GroupInfoConfirmationTag": errors.MlsError,
    "ProcessError::GroupInfoExternalPub": errors.MlsError,
    "ProcessError::AppData": errors.MlsError,
    "ProcessError::Internal": errors.InternalError,
    # `merge` with nothing processed is the caller's bug, not an MLS refusal.
    "MergeError::NothingToMerge": errors.InternalError,
    "MergeError::GroupState": errors.MlsError,
    "MergeError::Store": errors.StorageError,
    "MergeError::Internal": errors.InternalError,
    "StateError::Decode": errors.DecodeError,
    "StateError::Store": errors.StorageError,
    "StateError::NoSuchGroup": errors.StorageError,
    "StateError::Internal": errors.InternalError,
    "VectorError::Codec": errors.InternalError,  # its sample: a bug while reading the vector
    "VectorError::Ciphersuite": errors.MlsError,
    "VectorError::KeyMismatch": errors.MlsError,
    "VectorError::GroupInfoSignature": errors.InvalidSignature,
    "VectorError::Refused": errors.MlsError,
    "VectorError::State": errors.StorageError,  # its sample: no such group
}


def test_every_variant_has_its_class_here() -> None:
    assert sorted(_core._CORE_ERROR_KINDS) == sorted(CLASSES)


@pytest.mark.parametrize(("kind", "cls"), [*CLASSES.items(), ("panic", errors.InternalError)])
def test_core_error_maps_to_class(kind: str, cls: type[errors.MimiError]) -> None:
    with pytest.raises(cls) as info:
        _core._raise_core_error(kind)
    assert type(info.value) is cls
    assert isinstance(info.value, errors.MimiError)


def test_wrong_epoch_names_both_epochs() -> None:
    with pytest.raises(errors.WrongEpoch, match="epoch 1, group is at epoch 2"):
        _core._raise_core_error("ProcessError::WrongEpoch")


def test_decode_error_names_the_field() -> None:
    with pytest.raises(errors.DecodeError, match=r"^T\.field: 1 trailing byte"):
        _core._raise_core_error("DecodeError")


def test_merge_with_nothing_processed_is_a_bug_in_the_caller() -> None:
    group = _core.Client("mimi://a.example/d/alice/phone").create_group(b"room", bytes(32), "mimi://a.example")
    with pytest.raises(errors.InternalError, match="nothing processed to merge"):
        group.merge()


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(errors.DecodeError, ValueError)
