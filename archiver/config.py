"""Load and validate ``archiver.toml``.

The config says *what* to archive and *where*; it never holds a secret, only the names of
environment variables or systemd credentials that do. Every problem is reported with the file,
the key (``sites[2].base_url``) and a fix, and ``check_config`` collects all of them at once so a
clerk can correct the file in one pass.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archiver.config_sections import key_problems
from archiver.errors import ConfigError
from archiver.secrets import read_secret
from archiver.settings.cluster import ClusterSettings, cluster_from
from archiver.settings.compliance import ComplianceSettings, compliance_from
from archiver.settings.daemon import DaemonSettings, daemon_from
from archiver.settings.fastlane import (
    FastLaneSettings,
    WebhookSettings,
    fastlane_from,
    webhooks_from,
)
from archiver.settings.integrity import IntegritySettings, integrity_from
from archiver.settings.report import ReportSettings, report_from
from archiver.settings.requests import RequestPolicy, requests_from
from archiver.settings.retention import RetentionConfig, retention_from
from archiver.settings.smtp import SmtpSettings, smtp_from
from archiver.settings.storage import StorageSettings, storage_from
from archiver.settings.values import parse_duration as parse_duration

DEFAULT_CONFIG = "archiver.toml"
KNOWN_SECTIONS = {
    "webhooks",  # read by archiver.fastlane.webhooks (issue 13)
    "fastlane",  # read by archiver.fastlane.runner (issue 13)
    "integrity",
    "archive",
    "http",
    "sites",
    "storage",
    "smtp",
    "report",
    "retention",
    "daemon",
    "requests",
    "compliance",
    "cluster",  # read by archiver.cluster (issue 19)
}
SITE_KEYS = {
    "id",
    "platform",
    "base_url",
    "account",
    "department",
    "administrators",
    "token_env",
    "interval",
    "cron",
    "full_sweep_every",
    "recheck_recent",
    "follower_checkpoint_every",
    "followers_every",
    "follower_walk_every",
    "thread_poll_ceiling",
    "enabled",
    "options",
    "retention",
    "token_expires",
}
ARCHIVE_KEYS = {"root", "catalog_url", "timezone", "city"}
HTTP_KEYS = {
    "timeout",
    "max_attempts",
    "max_retry_wait",
    "user_agent",
    "media_max_bytes",
    "max_body_bytes",
    "request_budget",
    "run_budget",
}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Administrator:
    name: str
    role: str
    department: str = ""

    @property
    def is_it(self) -> bool:
        """The policy requires one administrator from the IT Department."""
        text = f"{self.role} {self.department}".lower()
        return bool(re.search(r"\bit\b|information technology", text))


@dataclass(frozen=True, slots=True)
class SiteConfig:
    id: str
    platform: str
    base_url: str
    account: str
    department: str
    administrators: tuple[Administrator, ...]
    token_env: str | None
    interval_seconds: int
    full_sweep_seconds: int
    recheck_recent: int
    enabled: bool
    options: Mapping[str, Any]
    retention: Mapping[str, Any]
    token_expires: str | None
    cron: str | None = None
    """A crontab line ("m h dom mon dow", archive time zone) used instead of the interval."""
    follower_checkpoint_seconds: int = 7 * 86400
    """How often the whole follower list is sealed; runs in between seal only changes."""
    thread_poll_ceiling_seconds: int = 7 * 86400
    """Longest wait before an idle thread is read again outside a full sweep (0: every run)."""
    followers_seconds: int = 0
    """Read the follower list at most this often outside full sweeps (0: every run)."""
    follower_walk_seconds: int = 86400
    """Read the whole follower list (the only read that can show who left) at least this
    often; runs in between read only the newest followers where the platform allows (0: the
    whole list in every run that reads followers)."""

    @property
    def has_it_admin(self) -> bool:
        return any(a.is_it for a in self.administrators)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How the recording client talks to platforms (``[http]`` in the config file)."""

    timeout: float = 30.0
    """Seconds for one connect or one read."""
    max_attempts: int = 5
    max_retry_wait: float = 300.0
    """The longest single wait (Retry-After, rate-limit reset) worth sleeping for; a longer
    one ends the run as "rate limited until ..." and the next run starts after it."""
    user_agent: str = "muni-archiver/0.1 (+public records retention)"
    media_max_bytes: int = 50_000_000
    max_body_bytes: int = 64 * 1024 * 1024
    """Largest response body, counted after gzip/deflate decoding; far above any API page."""
    request_budget: float = 300.0
    """Seconds one request may take in total, body included (a dripping server)."""
    run_budget: float = 6 * 3600.0
    """Seconds a run may spend: a rate-limit wait past it ends the run instead."""


@dataclass(frozen=True, slots=True)
class Config:
    """The whole file, every section typed and checked (:mod:`archiver.settings`)."""

    path: Path
    root: Path
    catalog_url: str
    timezone: str
    city: str
    http: HttpSettings
    sites: tuple[SiteConfig, ...]
    storage: StorageSettings
    retention: RetentionConfig
    daemon: DaemonSettings
    report: ReportSettings
    smtp: SmtpSettings | None
    """None without ``[smtp]``: the report is built but cannot be e-mailed."""
    integrity: IntegritySettings
    requests: RequestPolicy
    fastlane: FastLaneSettings
    webhooks: WebhookSettings | None
    """None without ``[webhooks]``: no listener for Meta's deliveries."""
    compliance: ComplianceSettings
    cluster: ClusterSettings | None
    """None without ``[cluster]``: a one-server archive (``archiver daemon``)."""
    warnings: tuple[str, ...] = ()

    def site(self, site_id: str) -> SiteConfig:
        for s in self.sites:
            if s.id == site_id:
                return s
        known = ", ".join(s.id for s in self.sites) or "none"
        raise ConfigError(
            f"no site with id {site_id!r}",
            file=str(self.path),
            key="sites",
            hint=f"known sites: {known}",
        )

    @property
    def staging_dir(self) -> Path:
        return self.root / "staging"

    @property
    def bundles_dir(self) -> Path:
        return self.root / "bundles"

    @property
    def audit_anchor(self) -> Path:
        """The audit log's head, kept outside the database so truncation is detectable."""
        return self.root / "audit-head.json"


def _suggest(word: str, options: set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(options), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "allowed keys: " + ", ".join(sorted(options))


class _Collector:
    """Gathers every problem so ``config check`` can report them all."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigError] = []
        self.warnings: list[str] = []

    def error(self, message: str, key: str, hint: str | None = None) -> None:
        self.errors.append(ConfigError(message, file=self.file, key=key, hint=hint))

    def unknown_keys(self, table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for k in table:
            if k not in allowed:
                self.error("unknown key", f"{prefix}{k}", _suggest(k, allowed))


def _text(
    c: _Collector, table: Mapping[str, Any], name: str, prefix: str, *, required: bool
) -> str:
    value = table.get(name)
    if value is None:
        if required:
            c.error("is required but missing", f"{prefix}{name}")
        return ""
    if not isinstance(value, str) or not value.strip():
        c.error("must be a non-empty string", f"{prefix}{name}")
        return ""
    return value.strip()


def _administrators(c: _Collector, value: Any, prefix: str) -> tuple[Administrator, ...]:
    key = f"{prefix}administrators"
    if value is None:
        return ()
    if not isinstance(value, list):
        c.error("must be a list", key, 'e.g. administrators = [{name = "Ann Lee", role = "IT"}]')
        return ()
    out: list[Administrator] = []
    for i, entry in enumerate(value):
        if isinstance(entry, str) and entry.strip():
            m = re.match(r"^(.*?)\s*\((.*)\)\s*$", entry)
            name, role = (m.group(1), m.group(2)) if m else (entry.strip(), "")
            out.append(Administrator(name=name, role=role))
        elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            out.append(
                Administrator(
                    name=str(entry["name"]),
                    role=str(entry.get("role", "")),
                    department=str(entry.get("department", "")),
                )
            )
        else:
            c.error(
                "each administrator needs a name",
                f"{key}[{i}]",
                'write {name = "...", role = "..."} or "Name (Role)"',
            )
    return tuple(out)


def _site(c: _Collector, table: Any, index: int, platforms: set[str] | None) -> SiteConfig | None:
    prefix = f"sites[{index}]."
    if not isinstance(table, Mapping):
        c.error("must be a table ([[sites]])", f"sites[{index}]")
        return None
    c.unknown_keys(table, SITE_KEYS, prefix)
    site_id = _text(c, table, "id", prefix, required=True)
    if site_id and not _ID_RE.match(site_id):
        c.error(
            f"{site_id!r} is not a valid id",
            f"{prefix}id",
            "use lower-case letters, digits, '-' or '_' (e.g. bozeman-mastodon)",
        )
    platform = _text(c, table, "platform", prefix, required=True)
    if platform and platforms is not None and platform not in platforms:
        c.error(
            f"unknown platform {platform!r}",
            f"{prefix}platform",
            "supported: " + ", ".join(sorted(platforms)),
        )
    base_url = _text(c, table, "base_url", prefix, required=True)
    if base_url:
        parsed = urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            c.error(
                f"{base_url!r} is not an http(s) URL",
                f"{prefix}base_url",
                "e.g. https://mastodon.social or http://127.0.0.1:8080",
            )
    account = _text(c, table, "account", prefix, required=True)
    department = _text(c, table, "department", prefix, required=True)
    admins = _administrators(c, table.get("administrators"), prefix)
    if not any(a.is_it for a in admins):
        c.warnings.append(
            f"{c.file}: {prefix}administrators: no administrator from the IT Department "
            '(the City\'s policy requires one); add e.g. {name = "...", role = "IT"}'
        )
    token_env = table.get("token_env")
    if token_env is not None and (
        not isinstance(token_env, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", token_env)
    ):
        c.error(
            "must be the NAME of an environment variable (the token itself never goes here)",
            f"{prefix}token_env",
            'e.g. token_env = "BOZEMAN_MASTODON_TOKEN"',
        )
        token_env = None
    cron = _cron(c, table, prefix)
    if "interval" in table and "cron" in table:
        c.error(
            "interval and cron are mutually exclusive",
            f"{prefix}cron",
            'keep one: interval = "2h" (every two hours from start-up) or '
            'cron = "0 */2 * * *" (at fixed times); delete the other',
        )
    interval = _duration(c, table, prefix, "interval", "1h")
    full_sweep = _duration(c, table, prefix, "full_sweep_every", "1d")
    recheck = table.get("recheck_recent", 40)
    if not isinstance(recheck, int) or isinstance(recheck, bool) or recheck < 0:
        c.error("must be a whole number ≥ 0", f"{prefix}recheck_recent")
        recheck = 40
    checkpoint = _duration(c, table, prefix, "follower_checkpoint_every", "7d")
    ceiling = _duration(c, table, prefix, "thread_poll_ceiling", "7d", off=True)
    followers_every = _duration(c, table, prefix, "followers_every", "0", off=True)
    walk_every = _duration(c, table, prefix, "follower_walk_every", "1d", off=True)
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        c.error("must be true or false", f"{prefix}enabled")
        enabled = True
    options = table.get("options", {})
    if not isinstance(options, Mapping):
        c.error("must be a table", f"{prefix}options")
        options = {}
    retention = table.get("retention", {})
    if not isinstance(retention, Mapping):
        c.error("must be a table", f"{prefix}retention")
        retention = {}
    token_expires = table.get("token_expires")
    if token_expires is not None:
        token_expires = str(token_expires)
    return SiteConfig(
        id=site_id,
        platform=platform,
        base_url=base_url.rstrip("/"),
        account=account,
        department=department,
        administrators=admins,
        token_env=token_env if isinstance(token_env, str) else None,
        interval_seconds=interval,
        full_sweep_seconds=full_sweep,
        recheck_recent=recheck,
        enabled=enabled,
        options=dict(options),
        retention=dict(retention),
        token_expires=token_expires,
        cron=cron,
        follower_checkpoint_seconds=checkpoint,
        thread_poll_ceiling_seconds=ceiling,
        followers_seconds=followers_every,
        follower_walk_seconds=walk_every,
    )


def _cron(c: _Collector, table: Mapping[str, Any], prefix: str) -> str | None:
    """A site's optional ``cron`` line, checked now so a typo never reaches the daemon."""
    value = table.get("cron")
    if value is None:
        return None
    hint = 'five fields "minute hour day month weekday", e.g. cron = "0 */2 * * *"'
    if not isinstance(value, str) or not value.strip():
        c.error("must be a crontab string", f"{prefix}cron", hint)
        return None
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except (ValueError, TypeError) as exc:
        c.error(f"{value!r} is not a crontab schedule ({exc})", f"{prefix}cron", hint)
        return None
    return " ".join(value.split())


def resolve_path(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("ARCHIVER_CONFIG")
    return Path(env) if env else Path(DEFAULT_CONFIG)


def _decode(raw: bytes, path: Path) -> str:
    """UTF-8 text (a leading byte-order mark from Notepad is allowed), else one clear line.

    A Windows-1252 apostrophe or dash pasted from a word processor is the usual culprit; the
    error names the byte, its offset and its line so the clerk can find and retype it.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} "
            f"(line {line}, column {column})",
            file=str(path),
            hint="retype that character or save the file as UTF-8 (a curly apostrophe or dash "
            "pasted from a word processor is the usual cause)",
        ) from None


def _read(path: Path) -> dict[str, Any]:
    try:
        text = _decode(path.read_bytes(), path)
    except FileNotFoundError:
        raise ConfigError(
            "config file not found",
            file=str(path),
            hint="pass --config PATH, set ARCHIVER_CONFIG, or create ./archiver.toml",
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            "is a folder, not a config file",
            file=str(path),
            hint="pass the archiver.toml inside it",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", file=str(path)) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from exc


def _check_root(c: _Collector, root: Path) -> None:
    """The archive root must be a folder, or creatable as one by this user."""
    key = "archive.root"
    hint = "set [archive] root to a folder (it is created if missing)"
    if root.exists():
        if not root.is_dir():
            c.error(f"the archive root {root} is a file, not a folder", key, hint)
        elif not os.access(root, os.W_OK | os.X_OK):
            c.warnings.append(
                f"{c.file}: {key}: the archive root {root} is not writable by this user "
                "(fine if the service runs as another user, e.g. archiver)"
            )
        return
    parent = root.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        c.error(f"the archive root {root} cannot be created: {parent} is a file", key, hint)
    elif not os.access(parent, os.W_OK | os.X_OK):
        c.warnings.append(
            f"{c.file}: {key}: the archive root {root} does not exist and this user cannot "
            f"create it in {parent} (fine if the service's tmpfiles.d entry creates it)"
        )


def _check_tokens(c: _Collector, sites: list[SiteConfig]) -> None:
    """A token variable nobody set is a harvest that will fail; say so now, per site."""
    for site in sites:
        if site.token_env and read_secret(site.token_env, purpose="", required=False) is None:
            c.warnings.append(
                f"{c.file}: site {site.id}: token_env {site.token_env} is not set here "
                f"(no environment variable and no systemd credential {site.token_env}); "
                "harvests of this site will fail until it is"
            )


_T = TypeVar("_T")


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    return value if isinstance(value, Mapping) else {}


def _duration(
    c: _Collector,
    table: Mapping[str, Any],
    prefix: str,
    key: str,
    default: str,
    *,
    off: bool = False,
) -> int:
    """``table[key]`` in seconds, ``default`` when it is absent; with ``off``, 0 (or "0")
    turns the feature off. A bad value is collected as an error (every problem of the file is
    reported at once) and the default stands in, so checking can go on."""
    raw = table.get(key, default)
    if off and raw in (0, "0"):
        return 0
    try:
        return parse_duration(raw, file=c.file, key=f"{prefix}{key}")
    except ConfigError as exc:
        c.errors.append(exc)
        return 0 if default == "0" else parse_duration(default, file=c.file, key=key)


class _Sections:
    """Builds each feature section once, collecting its problem instead of stopping.

    A section whose keys already failed (unknown key, bad enumeration) is not built: its one
    line is already reported, and a second about the same table would only repeat it.
    """

    def __init__(
        self, c: _Collector, data: Mapping[str, Any], key_errors: list[ConfigError]
    ) -> None:
        self.c = c
        self.data = data
        self.skip = {e.key.split(".")[0] for e in key_errors if e.key}

    def build(self, name: str, build: Callable[[Mapping[str, Any]], _T]) -> _T:
        raw = _table(self.data, name)
        if name in self.skip:
            raw = {}  # the defaults stand in; the config is refused anyway
        try:
            return build(raw)
        except ConfigError as exc:
            if str(exc) not in {str(e) for e in self.c.errors}:
                self.c.errors.append(exc)
            return build({})


def check_config(
    path: Path,
    *,
    platforms: set[str] | None = None,
    options: Callable[[str, str, Mapping[str, Any]], list[str]] | None = None,
    deep: Callable[[Config], list[ConfigError]] | None = None,
) -> tuple[Config | None, list[ConfigError], list[str]]:
    """Validate everything; return the config (if usable), all errors and all warnings.

    ``options(platform, site_id, table)`` names what is wrong with a site's ``options`` (the
    connector's typed Options decide; this module does not know the connectors).
    Every section is built into its typed settings and checked here, for every command.
    ``deep`` also runs the checks that need more than the file (the retention mapping against
    the schedule files, a worker's slots) and checks that token variables are set: ``config
    check`` asks for it.
    """
    data = _read(path)
    file = str(path)
    c = _Collector(file)
    for k in data:
        if k not in KNOWN_SECTIONS:
            c.error("unknown section", k, _suggest(k, KNOWN_SECTIONS))
    key_errors = key_problems(data, file=file)
    c.errors.extend(key_errors)
    archive = data.get("archive")
    if not isinstance(archive, Mapping):
        c.error("is required", "archive", 'add [archive] with root = "/var/lib/archiver"')
        archive = {}
    c.unknown_keys(archive, ARCHIVE_KEYS, "archive.")
    root_text = _text(c, archive, "root", "archive.", required=True)
    root = Path(root_text) if root_text else Path(".")
    if root_text and not root.is_absolute():
        root = (path.parent / root).resolve()
    if root_text:
        _check_root(c, root)
    tz = archive.get("timezone", "America/Denver")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        c.error(f"unknown time zone {tz!r}", "archive.timezone", 'e.g. "America/Denver"')
        tz = "America/Denver"
    city = str(archive.get("city", "City of Bozeman"))
    catalog_url = archive.get("catalog_url")
    if catalog_url is None:
        catalog_url = f"sqlite:///{root / 'catalog.sqlite'}"
    elif not isinstance(catalog_url, str) or not re.match(
        r"^(sqlite|postgresql(\+psycopg)?)://", catalog_url
    ):
        c.error(
            "must be an sqlite:/// or postgresql+psycopg:// URL",
            "archive.catalog_url",
            "leave it out to use the embedded SQLite catalog under the archive root",
        )
        catalog_url = f"sqlite:///{root / 'catalog.sqlite'}"
    http_raw = data.get("http", {})
    http = HttpSettings()
    if isinstance(http_raw, Mapping):
        c.unknown_keys(http_raw, HTTP_KEYS, "http.")
        try:
            http = HttpSettings(
                timeout=float(http_raw.get("timeout", http.timeout)),
                max_attempts=int(http_raw.get("max_attempts", http.max_attempts)),
                max_retry_wait=float(http_raw.get("max_retry_wait", http.max_retry_wait)),
                user_agent=str(http_raw.get("user_agent", http.user_agent)),
                media_max_bytes=int(http_raw.get("media_max_bytes", http.media_max_bytes)),
                max_body_bytes=int(http_raw.get("max_body_bytes", http.max_body_bytes)),
                request_budget=float(http_raw.get("request_budget", http.request_budget)),
                run_budget=float(http_raw.get("run_budget", http.run_budget)),
            )
        except (TypeError, ValueError) as exc:
            c.error(f"bad value: {exc}", "http", "timeouts and limits must be numbers")
        for key in ("timeout", "max_body_bytes", "request_budget", "run_budget"):
            if getattr(http, key) <= 0:
                c.error(
                    f"must be greater than 0, not {getattr(http, key)!r}",
                    f"http.{key}",
                    "leave it out for the default",
                )
    sites_raw = data.get("sites", [])
    sites: list[SiteConfig] = []
    if not isinstance(sites_raw, list):
        c.error("must be an array of tables", "sites", "write each site as [[sites]]")
        sites_raw = []
    seen: set[str] = set()
    for i, table in enumerate(sites_raw):
        site = _site(c, table, i, platforms)
        if site is None:
            continue
        if site.id and site.id in seen:
            c.error(
                f"duplicate site id {site.id!r}", f"sites[{i}].id", "every site id must be unique"
            )
        seen.add(site.id)
        sites.append(site)
        for problem in options(site.platform, site.id, site.options) if options else ():
            c.error(problem, f"sites[{i}].options")
    if not sites_raw:
        c.warnings.append(f"{file}: sites: no [[sites]] configured; nothing will be harvested")
    if deep is not None:
        _check_tokens(c, sites)
    sections = _Sections(c, data, key_errors)
    zone = str(tz)
    report = sections.build("report", lambda r: report_from(r, file=file, timezone=zone))
    site_ids = [site.id for site in sites]
    compliance_raw = {} if "compliance" in sections.skip else _table(data, "compliance")
    compliance, compliance_errors = compliance_from(compliance_raw, file=file, site_ids=site_ids)
    c.errors.extend(compliance_errors)
    cfg = Config(
        path=path,
        root=root,
        catalog_url=catalog_url,
        timezone=str(tz),
        city=city,
        http=http,
        sites=tuple(sites),
        storage=sections.build("storage", lambda r: storage_from(r, file=file, root=root)),
        retention=sections.build(
            "retention", lambda r: retention_from(r, file=file, config_dir=path.parent)
        ),
        daemon=sections.build("daemon", lambda r: daemon_from(r, file=file, timezone=zone)),
        report=report,
        smtp=sections.build("smtp", lambda r: smtp_from(r, file=file, report=report)),
        integrity=sections.build("integrity", lambda r: integrity_from(r, file=file)),
        requests=sections.build("requests", lambda r: requests_from(r, file=file)),
        fastlane=sections.build("fastlane", lambda r: fastlane_from(r, file=file)),
        webhooks=sections.build("webhooks", lambda r: webhooks_from(r, file=file)),
        compliance=compliance,
        cluster=sections.build("cluster", lambda r: cluster_from(r, file=file)),
        warnings=tuple(c.warnings),
    )
    if deep is not None and not c.errors:
        c.errors.extend(deep(cfg))
    return (cfg if not c.errors else None), c.errors, c.warnings


def load_config(
    path: str | os.PathLike[str] | None = None, *, platforms: set[str] | None = None
) -> Config:
    """Load the config or raise the first problem (``config check`` shows all of them)."""
    resolved = resolve_path(path)
    cfg, errors, _warnings = check_config(resolved, platforms=platforms)
    if errors:
        first = errors[0]
        more = (
            f" (and {len(errors) - 1} more problem(s): run `archiver config check`)"
            if len(errors) > 1
            else ""
        )
        raise ConfigError(str(first) + more)
    assert cfg is not None
    return cfg
