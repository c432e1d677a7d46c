"""The catalog: an index over sealed bundles (rebuildable from them), plus workflow state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archiver.catalog.store import Catalog

__all__ = ["Catalog"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: ``archiver status`` reads an embedded catalog through
    # ``archiver.catalog.sql`` without importing SQLAlchemy, which ``store`` does.
    if name == "Catalog":
        from archiver.catalog.store import Catalog

        return Catalog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
