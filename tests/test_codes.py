"""The Literal types of mimi.codes list exactly the values mimi-core defines, in wire order."""

from __future__ import annotations

from typing import Literal, get_args, get_origin

from mimi import _core, codes


def test_each_literal_type_is_its_core_enum() -> None:
    ours = {name: get_args(value) for name, value in vars(codes).items() if get_origin(value) is Literal}
    assert ours == _core.WIRE_ENUMS

