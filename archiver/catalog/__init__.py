"""The catalog: an index over sealed bundles (rebuildable from them), plus workflow state."""

from archiver.catalog.store import Catalog

__all__ = ["Catalog"]
