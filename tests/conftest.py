"""Shared fixtures: where the conformance vectors live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """`../shared` beside the checkout (CI lays a copy there); MIMI_SHARED overrides."""
    path = Path(os.environ.get("MIMI_SHARED", REPO.parent / "shared"))
    if not (path / "vectors").is_dir():
        raise RuntimeError(f"conformance vectors not found under {path}; set MIMI_SHARED")
    return path


@pytest.fixture(scope="session")
def vectors() -> Path:
    return shared_dir() / "vectors"


@pytest.fixture(scope="session")
def specs() -> Path:
    return shared_dir() / "specs"
