"""A stateful fake Mastodon instance that answers the read API the harvester uses.

Field names, id shapes, pagination and error bodies follow Mastodon 4.x (documentation repo
at 2903485, samples in shared/platforms/samples/mastodon_*.json) so a harvester written
against this fake works against a real instance. Tests mutate the world while the server is
running (edit, delete, unfollow between two harvests), so every public method and ``handle``
take one lock.
"""

from __future__ import annotations

import bisect
import hashlib
import html
import re
import struct
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fakeplatforms.server import FakeResponse, header, iso_ms, iso_us, json_response

__all__ = ["DEFAULT_CLOCK_START", "MastodonWorld", "png_bytes"]

DEFAULT_CLOCK_START = datetime(2026, 11, 20, 18, 0, 0, tzinfo=UTC)
STATUSES_LIMIT = 20  # Mastodon's defaults; the maximum is twice the default
ACCOUNTS_LIMIT = 40
CONTEXT_LIMITS_ANON = (40, 60)  # ancestors, descendants for unauthenticated callers
CONTEXT_LIMITS_AUTH = (4096, 4096)
NOT_FOUND = {"error": "Record not found"}
INVALID_TOKEN = {"error": "The access token is invalid"}


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid solid-colour PNG, so harvested media are real images that tools can open."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    raw = row * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _snowflake(dt: datetime, seq: int) -> int:
    """Mastodon ids are (milliseconds since epoch << 16) | 16 low bits, so they sort by time."""
    ms = int(dt.timestamp() * 1000)
    return (ms << 16) | ((seq * 40503 + 7919) & 0xFFFF)


def _id_path(n: int) -> str:
    """Mastodon's paperclip layout splits the id into 3-digit folders: 113/270/115/..."""
    s = str(n)
    s = s.zfill((len(s) + 2) // 3 * 3)
    return "/".join(s[i : i + 3] for i in range(0, len(s), 3))


def _hex16(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:16]


_TOKEN_RE = re.compile(r"(https?://[^\s<]+[^\s<.,;:!?)\]'\"])|(?<![\w/])#(\w+)|(?<![\w/])@(\w+)")


@dataclass
class _Media:
    id: int
    description: str | None
    width: int
    height: int
    rgb: tuple[int, int, int]
    blurhash: str
    key: str


@dataclass
class _Version:
    text: str
    content: str
    created_at: datetime
    media_ids: list[int]


@dataclass
class _Account:
    id: int
    username: str
    display_name: str
    note: str
    locked: bool
    bot: bool
    created_at: datetime
    avatar_key: str
    header_key: str
    fields: list[dict[str, Any]]
    followers_count: int = 0
    following_count: int = 0
    statuses_count: int = 0
    last_status_at: datetime | None = None
    status_ids: list[int] = field(default_factory=list)  # ascending


@dataclass
class _Status:
    id: int
    account_id: int
    created_at: datetime
    text: str
    content: str
    visibility: str
    language: str
    in_reply_to_id: int | None
    in_reply_to_account_id: int | None
    media: list[_Media]
    mention_ids: list[int]
    tags: list[str]
    favourites_count: int = 0
    reblogs_count: int = 0
    edited_at: datetime | None = None
    versions: list[_Version] = field(default_factory=list)
    reply_ids: list[int] = field(default_factory=list)  # ascending, includes deleted ones
    deleted: bool = False
    unserved_replies: int = 0  # counted in replies_count, never served (see inflate_replies)


@dataclass
class _Follow:
    id: int
    target_id: int
    follower_id: int
    created_at: datetime
    active: bool = True


class MastodonWorld:
    """One fake instance: accounts, statuses, follows, media files. Implements ``FakeApp``."""

    def __init__(
        self,
        *,
        domain: str = "mastodon.example",
        required_token: str | None = None,
        clock_start: datetime | None = None,
        rate_limit: int = 300,
        rate_limit_window: float = 300.0,
    ) -> None:
        self.domain = domain
        self.required_token = required_token
        self.rate_limit = rate_limit
        self.rate_limit_window = rate_limit_window
        self._lock = threading.RLock()
        self._clock = (clock_start or DEFAULT_CLOCK_START).astimezone(UTC)
        self._seq = 0
        self._accounts: dict[int, _Account] = {}
        self._by_username: dict[str, int] = {}
        self._statuses: dict[int, _Status] = {}
        self._follows: list[_Follow] = []  # ascending by id
        self._follow_index: dict[tuple[int, int], _Follow] = {}
        self._files: dict[str, tuple[int, int, tuple[int, int, int]]] = {}
        self._window_index = -1
        self._window_count = 0
        # Lower it in tests to get several pages of statuses/followers from few objects (the
        # connector asks for Mastodon's maximum; a real instance may be configured lower).
        self.page_cap: int | None = None

    # -- clock and ids -------------------------------------------------------------------
    def now(self) -> datetime:
        """Simulated time: advances one minute per call so new objects sort after old ones."""
        with self._lock:
            self._clock += timedelta(minutes=1)
            return self._clock

    def _new_id(self, dt: datetime, taken: Mapping[int, object]) -> int:
        while True:
            self._seq += 1
            n = _snowflake(dt, self._seq)
            if n not in taken:
                return n

    def _rgb(self, key: str) -> tuple[int, int, int]:
        d = hashlib.sha1(key.encode()).digest()
        return (d[0], d[1], d[2])

    # -- mutation API --------------------------------------------------------------------
    def add_account(
        self,
        username: str,
        display_name: str,
        *,
        note: str = "",
        locked: bool = False,
        bot: bool = False,
        created_at: datetime | None = None,
        fields: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            if username.lower() in self._by_username:
                raise ValueError(f"account {username!r} already exists")
            when = (created_at or self.now()).astimezone(UTC)
            aid = self._new_id(when, self._accounts)
            avatar_key = f"/system/accounts/avatars/{_id_path(aid)}/original/{_hex16('a', aid)}.png"
            header_key = f"/system/accounts/headers/{_id_path(aid)}/original/{_hex16('h', aid)}.png"
            self._files[avatar_key] = (48, 48, self._rgb(avatar_key))
            self._files[header_key] = (150, 50, self._rgb(header_key))
            rendered_fields = [
                {"name": name, "value": self._render_text(value, []), "verified_at": None}
                for name, value in (fields or [])
            ]
            acc = _Account(
                id=aid,
                username=username,
                display_name=display_name,
                note=self._render_text(note, []) if note else "",
                locked=locked,
                bot=bot,
                created_at=when,
                avatar_key=avatar_key,
                header_key=header_key,
                fields=rendered_fields,
            )
            self._accounts[aid] = acc
            self._by_username[username.lower()] = aid
            return self._account_json(acc, self._default_base)

    def update_profile(
        self,
        account_id: str,
        *,
        display_name: str | None = None,
        note: str | None = None,
        new_avatar: bool = False,
        new_header: bool = False,
    ) -> None:
        """What an owner (or a vandal) does in the profile settings: new avatar files get new
        URLs, as on a real instance."""
        with self._lock:
            acc = self._accounts[int(account_id)]
            if display_name is not None:
                acc.display_name = display_name
            if note is not None:
                acc.note = self._render_text(note, []) if note else ""
            self._seq += 1
            for wanted, attr, kind in (
                (new_avatar, "avatar_key", "avatars"),
                (new_header, "header_key", "headers"),
            ):
                if wanted:
                    key = f"/system/accounts/{kind}/{_id_path(acc.id)}/original/{_hex16(kind, acc.id, self._seq)}.png"
                    self._files[key] = (48, 48, self._rgb(key))
                    setattr(acc, attr, key)

    def post_status(
        self,
        account_id: str,
        text: str,
        *,
        in_reply_to_id: str | None = None,
        media: list[dict[str, Any]] | None = None,
        created_at: datetime | None = None,
        visibility: str = "public",
        language: str = "en",
        favourites_count: int = 0,
        reblogs_count: int = 0,
    ) -> dict[str, Any]:
        """``media`` items may carry ``description``, ``width``, ``height`` and ``blurhash``."""
        if visibility not in ("public", "unlisted", "private", "direct"):
            raise ValueError(f"bad visibility {visibility!r}")
        with self._lock:
            acc = self._account(account_id)
            parent: _Status | None = None
            if in_reply_to_id is not None:
                parent = self._statuses.get(int(in_reply_to_id))
                if parent is None or parent.deleted:
                    raise KeyError(f"status {in_reply_to_id} does not exist")
            when = (created_at or self.now()).astimezone(UTC)
            sid = self._new_id(when, self._statuses)
            atts: list[_Media] = []
            for i, m in enumerate(media or []):
                mid = self._new_id(when, {})
                key = _hex16("m", sid, i)
                width, height = int(m.get("width", 64)), int(m.get("height", 48))
                rgb = self._rgb(key)
                att = _Media(
                    id=mid,
                    description=m.get("description"),
                    width=width,
                    height=height,
                    rgb=rgb,
                    blurhash=str(m.get("blurhash", "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH")),
                    key=key,
                )
                base = f"/system/media_attachments/files/{_id_path(mid)}"
                self._files[f"{base}/original/{key}.png"] = (width, height, rgb)
                small = (max(1, width // 2), max(1, height // 2), rgb)
                self._files[f"{base}/small/{key}.png"] = small
                atts.append(att)
            mention_ids = self._mentions(text)
            content = self._render_text(text, mention_ids)
            st = _Status(
                id=sid,
                account_id=acc.id,
                created_at=when,
                text=text,
                content=content,
                visibility=visibility,
                language=language,
                in_reply_to_id=parent.id if parent else None,
                in_reply_to_account_id=parent.account_id if parent else None,
                media=atts,
                mention_ids=mention_ids,
                tags=sorted({t.lower() for t in re.findall(r"(?<![\w/])#(\w+)", text)}),
                favourites_count=favourites_count,
                reblogs_count=reblogs_count,
            )
            st.versions.append(_Version(text, content, when, [a.id for a in atts]))
            self._statuses[sid] = st
            _insort(acc.status_ids, sid)
            if parent is not None:
                _insort(parent.reply_ids, sid)
            if visibility != "direct":
                acc.statuses_count += 1
            if acc.last_status_at is None or when > acc.last_status_at:
                acc.last_status_at = when
            return self._status_json(st, self._default_base)

    def edit_status(
        self, status_id: str, new_text: str, *, edited_at: datetime | None = None
    ) -> dict[str, Any]:
        with self._lock:
            st = self._live_status(status_id)
            when = (edited_at or self.now()).astimezone(UTC)
            last = st.versions[-1].created_at
            if when <= last:
                when = last + timedelta(seconds=1)
            st.mention_ids = self._mentions(new_text)
            st.text = new_text
            st.content = self._render_text(new_text, st.mention_ids)
            st.tags = sorted({t.lower() for t in re.findall(r"(?<![\w/])#(\w+)", new_text)})
            st.edited_at = when
            st.versions.append(_Version(new_text, st.content, when, [a.id for a in st.media]))
            return self._status_json(st, self._default_base)

    def inflate_replies(self, status_id: str, extra: int) -> None:
        """Report ``extra`` more replies than the context serves, as a real instance does for
        replies it counts but will not show (remote, limited, or from suspended accounts)."""
        with self._lock:
            self._statuses[int(status_id)].unserved_replies += extra

    def delete_status(self, status_id: str) -> None:
        with self._lock:
            st = self._live_status(status_id)
            st.deleted = True
            acc = self._accounts[st.account_id]
            if st.visibility != "direct":
                acc.statuses_count -= 1

    def follow(
        self, target_account_id: str, follower_account_id: str, *, at: datetime | None = None
    ) -> None:
        with self._lock:
            target = self._account(target_account_id)
            follower = self._account(follower_account_id)
            key = (target.id, follower.id)
            existing = self._follow_index.get(key)
            if existing is not None and existing.active:
                return
            when = (at or self.now()).astimezone(UTC)
            fid = (self._follows[-1].id + 1) if self._follows else 1_000_001
            f = _Follow(fid, target.id, follower.id, when)
            self._follows.append(f)
            self._follow_index[key] = f
            target.followers_count += 1
            follower.following_count += 1

    def unfollow(self, target_account_id: str, follower_account_id: str) -> None:
        with self._lock:
            target = self._account(target_account_id)
            follower = self._account(follower_account_id)
            f = self._follow_index.pop((target.id, follower.id), None)
            if f is None or not f.active:
                return
            f.active = False
            target.followers_count -= 1
            follower.following_count -= 1

    # -- read helpers for tests ----------------------------------------------------------
    def account_id(self, username: str) -> str:
        with self._lock:
            return str(self._by_username[username.lower()])

    def username_of(self, account_id: str) -> str:
        with self._lock:
            return self._account(account_id).username

    def status_text(self, status_id: str) -> str:
        """The plain-text source of the current version (what ``/source`` would return)."""
        with self._lock:
            return self._live_status(status_id).text

    def status_ids(self, account_id: str, *, include_deleted: bool = False) -> list[str]:
        """Every status id of an account, newest first (what a full harvest must find)."""
        with self._lock:
            acc = self._account(account_id)
            return [
                str(s)
                for s in reversed(acc.status_ids)
                if include_deleted or not self._statuses[s].deleted
            ]

    def follower_ids(self, account_id: str) -> list[str]:
        """Follower account ids, newest follow first."""
        with self._lock:
            acc = self._account(account_id)
            return [
                str(f.follower_id)
                for f in reversed(self._follows)
                if f.active and f.target_id == acc.id
            ]

    # -- internals: lookup ---------------------------------------------------------------
    @property
    def _default_base(self) -> str:
        return f"https://{self.domain}"

    def _account(self, account_id: str) -> _Account:
        try:
            return self._accounts[int(account_id)]
        except (KeyError, ValueError):
            raise KeyError(f"account {account_id} does not exist") from None

    def _live_status(self, status_id: str) -> _Status:
        try:
            st = self._statuses[int(status_id)]
        except (KeyError, ValueError):
            raise KeyError(f"status {status_id} does not exist") from None
        if st.deleted:
            raise KeyError(f"status {status_id} was deleted")
        return st

    def _mentions(self, text: str) -> list[int]:
        out: list[int] = []
        for name in re.findall(r"(?<![\w/])@(\w+)", text):
            aid = self._by_username.get(name.lower())
            if aid is not None and aid not in out:
                out.append(aid)
        return out

    # -- internals: rendering ------------------------------------------------------------
    def _render_text(self, text: str, mention_ids: list[int]) -> str:
        """Plain text to the sanitised HTML Mastodon stores: <p> per paragraph, <br /> per line,
        linked URLs, hashtags and known mentions."""
        known = {self._accounts[a].username.lower() for a in mention_ids}

        def line(s: str) -> str:
            out: list[str] = []
            pos = 0
            for m in _TOKEN_RE.finditer(s):
                out.append(html.escape(s[pos : m.start()], quote=False))
                pos = m.end()
                url, tag, mention = m.group(1), m.group(2), m.group(3)
                if url:
                    scheme, _, rest = url.partition("://")
                    shown, hidden = rest[:30], rest[30:]
                    out.append(
                        f'<a href="{html.escape(url)}" target="_blank" '
                        'rel="nofollow noopener noreferrer" translate="no">'
                        f'<span class="invisible">{scheme}://</span>'
                        f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                        f'<span class="invisible">{html.escape(hidden)}</span></a>'
                    )
                elif tag:
                    out.append(
                        f'<a href="https://{self.domain}/tags/{tag.lower()}" '
                        f'class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>'
                    )
                elif mention and mention.lower() in known:
                    out.append(
                        f'<span class="h-card" translate="no"><a href="https://{self.domain}'
                        f'/@{mention}" class="u-url mention">@<span>{mention}</span></a></span>'
                    )
                else:
                    out.append(html.escape(m.group(0), quote=False))
            out.append(html.escape(s[pos:], quote=False))
            return "".join(out)

        paras = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
        return "".join(
            "<p>" + "<br />".join(line(x) for x in p.split("\n")) + "</p>" for p in paras
        )

    def _account_json(self, acc: _Account, base: str) -> dict[str, Any]:
        avatar = base + acc.avatar_key
        hdr = base + acc.header_key
        return {
            "id": str(acc.id),
            "username": acc.username,
            "acct": acc.username,
            "display_name": acc.display_name,
            "locked": acc.locked,
            "bot": acc.bot,
            "discoverable": not acc.locked,
            "indexable": not acc.locked,
            "group": False,
            "created_at": iso_ms(acc.created_at.replace(hour=0, minute=0, second=0, microsecond=0)),
            "note": acc.note,
            "url": f"https://{self.domain}/@{acc.username}",
            "uri": f"https://{self.domain}/users/{acc.username}",
            "avatar": avatar,
            "avatar_static": avatar,
            "header": hdr,
            "header_static": hdr,
            "followers_count": acc.followers_count,
            "following_count": acc.following_count,
            "statuses_count": acc.statuses_count,
            "last_status_at": acc.last_status_at.date().isoformat() if acc.last_status_at else None,
            "hide_collections": None,
            "noindex": False,
            "emojis": [],
            "roles": [],
            "fields": [dict(f) for f in acc.fields],
        }

    def _media_json(self, m: _Media, base: str) -> dict[str, Any]:
        root = f"{base}/system/media_attachments/files/{_id_path(m.id)}"
        sw, sh = max(1, m.width // 2), max(1, m.height // 2)
        return {
            "id": str(m.id),
            "type": "image",
            "url": f"{root}/original/{m.key}.png",
            "preview_url": f"{root}/small/{m.key}.png",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {
                "original": {
                    "width": m.width,
                    "height": m.height,
                    "size": f"{m.width}x{m.height}",
                    "aspect": round(m.width / m.height, 6),
                },
                "small": {
                    "width": sw,
                    "height": sh,
                    "size": f"{sw}x{sh}",
                    "aspect": round(sw / sh, 6),
                },
            },
            "description": m.description,
            "blurhash": m.blurhash,
        }

    def _status_json(self, st: _Status, base: str) -> dict[str, Any]:
        acc = self._accounts[st.account_id]
        replies = sum(
            1
            for r in st.reply_ids
            if not self._statuses[r].deleted and self._statuses[r].visibility != "direct"
        )
        return {
            "id": str(st.id),
            "created_at": iso_ms(st.created_at),
            "in_reply_to_id": str(st.in_reply_to_id) if st.in_reply_to_id else None,
            "in_reply_to_account_id": (
                str(st.in_reply_to_account_id) if st.in_reply_to_account_id else None
            ),
            "sensitive": False,
            "spoiler_text": "",
            "visibility": st.visibility,
            "language": st.language,
            "uri": f"https://{self.domain}/users/{acc.username}/statuses/{st.id}",
            "url": f"https://{self.domain}/@{acc.username}/{st.id}",
            "replies_count": replies + st.unserved_replies,
            "reblogs_count": st.reblogs_count,
            "favourites_count": st.favourites_count,
            "quotes_count": 0,
            "edited_at": iso_ms(st.edited_at) if st.edited_at else None,
            "content": st.content,
            "reblog": None,
            "application": {"name": "Web", "website": None},
            "account": self._account_json(acc, base),
            "media_attachments": [self._media_json(m, base) for m in st.media],
            "mentions": [
                {
                    "id": str(a),
                    "username": self._accounts[a].username,
                    "url": f"https://{self.domain}/@{self._accounts[a].username}",
                    "acct": self._accounts[a].username,
                }
                for a in st.mention_ids
            ],
            "tags": [{"name": t, "url": f"https://{self.domain}/tags/{t}"} for t in st.tags],
            "emojis": [],
            "quote": None,
            "card": None,
            "poll": None,
        }

    def _history_json(self, st: _Status, base: str) -> list[dict[str, Any]]:
        acc = self._account_json(self._accounts[st.account_id], base)
        media = {m.id: m for m in st.media}
        return [
            {
                "content": v.content,
                "spoiler_text": "",
                "sensitive": False,
                "created_at": iso_ms(v.created_at),
                "account": acc,
                "poll": None,
                "media_attachments": [
                    self._media_json(media[i], base) for i in v.media_ids if i in media
                ],
                "emojis": [],
            }
            for v in st.versions
        ]

    # -- HTTP ----------------------------------------------------------------------------
    def _rate_headers(self) -> dict[str, str]:
        """Real counters in fixed wall-clock windows, reset at the window boundary as
        Mastodon's Rack::Attack does; reported but never enforced (use
        ``FakeServer.inject(..., "rate_limit_429")`` to test back-off deterministically)."""
        now = time.time()
        index = int(now // self.rate_limit_window)
        if index != self._window_index:
            self._window_index = index
            self._window_count = 0
        self._window_count += 1
        reset = datetime.fromtimestamp((index + 1) * self.rate_limit_window, UTC)
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(self.rate_limit - self._window_count, 0)),
            "X-RateLimit-Reset": iso_us(reset),
        }

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        auth = header(headers, "Authorization") or ""
        return self.required_token is not None and auth == f"Bearer {self.required_token}"

    def _visible(self, st: _Status, authed: bool) -> bool:
        if st.deleted or st.visibility == "direct":
            return False
        return st.visibility in ("public", "unlisted") or authed

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        if method not in ("GET", "HEAD"):
            return None
        with self._lock:
            if path.startswith("/system/"):
                spec = self._files.get(path)
                if spec is None:
                    return None
                w, h, rgb = spec
                return FakeResponse(
                    200,
                    png_bytes(w, h, rgb),
                    {"Content-Type": "image/png", "Cache-Control": "public, max-age=31536000"},
                )
            if not path.startswith("/api/v1/"):
                return None
            rate = self._rate_headers()
            if self.required_token is not None and not self._authorized(headers):
                return json_response(INVALID_TOKEN, 401, rate)
            authed = self._authorized(headers)
            host = header(headers, "Host") or self.domain
            base = f"http://{host}"
            resp = self._route(path, query, base, authed)
            if resp is None:
                return None
            resp.headers.update(rate)
            return resp

    def _route(
        self, path: str, query: dict[str, list[str]], base: str, authed: bool
    ) -> FakeResponse | None:
        parts = path.rstrip("/").split("/")[3:]  # after "", "api", "v1"
        if parts == ["accounts", "lookup"]:
            acct = _q(query, "acct") or ""
            username = acct.lstrip("@").split("@")
            if len(username) > 1 and username[1] not in (self.domain, ""):
                return json_response(NOT_FOUND, 404)
            aid = self._by_username.get(username[0].lower())
            if aid is None:
                return json_response(NOT_FOUND, 404)
            return json_response(self._account_json(self._accounts[aid], base))
        if len(parts) >= 2 and parts[0] == "accounts":
            acc = self._accounts.get(_int(parts[1]) or -1)
            if acc is None:
                return json_response(NOT_FOUND, 404)
            if len(parts) == 2:
                return json_response(self._account_json(acc, base))
            if parts[2:] == ["statuses"]:
                return self._account_statuses(acc, query, base, path, authed)
            if parts[2:] == ["followers"]:
                return self._followers(acc, query, base, path)
            return None
        if len(parts) >= 2 and parts[0] == "statuses":
            sid = _int(parts[1])
            st = self._statuses.get(sid) if sid is not None else None
            if st is None or not self._visible(st, authed):
                return json_response(NOT_FOUND, 404)
            if len(parts) == 2:
                return json_response(self._status_json(st, base))
            if parts[2:] == ["context"]:
                return json_response(self._context(st, base, authed))
            if parts[2:] == ["history"]:
                return json_response(self._history_json(st, base))
            return None
        return None

    def _capped(self, limit: int) -> int:
        return min(limit, self.page_cap) if self.page_cap else limit

    def _account_statuses(
        self, acc: _Account, query: dict[str, list[str]], base: str, path: str, authed: bool
    ) -> FakeResponse:
        limit = self._capped(_limit(query, STATUSES_LIMIT))
        if _bool(query, "pinned"):
            return json_response([])
        exclude_replies = _bool(query, "exclude_replies")
        only_media = _bool(query, "only_media")
        tagged = (_q(query, "tagged") or "").lstrip("#").lower()
        max_id, since_id, min_id = (_int(_q(query, k)) for k in ("max_id", "since_id", "min_id"))

        cands: list[_Status] = []
        # Ids ascend: start below max_id with a bisect so deep pages cost O(page), not O(n).
        end = bisect.bisect_left(acc.status_ids, max_id) if max_id is not None else None
        want = None if min_id is not None else limit
        for sid in reversed(acc.status_ids[:end]):
            if want is not None and len(cands) >= want:
                break
            st = self._statuses[sid]
            if not self._visible(st, authed):
                continue
            if (
                exclude_replies
                and st.in_reply_to_id is not None
                and st.in_reply_to_account_id != st.account_id
            ):
                continue  # Mastodon keeps self-replies (threads) under exclude_replies
            if only_media and not st.media:
                continue
            if tagged and tagged not in st.tags:
                continue
            if max_id is not None and sid >= max_id:
                continue
            if since_id is not None and sid <= since_id:
                continue
            if min_id is not None and sid <= min_id:
                continue
            cands.append(st)
        page = cands[-limit:] if min_id is not None and limit else cands[:limit]
        links: list[str] = []
        if page and len(page) == limit:
            links.append(f'<{_page_url(base, path, query, max_id=page[-1].id)}>; rel="next"')
        if page:
            links.append(f'<{_page_url(base, path, query, min_id=page[0].id)}>; rel="prev"')
        return json_response(
            [self._status_json(s, base) for s in page],
            headers={"Link": ", ".join(links)} if links else None,
        )

    def _followers(
        self, acc: _Account, query: dict[str, list[str]], base: str, path: str
    ) -> FakeResponse:
        limit = self._capped(_limit(query, ACCOUNTS_LIMIT))
        max_id, since_id = _int(_q(query, "max_id")), _int(_q(query, "since_id"))
        page: list[_Follow] = []
        if limit:
            end = (
                bisect.bisect_left(self._follows, max_id, key=lambda f: f.id)
                if max_id is not None
                else len(self._follows)
            )
            for f in reversed(self._follows[:end]):
                if not f.active or f.target_id != acc.id:
                    continue
                if max_id is not None and f.id >= max_id:
                    continue
                if since_id is not None and f.id <= since_id:
                    break  # descending ids: nothing older can qualify
                page.append(f)
                if len(page) == limit:
                    break
        links: list[str] = []
        if page and len(page) == limit:
            links.append(f'<{_page_url(base, path, query, max_id=page[-1].id)}>; rel="next"')
        if page:
            links.append(f'<{_page_url(base, path, query, since_id=page[0].id)}>; rel="prev"')
        return json_response(
            [self._account_json(self._accounts[f.follower_id], base) for f in page],
            headers={"Link": ", ".join(links)} if links else None,
        )

    def _context(self, st: _Status, base: str, authed: bool) -> dict[str, Any]:
        max_anc, max_desc = CONTEXT_LIMITS_AUTH if authed else CONTEXT_LIMITS_ANON
        ancestors: list[_Status] = []
        cur = st
        while cur.in_reply_to_id is not None and len(ancestors) < max_anc:
            parent = self._statuses.get(cur.in_reply_to_id)
            if parent is None or not self._visible(parent, authed):
                break
            ancestors.append(parent)
            cur = parent
        ancestors.reverse()

        descendants: list[_Status] = []
        stack = list(reversed(st.reply_ids))
        while stack and len(descendants) < max_desc:
            child = self._statuses[stack.pop()]
            if not self._visible(child, authed):
                continue  # a deleted reply takes its unreachable sub-thread with it
            descendants.append(child)
            stack.extend(reversed(child.reply_ids))
        return {
            "ancestors": [self._status_json(s, base) for s in ancestors],
            "descendants": [self._status_json(s, base) for s in descendants],
        }


# -- query helpers ---------------------------------------------------------------------
def _insort(ids: list[int], n: int) -> None:
    if not ids or ids[-1] < n:
        ids.append(n)
    else:
        import bisect

        bisect.insort(ids, n)


def _q(query: Mapping[str, list[str]], key: str) -> str | None:
    vals = query.get(key) or query.get(key + "[]")
    return vals[0] if vals else None


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _bool(query: Mapping[str, list[str]], key: str) -> bool:
    return (_q(query, key) or "").lower() in ("1", "true", "t", "on", "yes")


def _limit(query: Mapping[str, list[str]], default: int) -> int:
    """Mastodon's limit_param: absolute value of the integer, capped at twice the default."""
    raw = _q(query, "limit")
    if raw is None:
        return default
    try:
        n = abs(int(raw))
    except ValueError:
        n = 0
    return min(n, default * 2)


def _page_url(base: str, path: str, query: Mapping[str, list[str]], **cursor: int) -> str:
    """Keep the caller's other parameters (limit, exclude_replies, ...) as Mastodon does."""
    kept = [
        (k, v) for k, vs in query.items() if k not in ("max_id", "since_id", "min_id") for v in vs
    ]
    kept.extend((k, str(v)) for k, v in cursor.items())
    return f"{base}{path}?{urlencode(kept)}"
