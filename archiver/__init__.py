"""Records-retention archiver for municipal social media."""

__version__ = "0.1.0"
