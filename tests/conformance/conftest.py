"""The ``scene`` fixture: parametrised over every connector in the registry, so a connector
added to ``connectors/registry.py`` without an adapter fails here instead of going untested."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from fakeplatforms import FakeServer

from connectors.registry import BUILTIN
from tests.conformance.adapters import ADAPTERS
from tests.conformance.kit import TOKEN_ENV, Scene, token_for


@pytest.fixture(params=sorted(BUILTIN))
def scene(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    platform: str = request.param
    adapter_cls = ADAPTERS.get(platform)
    if adapter_cls is None:
        pytest.fail(
            f"connector {platform!r} is registered but has no conformance adapter; add one to "
            "tests/conformance/adapters.py"
        )
    structlog.reset_defaults()
    # Durability is proven by tests/foundation (crash points, kill -9); here ~150 small
    # archives are written and thrown away, and fsync was 40 % of each harvest's time.
    monkeypatch.setattr(os, "fsync", lambda _fd: None)
    token = token_for(platform)
    monkeypatch.setenv(TOKEN_ENV, token)
    adapter = adapter_cls(token)
    world = adapter.make_world()
    with FakeServer(world) as server:
        yield Scene(adapter, server, tmp_path, token)
