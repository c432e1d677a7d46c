"""``archiver config init``: start from a commented example instead of README fragments."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.markup import escape

from archiver.cli.common import clerk_errors, console
from archiver.config_init import (
    DEFAULT_PLATFORMS,  # used at import time
    PLATFORM_EXAMPLES,  # used at import time
)
from archiver.errors import ConfigError


@clerk_errors
def config_init(
    platform: list[str] = typer.Option(
        list(DEFAULT_PLATFORMS),
        "--platform",
        "-p",
        help="One example site per platform (repeat): " + ", ".join(sorted(PLATFORM_EXAMPLES)),
    ),
    out: Path = typer.Option(Path("archiver.toml"), "--out", "-o", help="Where to write it."),
) -> None:
    """Write a commented example archiver.toml (never overwrites an existing file)."""
    from archiver.config_init import PLATFORM_EXAMPLES, example_config

    unknown = [p for p in platform if p not in PLATFORM_EXAMPLES]
    if unknown:
        raise ConfigError(
            f"unknown platform {unknown[0]!r}",
            key="--platform",
            hint="choose from " + ", ".join(sorted(PLATFORM_EXAMPLES)),
        )
    text = example_config(platform)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    except FileExistsError:
        raise ConfigError(
            "already exists; not overwritten",
            file=str(out),
            hint="pass --out NEW-PATH, or move the existing file away first",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", file=str(out)) from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    console.print(
        escape(
            f"wrote {out} with example sites for {', '.join(dict.fromkeys(platform))}; "
            f"edit it, then run: archiver config check --config {out}"
        ),
        soft_wrap=True,
        highlight=False,
    )


def register(config_app: typer.Typer) -> None:
    config_app.command("init")(config_init)
