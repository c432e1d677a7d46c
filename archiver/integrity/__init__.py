"""Authenticity: seal-time signatures, trusted timestamps, catalog-vs-bundle checks, audit
checkpoints. Fixity (``archiver.verify``) proves a bundle agrees with itself; this package
proves it is the bundle the archiver sealed, when, and that the catalog still says what the
sealed bundles say."""
