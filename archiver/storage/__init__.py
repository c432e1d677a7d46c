"""Where sealed bundles live: a local folder by default, S3-compatible storage optionally."""

from archiver.storage.base import BundleFile, Storage
from archiver.storage.local import LocalStorage

__all__ = ["BundleFile", "LocalStorage", "Storage"]
