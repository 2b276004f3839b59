"""Every core error variant reaches Python as its mimi.errors class; a panic is InternalError."""

from __future__ import annotations

import pytest

from mimi import _core, errors


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("decode", errors.DecodeError),
        ("invalid_signature", errors.InvalidSignature),
        ("wrong_epoch", errors.WrongEpoch),
        ("mls", errors.MlsError),
        ("storage", errors.StorageError),
        ("internal", errors.InternalError),
        ("panic", errors.InternalError),
    ],
)
def test_core_error_maps_to_class(kind: str, cls: type[errors.MimiError]) -> None:
    with pytest.raises(cls) as info:
        _core._raise_core_error(kind)
    assert type(info.value) is cls
    assert isinstance(info.value, errors.MimiError)


def test_wrong_epoch_names_both_epochs() -> None:
    with pytest.raises(errors.WrongEpoch, match="epoch 1, group is at epoch 2"):
        _core._raise_core_error("wrong_epoch")


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(errors.DecodeError, ValueError)
