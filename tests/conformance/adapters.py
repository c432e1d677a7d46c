"""One entry per registered connector: how the conformance suite drives its fake platform.

A new connector adds one ``Adapter`` subclass here (and a line in ``ADAPTERS``); the suite in
``test_conformance.py`` then runs every case against it. An adapter knows only its fake world
(``fakes/fakeplatforms/<platform>.py``): how to build a site config pointing at it, how to plant a
post, comment, reply, edit, deletion or follower, and which URL paths hold which list, so
generic faults (``FakeServer.inject``) can be aimed at "the second page of the posts list".

A feature an adapter cannot plant must be one the connector's declared ``Capabilities`` say
does not exist; ``test_adapter_plants_exactly_what_the_connector_declares`` checks that, so a
case is never skipped just because nobody wrote the adapter method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from fakeplatforms import FakeServer, FeedWorld, MastodonWorld
from fakeplatforms.bluesky import BlueskyWorld
from fakeplatforms.linkedin import LinkedInWorld
from fakeplatforms.mastodon import png_bytes
from fakeplatforms.messages import MessagesWorld
from fakeplatforms.meta import MetaWorld
from fakeplatforms.threads import ThreadsWorld
from fakeplatforms.website import WebsiteWorld
from fakeplatforms.x import XWorld
from fakeplatforms.youtube import YouTubeWorld

PAGE = 2  # items per page in every fake that pages: three planted items make two pages
CITY = "cityofbozeman"


@dataclass
class Site:
    """What goes into the ``[[sites]]`` entry."""

    base_url: str
    account: str
    options: dict[str, Any] = field(default_factory=dict)


class Adapter:
    """How to drive one platform's fake. Methods a platform cannot support raise
    ``NotImplementedError``; ``plants`` lists the ones it does."""

    platform: ClassVar[str]
    # Features this adapter can plant: "comment", "reply", "edit", "delete_comment", "follower".
    plants: ClassVar[frozenset[str]]
    paged: ClassVar[bool] = True  # the posts list is paged (False: one document, e.g. a feed)

    def __init__(self, token: str) -> None:
        self.token = token
        self.world: Any = None
        self.owner = ""
        self._n = 0

    # -- setup --------------------------------------------------------------------------------
    def make_world(self) -> Any:
        """The fake platform with the city's account, pages of ``PAGE`` items, token set."""
        raise NotImplementedError

    def site(self, server: FakeServer) -> Site:
        raise NotImplementedError

    def seq(self) -> int:
        self._n += 1
        return self._n

    # -- planting -----------------------------------------------------------------------------
    def post(self, text: str, *, age: timedelta | None = None) -> str:
        """A city post; ``age`` back-dates it from the world's clock. Returns the catalog id."""
        raise NotImplementedError

    def media_post(self, text: str) -> str:
        """A city post with one image (or thumbnail, or enclosure) the connector downloads."""
        raise NotImplementedError

    def comment(self, post_id: str, text: str) -> str:
        raise NotImplementedError

    def reply(self, post_id: str, parent_id: str, text: str) -> str:
        raise NotImplementedError

    def edit(self, post_id: str, text: str) -> None:
        raise NotImplementedError

    def delete_post(self, post_id: str) -> None:
        raise NotImplementedError

    def delete_comment(self, comment_id: str) -> None:
        raise NotImplementedError

    def add_follower(self) -> str:
        raise NotImplementedError

    def remove_follower(self, follower_id: str) -> None:
        raise NotImplementedError

    def expire_token(self, server: FakeServer) -> None:
        """Make the token stop working the way the platform says so. Default: every request is
        answered 401 (platforms whose fake has no token of its own)."""
        server.inject("/", "unauthorized_401", times=100_000)

    # -- paths for aiming faults --------------------------------------------------------------
    def posts_path(self) -> str:
        raise NotImplementedError

    def comments_path(self, post_id: str) -> str:
        """The path prefix of the request(s) that read ``post_id``'s comments."""
        raise NotImplementedError

    def followers_path(self) -> str:
        raise NotImplementedError

    media_path: ClassVar[str] = ""  # where the fake serves media files


class MastodonAdapter(Adapter):
    platform = "mastodon"
    plants = frozenset({"comment", "reply", "edit", "delete_comment", "follower"})

    def make_world(self) -> MastodonWorld:
        world = MastodonWorld(required_token=self.token)
        world.page_cap = PAGE
        self.world = world
        self.owner = str(world.add_account(CITY, "City of Bozeman")["id"])
        self.resident = str(world.add_account("maria", "Maria")["id"])
        return world

    def site(self, server: FakeServer) -> Site:
        return Site(server.url, CITY)

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        at = self.world.now() - age if age else None
        return str(self.world.post_status(self.owner, text, created_at=at)["id"])

    media_path = "/system/"

    def media_post(self, text: str) -> str:
        media = [{"description": "a map"}]
        return str(self.world.post_status(self.owner, text, media=media)["id"])

    def comment(self, post_id: str, text: str) -> str:
        return str(self.world.post_status(self.resident, text, in_reply_to_id=post_id)["id"])

    def reply(self, post_id: str, parent_id: str, text: str) -> str:
        return str(self.world.post_status(self.resident, text, in_reply_to_id=parent_id)["id"])

    def edit(self, post_id: str, text: str) -> None:
        self.world.edit_status(post_id, text)

    def delete_post(self, post_id: str) -> None:
        self.world.delete_status(post_id)

    def delete_comment(self, comment_id: str) -> None:
        self.world.delete_status(comment_id)

    def add_follower(self) -> str:
        fan = str(self.world.add_account(f"fan{self.seq()}", "A Fan")["id"])
        self.world.follow(self.owner, fan)
        return fan

    def remove_follower(self, follower_id: str) -> None:
        self.world.unfollow(self.owner, follower_id)

    def expire_token(self, server: FakeServer) -> None:
        self.world.required_token = "a-token-issued-after-ours"

    def posts_path(self) -> str:
        return f"/api/v1/accounts/{self.owner}/statuses"

    def comments_path(self, post_id: str) -> str:
        return f"/api/v1/statuses/{post_id}/context"

    def followers_path(self) -> str:
        return f"/api/v1/accounts/{self.owner}/followers"


class _MetaAdapter(Adapter):
    plants = frozenset({"comment", "reply", "edit", "delete_comment"})
    meta_platform: ClassVar[str]

    def make_world(self) -> MetaWorld:
        world = MetaWorld(token=self.token)
        world.max_limit = PAGE
        world.set_follower_count(1234, platform=self.meta_platform, fan_count=1200)
        self.world = world
        return world

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        at = self.world._now + timedelta(minutes=1) - age if age else None
        return str(self.world.add_post(text, platform=self.meta_platform, at=at))

    media_path = "/cdn/"

    def media_post(self, text: str) -> str:
        return str(self.world.add_post(text, platform=self.meta_platform, photos=1))

    def comment(self, post_id: str, text: str) -> str:
        n = self.seq()
        return str(self.world.add_comment(post_id, text, author=(f"55590{n:02d}", f"Res {n}")))

    def reply(self, post_id: str, parent_id: str, text: str) -> str:
        n = self.seq()
        return str(
            self.world.add_comment(
                post_id, text, author=(f"55590{n:02d}", f"Res {n}"), parent=parent_id
            )
        )

    def edit(self, post_id: str, text: str) -> None:
        self.world.edit_post(post_id, text)

    def delete_post(self, post_id: str) -> None:
        self.world.delete_post(post_id)

    def delete_comment(self, comment_id: str) -> None:
        self.world.delete_comment(comment_id)

    def expire_token(self, server: FakeServer) -> None:
        self.world.expire_token()

    def comments_path(self, post_id: str) -> str:
        return f"/v21.0/{post_id}/comments"


class FacebookAdapter(_MetaAdapter):
    platform = "facebook"
    meta_platform = "facebook"

    def site(self, server: FakeServer) -> Site:
        return Site(f"{server.url}/v21.0", self.world.page_id)

    def posts_path(self) -> str:
        return f"/v21.0/{self.world.page_id}/posts"


class InstagramAdapter(_MetaAdapter):
    platform = "instagram"
    meta_platform = "instagram"

    def site(self, server: FakeServer) -> Site:
        return Site(f"{server.url}/v21.0", self.world.ig_user_id)

    def posts_path(self) -> str:
        return f"/v21.0/{self.world.ig_user_id}/media"


class XAdapter(Adapter):
    platform = "x"
    plants = frozenset({"comment", "reply", "edit", "delete_comment"})

    def make_world(self) -> XWorld:
        world = XWorld(bearer_token=self.token, page_cap=PAGE)
        self.world = world
        self.owner = world.add_user(CITY, "City of Bozeman", extra_followers=40)
        self.resident = world.add_user("maria", "Maria")
        return world

    def site(self, server: FakeServer) -> Site:
        return Site(server.url, CITY)

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        at = self.world.now() - age if age else None
        return str(self.world.post(self.owner, text, created_at=at))

    media_path = "/media/"

    def media_post(self, text: str) -> str:
        return str(self.world.post(self.owner, text, media=1))

    def comment(self, post_id: str, text: str) -> str:
        return str(self.world.post(self.resident, f"@{CITY} {text}", reply_to=post_id))

    def reply(self, post_id: str, parent_id: str, text: str) -> str:
        return str(self.world.post(self.owner, f"@maria {text}", reply_to=parent_id))

    def edit(self, post_id: str, text: str) -> None:
        self.world.edit(post_id, text)

    def delete_post(self, post_id: str) -> None:
        self.world.delete(self.world.current_id(post_id))

    def delete_comment(self, comment_id: str) -> None:
        self.world.delete(self.world.current_id(comment_id))

    def expire_token(self, server: FakeServer) -> None:
        self.world.expire_token()

    def posts_path(self) -> str:
        return f"/2/users/{self.owner}/tweets"

    def comments_path(self, post_id: str) -> str:
        return "/2/tweets/search/"


class YouTubeAdapter(Adapter):
    platform = "youtube"
    plants = frozenset({"comment", "reply", "edit", "delete_comment", "follower"})

    def make_world(self) -> YouTubeWorld:
        world = YouTubeWorld(oauth_token=self.token, page_cap=PAGE, inline_replies=1)
        self.world = world
        self.owner = world.add_channel(CITY, "City of Bozeman", owner=True)
        self.resident = world.add_channel("maria", "Maria")
        return world

    def site(self, server: FakeServer) -> Site:
        return Site(f"{server.url}/youtube/v3", f"@{CITY}", {"auth": "oauth"})

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        at = self.world.now() - age if age else None
        return str(self.world.add_video(self.owner, text[:60], text, published_at=at))

    media_path = "/vi/"  # every video's thumbnails

    def media_post(self, text: str) -> str:
        return self.post(text)

    def comment(self, post_id: str, text: str) -> str:
        return str(self.world.add_comment(post_id, self.resident, text))

    def reply(self, post_id: str, parent_id: str, text: str) -> str:
        return str(self.world.add_reply(parent_id, self.owner, text))

    def edit(self, post_id: str, text: str) -> None:
        self.world.edit_video(post_id, description=text)

    def delete_post(self, post_id: str) -> None:
        self.world.delete_video(post_id)

    def delete_comment(self, comment_id: str) -> None:
        self.world.delete_comment(comment_id)

    def add_follower(self) -> str:
        fan = str(self.world.add_channel(f"fan{self.seq()}", "A Fan"))
        self.world.subscribe(self.owner, fan)
        return fan

    def remove_follower(self, follower_id: str) -> None:
        self.world.unsubscribe(self.owner, follower_id)

    def expire_token(self, server: FakeServer) -> None:
        self.world.expire_token()

    def posts_path(self) -> str:
        return "/youtube/v3/playlistItems"

    def comments_path(self, post_id: str) -> str:
        return "/youtube/v3/comment"  # commentThreads and comments

    def followers_path(self) -> str:
        return "/youtube/v3/subscriptions"


class BlueskyAdapter(Adapter):
    platform = "bluesky"
    plants = frozenset({"comment", "reply", "delete_comment", "follower"})

    def make_world(self) -> BlueskyWorld:
        world = BlueskyWorld()
        world.page_cap = PAGE
        self.world = world
        self.owner = str(world.add_actor(f"{CITY}.bsky.social", "City of Bozeman")["did"])
        self.resident = str(world.add_actor("maria.bsky.social", "Maria")["did"])
        return world

    def site(self, server: FakeServer) -> Site:
        return Site(server.url, f"{CITY}.bsky.social")

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        at = self.world.now() - age if age else None
        return str(self.world.add_post(self.owner, text, created_at=at))

    media_path = "/img/"

    def media_post(self, text: str) -> str:
        return str(self.world.add_post(self.owner, text, images=["map"]))

    def comment(self, post_id: str, text: str) -> str:
        return str(self.world.reply(post_id, self.resident, text))

    def reply(self, post_id: str, parent_id: str, text: str) -> str:
        return str(self.world.reply(parent_id, self.owner, text))

    def delete_post(self, post_id: str) -> None:
        self.world.delete_post(post_id)

    def delete_comment(self, comment_id: str) -> None:
        self.world.delete_post(comment_id)

    def add_follower(self) -> str:
        n = self.seq()
        fan = str(self.world.add_actor(f"fan{n}.bsky.social", f"Fan {n}")["did"])
        self.world.follow(fan, self.owner)
        return fan

    def remove_follower(self, follower_id: str) -> None:
        self.world.unfollow(follower_id, self.owner)

    def posts_path(self) -> str:
        return "/xrpc/app.bsky.feed.getAuthorFeed"

    def comments_path(self, post_id: str) -> str:
        return "/xrpc/app.bsky.feed.getPostThread"

    def followers_path(self) -> str:
        return "/xrpc/app.bsky.graph.getFollowers"


class RssAdapter(Adapter):
    platform = "rss"
    plants = frozenset({"edit"})
    paged = False

    def make_world(self) -> FeedWorld:
        world = FeedWorld()
        self.world = world
        self._clock = datetime.fromisoformat("2026-11-20T18:00:00+00:00")
        return world

    def _tick(self) -> datetime:
        self._clock += timedelta(minutes=1)
        return self._clock

    def site(self, server: FakeServer) -> Site:
        # The fake serves every entry, so the feed may be trusted as complete (deletions).
        return Site(server.url, "/news/rss.xml", {"complete_feed": True})

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        guid = f"news-{self.seq()}"
        published = self._tick() - (age or timedelta(0))
        self.world.add_entry(guid, text[:40], f"<p>{text}</p>", published=published)
        return guid

    media_path = "/files/"

    def media_post(self, text: str) -> str:
        guid = f"news-{self.seq()}"
        body = png_bytes(8, 6, (10, 120, 200))
        url = self.world.add_file(f"/files/{guid}.png", body, "image/png")
        self.world.add_entry(
            guid,
            text[:40],
            f"<p>{text}</p>",
            published=self._tick(),
            enclosure=(url, "image/png", len(body)),
        )
        return guid

    def edit(self, post_id: str, text: str) -> None:
        self.world.edit_entry(post_id, body_html=f"<p>{text}</p>", updated=self._tick())

    def delete_post(self, post_id: str) -> None:
        self.world.delete_entry(post_id)

    def posts_path(self) -> str:
        return "/news/rss.xml"


class WebAdapter(Adapter):
    """The City website: a news index at /news linking one page per planted post."""

    platform = "web"
    plants = frozenset({"edit"})
    paged = False

    def make_world(self) -> WebsiteWorld:
        world = WebsiteWorld()
        self.world = world
        self.news: dict[str, str] = {}  # path -> title
        self._index()
        return world

    def _index(self) -> None:
        self.world.set_page("/news", "City news", "News releases", sorted(self.news))

    def site(self, server: FakeServer) -> Site:
        self._base = server.url.rstrip("/")  # a page's catalog id is its full URL
        return Site(server.url, "/news", {"delay_seconds": 0, "detect_removals": True})

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        path = f"/news/item-{self.seq()}"
        self.news[path] = text
        self.world.set_page(path, text[:40], text)
        self._index()
        return f"{self._base}{path}"

    _base = ""

    def edit(self, post_id: str, text: str) -> None:
        path = post_id.removeprefix(self._base)
        self.world.set_page(path, self.news[path][:40], text)

    def delete_post(self, post_id: str) -> None:
        path = post_id.removeprefix(self._base)
        self.news.pop(path, None)
        self.world.remove_page(path)
        self._index()

    def posts_path(self) -> str:
        return "/news"


class MessagesAdapter(Adapter):
    """A Page's Messenger inbox: each planted "post" is a resident's message in a new
    conversation (the page answering would be a message too)."""

    platform = "meta_messages"
    plants = frozenset()

    def make_world(self) -> MessagesWorld:
        world = MessagesWorld(token=self.token)
        world.page_size = PAGE
        self.world = world
        return world

    def site(self, server: FakeServer) -> Site:
        return Site(f"{server.url}/v21.0", self.world.page_id)

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        conv = self.world.add_conversation()
        return str(self.world.add_message(conv, text))

    def delete_post(self, post_id: str) -> None:
        self.world.delete_message(post_id)

    def expire_token(self, server: FakeServer) -> None:
        self.world.expire_token()

    def posts_path(self) -> str:
        return f"/v21.0/{self.world.page_id}/conversations"


class ThreadsAdapter(Adapter):
    """The City's Threads profile: replies by residents, the City answering in the thread."""

    platform = "threads"
    plants = frozenset({"comment", "reply", "edit", "delete_comment"})

    def make_world(self) -> ThreadsWorld:
        world = ThreadsWorld(token=self.token, page_size=PAGE)
        self.world = world
        return world

    def site(self, server: FakeServer) -> Site:
        return Site(f"{server.url}/v1.0", self.world.user_id)

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        return str(self.world.post(text, age=age))

    media_path = "/cdn/"

    def media_post(self, text: str) -> str:
        return str(self.world.post(text, media=True))

    def comment(self, post_id: str, text: str) -> str:
        return str(self.world.reply(post_id, text, username=f"resident{self.seq()}"))

    def reply(self, post_id: str, parent_id: str, text: str) -> str:
        return str(self.world.reply(parent_id, text, username=CITY))

    def edit(self, post_id: str, text: str) -> None:
        self.world.edit(post_id, text)

    def delete_post(self, post_id: str) -> None:
        self.world.delete(post_id)

    def delete_comment(self, comment_id: str) -> None:
        self.world.delete(comment_id)

    def expire_token(self, server: FakeServer) -> None:
        self.world.expire_token()

    def posts_path(self) -> str:
        return f"/v1.0/{self.world.user_id}/threads"

    def comments_path(self, post_id: str) -> str:
        return f"/v1.0/{post_id}/conversation"


class LinkedInAdapter(Adapter):
    """The City's LinkedIn organization page: members comment, the Page answers in thread."""

    platform = "linkedin"
    plants = frozenset({"comment", "reply", "edit", "delete_comment"})

    def make_world(self) -> LinkedInWorld:
        world = LinkedInWorld(token=self.token, page_size=PAGE)
        self.world = world
        return world

    def site(self, server: FakeServer) -> Site:
        return Site(f"{server.url}/rest", self.world.org_id)

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        return str(self.world.post(text, age=age))

    def comment(self, post_id: str, text: str) -> str:
        return str(self.world.comment(post_id, text, member=f"member{self.seq()}"))

    def reply(self, post_id: str, parent_id: str, text: str) -> str:
        return str(self.world.comment(parent_id, text, member=f"member{self.seq()}"))

    def edit(self, post_id: str, text: str) -> None:
        self.world.edit(post_id, text)

    def delete_post(self, post_id: str) -> None:
        self.world.delete(post_id)

    def delete_comment(self, comment_id: str) -> None:
        self.world.delete(comment_id)

    def expire_token(self, server: FakeServer) -> None:
        self.world.expire_token()

    def posts_path(self) -> str:
        return "/rest/posts"

    def comments_path(self, post_id: str) -> str:
        return f"/rest/socialActions/{quote(post_id, safe='')}"


ADAPTERS: dict[str, type[Adapter]] = {
    a.platform: a
    for a in (
        MastodonAdapter,
        FacebookAdapter,
        InstagramAdapter,
        XAdapter,
        YouTubeAdapter,
        BlueskyAdapter,
        RssAdapter,
        WebAdapter,
        MessagesAdapter,
        ThreadsAdapter,
        LinkedInAdapter,
    )
}
