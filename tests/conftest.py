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


@pytest.fixture(scope="session")
def ray_cluster():  # type: ignore[no-untyped-def]
    """One local Ray cluster for every test that needs actors (2 CPUs, loopback only)."""
    import ray

    from mimi.actors.deploy import start_ray

    start_ray(num_cpus=2)
    yield ray
    ray.shutdown()
