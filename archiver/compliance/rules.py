"""The rules: each reads the catalog for one site and returns findings; none writes.

A rule answers ``pass``, ``fail`` or ``unknown`` (with the reason it cannot tell), and names
its evidence (catalog item ids, versions, WARC record ids) so a clerk can open the original
bytes. Rules never guess: no profile captured yet means ``unknown``, not ``pass``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from archiver.catalog import schema as s
from archiver.catalog.store import uri_hash
from archiver.compliance.tables import profile_expectations
from archiver.config import Config, SiteConfig
from archiver.settings.compliance import SiteCompliance

PROFILE_COMPARED = ("display_name", "handle", "bio", "website", "avatar_url", "banner_url")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    subject: str
    status: str  # pass | fail | unknown
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


def _ref(row: Any) -> dict[str, Any]:
    return {
        "item_id": row.item_id,
        "version": row.version,
        "captured_at": row.captured_at,
        "bundle_id": row.bundle_id,
        "warc_file": row.warc_file,
        "warc_record_id": row.warc_record_id,
    }


def _versions_query(site_id: str) -> Any:
    i, v = s.items, s.item_versions
    return (
        select(
            i.c.id.label("item_id"),
            i.c.platform_id,
            i.c.kind,
            i.c.parent_id,
            i.c.by_owner,
            i.c.posted_at,
            i.c.permalink,
            i.c.removal_state,
            i.c.disappeared_at,
            v.c.version,
            v.c.text,
            v.c.html,
            v.c.media_json,
            v.c.extra_json,
            v.c.captured_at,
            v.c.bundle_id,
            v.c.warc_file,
            v.c.warc_record_id,
        )
        .select_from(i.join(v, v.c.item_id == i.c.id))
        .where(i.c.site_id == site_id)
    )


def _current(conn: Connection, site_id: str, *where: Any) -> list[Any]:
    i, v = s.items, s.item_versions
    q = _versions_query(site_id).where(v.c.version == i.c.current_version, *where)
    return list(conn.execute(q.order_by(i.c.posted_at, i.c.id)))


def _profile_versions(conn: Connection, site_id: str) -> list[Any]:
    i, v = s.items, s.item_versions
    q = _versions_query(site_id).where(i.c.kind == "profile").order_by(i.c.id, v.c.version)
    return list(conn.execute(q))


def _profile_fields(row: Any) -> dict[str, Any]:
    extra = json.loads(row.extra_json or "{}")
    prof = extra.get("profile")
    return prof if isinstance(prof, dict) else {}


def _media_hashes(conn: Connection, site_id: str, row: Any) -> dict[str, Any]:
    """Avatar and banner: URL plus the SHA-256 of the bytes as archived (payload digest)."""
    out: dict[str, Any] = {}
    p = s.payload_index
    for m in json.loads(row.media_json or "[]"):
        if isinstance(m, dict) and m.get("type") in ("avatar", "banner") and m.get("url"):
            hit = conn.execute(
                select(p.c.payload_digest, p.c.record_id, p.c.bundle_id).where(
                    p.c.site_id == site_id, p.c.uri_hash == uri_hash(str(m["url"]))
                )
            ).first()
            out[str(m["type"])] = {
                "url": m["url"],
                "payload_digest": hit.payload_digest if hit else None,
                "warc_record_id": hit.record_id if hit else None,
                "bundle_id": hit.bundle_id if hit else None,
            }
    return out


def notice_rules(conn: Connection, site: SiteConfig, sc: SiteCompliance) -> Iterator[Finding]:
    """AUP and public-disclosure notices in the profile (bio, link or pinned post)."""
    rows = _profile_versions(conn, site.id)
    if not rows:
        for rule in ("aup_notice", "disclosure_notice"):
            yield Finding(
                rule,
                "",
                "unknown",
                "no profile captured for this site yet (its connector may not record one)",
            )
        return
    last = rows[-1]
    prof = _profile_fields(last)
    where = " ".join(str(prof.get(k) or "") for k in ("bio", "website", "pinned")).lower()
    ev = {"profile": _ref(last)}
    wanted = [sc.aup_text] + ([sc.aup_url] if sc.aup_url else [])
    found = [w for w in wanted if w.lower() in where]
    yield Finding(
        "aup_notice",
        "",
        "pass" if found else "fail",
        f"profile shows {found[0]!r}"
        if found
        else "the profile's bio, link and pinned post contain none of "
        + ", ".join(repr(w) for w in wanted),
        ev,
    )
    ok = sc.disclosure_text.lower() in where
    yield Finding(
        "disclosure_notice",
        "",
        "pass" if ok else "fail",
        f"profile shows {sc.disclosure_text!r}"
        if ok
        else f"the profile's bio, link and pinned post do not contain {sc.disclosure_text!r}",
        ev,
    )


def it_admin_rule(site: SiteConfig) -> Iterator[Finding]:
    admins = [f"{a.name} ({a.role})" for a in site.administrators]
    if site.has_it_admin:
        yield Finding("it_admin", "", "pass", "IT administrator listed", {"admins": admins})
    else:
        yield Finding(
            "it_admin",
            "",
            "fail",
            "no administrator from the IT Department in the site's `administrators`",
            {"admins": admins},
        )


def _city_posts(conn: Connection, site_id: str) -> list[Any]:
    """The City's own top-level posts (its replies are judged by ``reply_rule``)."""
    i = s.items
    return _current(
        conn, site_id, i.c.kind == "post", i.c.by_owner.is_(True), i.c.parent_id.is_(None)
    )


def link_rule(conn: Connection, site: SiteConfig, sc: SiteCompliance) -> Iterator[Finding]:
    """Each City post links to one of the City's domains; an emergency tag relaxes it."""
    if not sc.domains:
        yield Finding(
            "city_domain_link", "", "unknown", "no City domains configured (compliance.domains)"
        )
        return
    for row in _city_posts(conn, site.id):
        body = f"{row.text or ''} {row.html or ''}".lower()
        hit = next((d for d in sc.domains if d in body), None)
        tag = next((t for t in sc.emergency_tags if t in body), None)
        if hit:
            status, msg = "pass", f"links to {hit}"
        elif tag:
            status, msg = "pass", f"no City link, but tagged {tag} (emergency)"
        else:
            status, msg = "fail", "City post without a link to " + ", ".join(sc.domains)
        yield Finding(
            "city_domain_link",
            row.platform_id,
            status,
            msg,
            {"post": _ref(row), "permalink": row.permalink, "text": (row.text or "")[:300]},
        )


def reply_rule(conn: Connection, site: SiteConfig, sc: SiteCompliance) -> Iterator[Finding]:
    """City replies to members of the public, listed for review on non-interactive sites."""
    if sc.interactive:
        return
    i = s.items
    # In the City's own thread a reply is a comment/reply; answering a resident's own post
    # shows up among the City's posts, with a parent.
    rows = _current(
        conn,
        site.id,
        i.c.by_owner.is_(True),
        or_(
            i.c.kind.in_(("comment", "reply")), and_(i.c.kind == "post", i.c.parent_id.is_not(None))
        ),
    )
    # Every parent in one query per 500, not one per reply: without record_class the lookup
    # cannot use the items key, so each one read the whole site's items. The first row for
    # an id is the one the single-id query returned (same index, same order).
    wanted = sorted({row.parent_id for row in rows if row.parent_id})
    parents: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):
        for hit in conn.execute(
            select(i.c.platform_id, i.c.id, i.c.by_owner, i.c.author_handle).where(
                and_(i.c.site_id == site.id, i.c.platform_id.in_(wanted[start : start + 500]))
            )
        ):
            parents.setdefault(hit.platform_id, hit)
    for row in rows:
        parent = parents.get(row.parent_id) if row.parent_id else None
        if parent is not None and parent.by_owner:
            continue  # the City continuing its own thread
        who = (
            parent.author_handle
            if parent is not None
            else f"post {row.parent_id} (not in the City's archive: another account's)"
        )
        yield Finding(
            "reply_review",
            row.platform_id,
            "fail",
            f"City account replied to {who} on a site not approved as interactive",
            {
                "reply": _ref(row),
                "permalink": row.permalink,
                "text": (row.text or "")[:300],
                "parent_item_id": parent.id if parent is not None else None,
            },
        )


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _last_success(conn: Connection, site_id: str) -> datetime | None:
    r = s.runs
    q = select(func.max(r.c.finished_at)).where(
        and_(r.c.site_id == site_id, r.c.status == "succeeded")
    )
    return _when(conn.execute(q).scalar())


def counterpart_rule(
    conn: Connection, cfg: Config, site: SiteConfig, sc: SiteCompliance, now: datetime
) -> Iterator[Finding]:
    """City posts first on the principal website: matched against the department's RSS feed.

    The website copy must be posted no later than the social post; an emergency post (tagged)
    may come first on social media, with the website copy due within ``emergency_grace``. A
    post is "unknown", never "fail", while the feed has not been captured since it was made
    (a website that is down is not the department's fault) or while an emergency post's
    grace period runs.
    """
    feeds = [
        x
        for x in cfg.sites
        if x.platform == "rss" and x.department == site.department and x != site
    ]
    if site.platform == "rss":
        return
    if not feeds:
        yield Finding(
            "principal_counterpart",
            "",
            "unknown",
            "no RSS site of the same department is configured, so the principal website's "
            "content is not known to the archiver",
        )
        return
    feed = feeds[0]
    feed_items = _current(conn, feed.id)
    by_link = {r.permalink.lower(): r for r in feed_items if r.permalink}
    by_title = {(r.text or "").split("\n", 1)[0].strip().lower(): r for r in feed_items}
    by_title.pop("", None)
    fed_at = _last_success(conn, feed.id)
    grace = timedelta(seconds=sc.emergency_grace_seconds)
    for row in _city_posts(conn, site.id):
        body = f"{row.text or ''} {row.html or ''}".lower()
        key = next((u for u in by_link if u in body), None)
        match = by_link[key] if key else None
        if match is None:
            key = next((t for t in by_title if t in body), None)
            match = by_title[key] if key else None
        tag = next((t for t in sc.emergency_tags if t in body), None)
        posted = _when(row.posted_at)
        evidence: dict[str, Any] = {"post": _ref(row), "feed_site": feed.id, "emergency": tag}
        if match is not None:
            evidence["counterpart"] = _ref(match) | {"posted_at": match.posted_at}
            web_at = _when(match.posted_at)
            allowed = (posted + grace if tag else posted) if posted else None
            if web_at is not None and allowed is not None and web_at > allowed:
                late = "after the grace period for emergency posts" if tag else "after it"
                status, msg = (
                    "fail",
                    (
                        f"matches {key!r} on {feed.id}, but the website posted it "
                        f"{web_at.isoformat()}, {late} (post {posted.isoformat() if posted else '?'})"
                    ),
                )
            else:
                status, msg = "pass", f"matches {key!r} on {feed.id}"
        elif fed_at is None or (posted is not None and fed_at < posted):
            status, msg = (
                "unknown",
                (
                    f"{feed.id} has not been captured successfully since this post, so whether "
                    "the website has it is not known"
                ),
            )
        elif tag and posted is not None and now < posted + grace:
            status, msg = (
                "unknown",
                (
                    f"emergency post (tagged {tag}): the website copy is due by "
                    f"{(posted + grace).isoformat()}"
                ),
            )
        else:
            status = "fail"
            msg = f"no item of {feed.id} has this post's link or title"
            if tag:
                msg += f" ({tag} emergency post, grace period over)"
        yield Finding("principal_counterpart", row.platform_id, status, msg, evidence)


def profile_change_rule(
    conn: Connection, site: SiteConfig, sc: SiteCompliance, now: datetime
) -> Iterator[Finding]:
    """Each new profile version: an announced change passes, an unannounced one is vandalism."""
    rows = _profile_versions(conn, site.id)
    for before, after in pairwise(rows):
        if before.item_id != after.item_id:
            continue
        a, b = _profile_fields(before), _profile_fields(after)
        changed = {
            k: {"before": a.get(k), "after": b.get(k)}
            for k in PROFILE_COMPARED
            if a.get(k) != b.get(k)
        }
        if not changed:
            continue
        subject = f"profile:{after.item_id}:v{after.version}"
        announced = _announcement(conn, site.id, before.captured_at, after.captured_at, sc)
        evidence = {
            "changed": changed,
            "before": _ref(before) | {"images": _media_hashes(conn, site.id, before)},
            "after": _ref(after) | {"images": _media_hashes(conn, site.id, after)},
        }
        if announced is not None:
            evidence["announcement"] = announced
            yield Finding(
                "profile_change",
                subject,
                "pass",
                f"profile change ({', '.join(changed)}) announced by {announced['by']}: "
                f"{announced['note']}",
                evidence,
            )
        else:
            yield Finding(
                "profile_change",
                subject,
                "fail",
                f"profile changed ({', '.join(changed)}) without an announcement "
                "(`archiver profile expect`)",
                evidence,
            )


def _announcement(
    conn: Connection, site_id: str, before: str, after: str, sc: SiteCompliance
) -> dict[str, Any] | None:
    """An announcement made before the new version was seen and within the grace period."""
    after_dt = datetime.fromisoformat(after)
    earliest = (after_dt - timedelta(seconds=sc.grace_seconds)).isoformat()
    pe = profile_expectations
    row = conn.execute(
        select(pe)
        .where(pe.c.site_id == site_id, pe.c.announced_at <= after, pe.c.announced_at >= earliest)
        .order_by(pe.c.announced_at.desc())
    ).first()
    if row is None:
        return None
    return {"id": row.id, "by": row.announced_by, "note": row.note, "at": row.announced_at}


def burst_rule(conn: Connection, site: SiteConfig, sc: SiteCompliance) -> Iterator[Finding]:
    """More City posts inside one window than the site ever needs: a takeover sign."""
    posts = [r for r in _city_posts(conn, site.id) if r.posted_at]
    times = [(datetime.fromisoformat(r.posted_at), r) for r in posts]
    times.sort(key=lambda t: t[0])
    window = timedelta(seconds=sc.burst_window_seconds)
    start = 0
    reported_until: datetime | None = None
    for end in range(len(times)):
        while times[end][0] - times[start][0] > window:
            start += 1
        count = end - start + 1
        first = times[start][0]
        if count > sc.burst_posts and (reported_until is None or first > reported_until):
            group = [r for t, r in times if first <= t <= first + window]
            reported_until = first + window
            yield Finding(
                "post_burst",
                f"burst:{first.isoformat()}",
                "fail",
                f"{len(group)} City posts within {sc.burst_window_seconds // 60} minutes "
                f"(threshold {sc.burst_posts})",
                {"posts": [_ref(r) for r in group[:50]]},
            )


def deleted_rule(conn: Connection, site: SiteConfig) -> Iterator[Finding]:
    """City posts gone upstream: only the account (or the platform) can delete them."""
    i = s.items
    rows = _current(
        conn,
        site.id,
        i.c.kind == "post",
        i.c.by_owner.is_(True),
        i.c.removal_state == "removed_upstream",
    )
    for row in rows:
        yield Finding(
            "deleted_by_city",
            row.platform_id,
            "fail",
            f"City post removed upstream (last seen before {row.disappeared_at})",
            {"post": _ref(row), "permalink": row.permalink, "text": (row.text or "")[:300]},
        )
