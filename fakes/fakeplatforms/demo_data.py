"""Deterministic, plausible Bozeman content for the demo and for tests that want volume.

A demo that archives "lorem ipsum" convinces nobody at City Hall, and tests against three
statuses never meet pagination, thread depth or media. Everything here is drawn from one
seeded ``random.Random`` and pinned to a fixed end date, so two builds are byte-identical.
"""

from __future__ import annotations

import html
import random
import re
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.rss import FeedWorld

__all__ = [
    "CITY_DISPLAY_NAME",
    "CITY_USERNAME",
    "DEMO_END",
    "build_demo_feed",
    "build_demo_world",
    "news_pdf",
]

DEMO_END = datetime(2026, 11, 20, 18, 0, 0, tzinfo=UTC)
DEMO_START = DEMO_END - timedelta(days=365)
CITY_USERNAME = "cityofbozeman"
CITY_DISPLAY_NAME = "City of Bozeman"
CITY_NOTE = (
    "Official account of the City of Bozeman, Montana. Posts and comments are public records "
    "and are archived. Not monitored 24/7: for emergencies call 911.\n\n"
    "Report a problem: https://www.bozeman.net/report"
)

STREETS = [
    "Main Street",
    "Babcock Street",
    "Mendenhall Street",
    "Rouse Avenue",
    "Willson Avenue",
    "Grand Avenue",
    "19th Avenue",
    "7th Avenue",
    "Oak Street",
    "Durston Road",
    "Kagy Boulevard",
    "Baxter Lane",
    "College Street",
    "Peach Street",
    "Tamarack Street",
    "Griffin Drive",
    "Church Avenue",
    "Story Street",
    "Lincoln Street",
    "Highland Boulevard",
    "Fowler Avenue",
    "Cottonwood Road",
    "Huffine Lane",
    "Ferguson Avenue",
    "Wallace Avenue",
    "Broadway Avenue",
]
PARKS = [
    "Bogert Park",
    "Lindley Park",
    "Story Mill Park",
    "Beall Park",
    "Cooper Park",
    "Kirk Park",
    "Rose Park",
    "Southside Park",
    "Bozeman Pond Park",
    "Peets Hill",
    "Christie Fields",
    "Gallagator Trail",
    "Sunset Hills Cemetery",
    "Softball Complex",
]
AGENDA_ITEMS = [
    "the Unified Development Code update",
    "the FY27 budget",
    "a parking plan for downtown",
    "the Bozeman Creek enhancement project",
    "sidewalk snow removal enforcement",
    "a water rate adjustment",
    "the Community Housing Action Plan",
    "the Sports Park phase 2 contract",
    "appointments to the Library Board",
    "the North Rouse Avenue reconstruction",
    "a transportation impact fee study",
    "the Climate Plan annual report",
    "an annexation request on Baxter Lane",
    "short-term rental regulations",
    "the Bridger Creek golf course lease",
]
REASONS = [
    "water main replacement",
    "sewer work",
    "a crane lift",
    "paving",
    "a utility connection",
    "sidewalk reconstruction",
    "striping",
    "a private development connection",
]
FIRST = [
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "Mason",
    "Sophia",
    "Logan",
    "Isabella",
    "Lucas",
    "Mia",
    "Ethan",
    "Harper",
    "Jack",
    "Ella",
    "Wyatt",
    "Abigail",
    "Owen",
    "Emily",
    "Carter",
    "Hannah",
    "Caleb",
    "Grace",
    "Levi",
    "Chloe",
    "Hunter",
    "Zoey",
    "Cody",
    "Lily",
    "Tyler",
    "Megan",
    "Dustin",
    "Kara",
    "Travis",
    "Jenna",
    "Brent",
    "Shelby",
    "Garrett",
    "Kelsey",
    "Cole",
    "Maria",
    "Jose",
    "Priya",
    "Wei",
    "Aiyana",
    "Dakota",
    "Willow",
    "Ruth",
    "Dale",
    "Barb",
    "Jim",
    "Sue",
    "Ken",
    "Linda",
    "Steve",
    "Deb",
    "Mike",
    "Karen",
    "Tom",
    "Ann",
]
LAST = [
    "Anderson",
    "Johnson",
    "Peterson",
    "Larson",
    "Olson",
    "Nelson",
    "Hansen",
    "Miller",
    "Schmidt",
    "Meyer",
    "Weber",
    "Becker",
    "Wagner",
    "Hoffman",
    "Smith",
    "Brown",
    "Davis",
    "Wilson",
    "Moore",
    "Taylor",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Martin",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Gonzalez",
    "Nguyen",
    "Patel",
    "Kim",
    "Old Coyote",
    "Running Crane",
    "Sorensen",
    "Lund",
]
HANDLE_WORDS = [
    "bozeman",
    "bzn",
    "gallatin",
    "bridger",
    "hyalite",
    "msu",
    "bobcat",
    "skier",
    "hiker",
    "fly_fisher",
    "montana",
    "406",
    "bigsky",
    "westslope",
    "cyclist",
    "mtb",
    "gardener",
]
BIOS = [
    "Bozeman local. Skier, hiker, dog person.",
    "MSU alum. Go Cats! 🐾",
    "Northside neighbor. Gardening and bikes.",
    "Gallatin Valley since 1998.",
    "Teacher. Runner. Coffee.",
    "Fly fishing the Gallatin whenever I can.",
    "Small business owner on Main Street.",
    "Parent of two, soccer carpool driver.",
    "Retired engineer. Opinions are my own.",
    "",
    "",
    "",
]
AGENCIES = [
    ("bozemanfire", "Bozeman Fire Department"),
    ("bozemanpolice", "Bozeman Police Department"),
    ("bozemanlibrary", "Bozeman Public Library"),
    ("gallatincounty", "Gallatin County"),
    ("gallatinhealth", "Gallatin City-County Health Dept"),
    ("downtownbozeman", "Downtown Bozeman Partnership"),
    ("msubozeman", "Montana State University"),
    ("streamlinebus", "Streamline Transit"),
    ("bozemanschools", "Bozeman Public Schools"),
    ("mdt_southwest", "MDT Southwest District"),
]

IMAGE_ALTS = {
    "snow": "A city plow truck clearing snow on a downtown street at night under streetlights.",
    "closure": "Map showing the closed block and the signed detour route.",
    "water": "Utility crew in a trench repairing a broken water main, water pooling on asphalt.",
    "parks": "Families skating on the outdoor ice rink with the Bridger Mountains behind.",
    "main": "Crowd on Main Street for a summer evening concert, storefronts with flower baskets.",
    "bridger": "Snow-covered Bridger Canyon Road winding between pine-covered slopes.",
    "commission": "City Commission chambers at City Hall with the dais and public seating.",
    "library": "Front entrance of the Bozeman Public Library with the book drop.",
}


def _day(dt: datetime) -> str:
    local = dt - timedelta(hours=7)  # Mountain Standard Time is close enough for prose
    return f"{local:%A}, {local:%b}. {local.day}".replace("May.", "May")


def _city_text(rng: random.Random, topic: str, when: datetime) -> str:
    later = when + timedelta(days=rng.randint(1, 6))
    if topic == "commission":  # the Commission meets on Tuesdays
        later = when + timedelta(days=(1 - when.weekday()) % 7 or 7)
    street, cross, other = rng.sample(STREETS, 3)
    if topic == "snow":
        return rng.choice(
            [
                f"Snow plow update: crews are plowing priority routes tonight starting at "
                f"{rng.choice([8, 9, 10, 11])} p.m. Please move vehicles off {street} so plows "
                f"can clear curb to curb.\n\nRoute map: https://www.bozeman.net/snow #BozemanSnow",
                f"Residential plowing begins {_day(later)} in zone {rng.randint(1, 9)}. "
                f"Please keep trash and recycling carts out of the street and off the "
                f"windrows. #BozemanSnow",
                "Reminder: property owners must clear sidewalks within 24 hours after snow "
                "stops falling. Shovel help for seniors and neighbors with disabilities: "
                "https://www.bozeman.net/snow #BozemanSnow",
                f"Crews have been working around the clock since last night. Main arterials "
                f"are open; expect packed snow and ice on {street} and {cross}. Drive slow, "
                f"give plows room. #BozemanSnow",
            ]
        )
    if topic == "closure":
        return rng.choice(
            [
                f"Road closure: {street} between {cross} and {other} will be closed "
                f"{_day(later)} from 7 a.m. to 5 p.m. for {rng.choice(REASONS)}. Local access "
                f"only; detour signed via {rng.choice(STREETS)}.",
                f"Traffic alert: one lane of {street} near {cross} is closed through "
                f"{_day(later)} for {rng.choice(REASONS)}. Expect delays and use caution "
                f"in the work zone. #BozemanTraffic",
                f"{street} at {cross} has reopened. Thanks for your patience during the "
                f"{rng.choice(REASONS)}. #BozemanTraffic",
            ]
        )
    if topic == "commission":
        a, b = rng.sample(AGENDA_ITEMS, 2)
        return rng.choice(
            [
                f"The City Commission meets {_day(later)} at 6 p.m. at City Hall, 121 N. "
                f"Rouse Ave. On the agenda: {a} and {b}.\n\nAgenda, livestream and public "
                f"comment: https://www.bozeman.net/commission #BozemanCommission",
                f"Public comment is open on {a}. Comments received by noon {_day(later)} "
                f"go into the Commission packet. #BozemanCommission",
                f"Tonight the Commission approved {a} on a 4–1 vote. Minutes will be posted "
                f"within two weeks: https://www.bozeman.net/commission",
            ]
        )
    if topic == "parks":
        park = rng.choice(PARKS)
        month = when.month
        if month in (12, 1, 2):
            return (
                f"The ice rink at {rng.choice(['Bogert Park', 'Beall Park', 'Southside Park'])}"
                f" is open! Skating is free, hours are 10 a.m. to 9 p.m. while conditions "
                f"allow. Check the rink line before you go. #BozemanParks"
            )
        if month in (6, 7, 8):
            return rng.choice(
                [
                    "Bogert Pool is open daily for lap swim and open swim. Swim lessons "
                    "registration: https://www.bozeman.net/recreation #BozemanParks",
                    f"{park} will be closed {_day(later)} for irrigation repairs. Thanks "
                    f"for understanding! #BozemanParks",
                    f"Fire danger is high. Fireworks and open fires are prohibited in all "
                    f"city parks, including {park}. #BozemanParks",
                ]
            )
        return rng.choice(
            [
                f"Volunteer trail day at {park} on {_day(later)}, 9 a.m. to noon. Gloves "
                f"and tools provided. Sign up: https://www.bozeman.net/volunteer #BozemanParks",
                f"Dogs must be leashed at {park} except in the posted off-leash area. "
                f"Please pick up after your pup. #BozemanParks",
                f"Restrooms at {park} are closing for the season {_day(later)}. #BozemanParks",
            ]
        )
    if topic == "water":
        hours = rng.randint(2, 8)
        return rng.choice(
            [
                f"Water main break at {street} and {cross}. Crews are on site. Customers "
                f"between {cross} and {other} may have low pressure or no water for about "
                f"{hours} hours. Traffic is down to one lane.",
                f"Update: the water main on {street} is repaired and service is restored. "
                f"If your water is discolored, run the cold tap for a few minutes. Thank you "
                f"for your patience.",
                f"Planned water shutoff {_day(later)} 9 a.m.–{hours} p.m. for customers on "
                f"{street} between {cross} and {other}. Door hangers went out today.",
            ]
        )
    if topic == "bridger":
        return rng.choice(
            [
                "MDT reports Bridger Canyon Road (MT-86) is snow-covered and icy near the "
                "M trailhead. Winter driving conditions up to Bridger Bowl; use caution.",
                "Heads up: Bridger Canyon Road is reduced to one lane near Story Mill Road "
                "for a culvert replacement. Flaggers on site 7 a.m. to 6 p.m.",
                "The Drinking Horse and M trailhead lots fill early on weekends. Please "
                "don't park along Bridger Canyon Road; carpool or bike. #BozemanTrails",
            ]
        )
    if topic == "main":
        return rng.choice(
            [
                f"Music on Main is back {_day(later)}, 6–8:30 p.m.! Main Street closes to "
                f"traffic between Rouse and Willson from 4 to 10 p.m. #DowntownBozeman",
                f"Downtown Art Walk is {_day(later)}, 6–8 p.m. Galleries and shops on Main "
                f"Street stay open late. #DowntownBozeman",
                f"The Christmas Stroll is {_day(later)}! Main Street is closed to traffic "
                f"from 1 to 9 p.m.; free shuttles from the Library lot. #DowntownBozeman",
                f"Crazy Days sidewalk sales on Main Street {_day(later)}. Parking garage on "
                f"Black Ave is free all day. #DowntownBozeman",
            ]
        )
    if topic == "library":
        return rng.choice(
            [
                f"Bozeman Public Library hours for the holiday: closed {_day(later)}, "
                f"reopening the next day at 10 a.m. The book drop stays open.",
                f"Storytime moves to the Community Room at the Library starting "
                f"{_day(later)}, Tuesdays and Thursdays at 10:30 a.m.",
                "Library hours: Mon–Thu 10 a.m.–8 p.m., Fri–Sat 10 a.m.–5 p.m., Sun 1–5 "
                "p.m. Renew online anytime: https://www.bozemanlibrary.org",
            ]
        )
    return rng.choice(
        [
            "Leaf collection runs through mid-November. Rake leaves to the curb, not into "
            "the street or gutter. #BozemanSolidWaste",
            "Utility bills can now be paid online with autopay: https://www.bozeman.net/pay",
            f"City Hall offices are closed {_day(later)} for the holiday. Garbage and "
            f"recycling pickup is delayed one day.",
            "Spring cleanup: yard waste pickup starts next week. Bundles under 4 feet, "
            "please. #BozemanSolidWaste",
        ]
    )


RESIDENT_REPLIES = {
    "snow": [
        "Any idea when {street} gets plowed? Still packed snow at 8 a.m.",
        "Thank you plow drivers! Out there all night 🙏",
        "The windrow at the end of our driveway is three feet tall again 😩",
        "Sidewalks on {street} are a sheet of ice, a lot of owners aren't clearing.",
    ],
    "closure": [
        "How long is this supposed to last?",
        "Can you post the detour map? The signs are confusing.",
        "Is the bike lane on {street} open during this?",
    ],
    "commission": [
        "Will there be public comment on this item?",
        "Can we get the staff report linked? The packet link is broken.",
        "Please consider the impact on renters. Rents here are out of reach.",
        "Thanks for streaming these, makes it easy to follow along.",
    ],
    "parks": [
        "Love this park, thank you Parks crew!",
        "Any plans to add more trash cans near the playground?",
        "The restroom by the pavilion has been locked for a week.",
    ],
    "water": [
        "Our water has been brown since this morning, is that related?",
        "Is it safe to drink once it comes back on?",
        "Crew was super friendly, thanks for the quick fix.",
    ],
    "bridger": [
        "Drove it this morning, slick above the fish hatchery.",
        "Thanks for sharing, the MDT site is hard to find.",
    ],
    "main": [
        "Best night of the summer!",
        "Who's playing this week?",
        "Can we close Main to cars every Thursday? 😀",
    ],
    "library": [
        "Does the book drop take DVDs?",
        "Thank you library staff! 📚",
    ],
    "misc": [
        "Thanks for the heads up.",
        "Good to know, thanks!",
        "Is there a phone number for questions?",
    ],
}
RESIDENT_TO_RESIDENT = [
    "Same on our street.",
    "They did ours around noon.",
    "I called it in yesterday and they were out within an hour.",
    "Agreed, this is a big deal for the neighborhood.",
    "Try the city's report-a-problem form, it actually works.",
]
CITY_REPLIES = [
    "Thanks for letting us know. We've passed this on to the Streets division. You can also "
    "report it any time at https://www.bozeman.net/report",
    "Yes. Public comment is taken at the start of the meeting, and by email to "
    "comments@bozeman.net.",
    "Good question! We'll post an update here as soon as we have a firm time.",
    "Thanks, a crew is headed that way.",
    "The full map is at https://www.bozeman.net/projects. We'll add it to the post too.",
]
TOPICS = ["snow", "closure", "commission", "parks", "water", "bridger", "main", "library", "misc"]


def _topic(rng: random.Random, when: datetime) -> str:
    winter = when.month in (11, 12, 1, 2, 3, 4)
    summer = when.month in (6, 7, 8, 9)
    weights = [6 if winter else 0, 4, 3, 3, 2, 2 if winter else 1, 3 if summer else 1, 2, 1]
    return rng.choices(TOPICS, weights=weights)[0]


def _make_people(rng: random.Random, n: int, taken: set[str]) -> list[tuple[str, str, str]]:
    people: list[tuple[str, str, str]] = []
    while len(people) < n:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        lastslug = last.lower().replace(" ", "")
        style = rng.randrange(6)
        if style == 0:
            user = f"{first.lower()}{lastslug}"
        elif style == 1:
            user = f"{first.lower()}_{lastslug[0]}"
        elif style == 2:
            user = f"{first[0].lower()}{lastslug}{rng.randint(1, 99)}"
        elif style == 3:
            user = f"{rng.choice(HANDLE_WORDS)}_{first.lower()}"
        elif style == 4:
            user = f"{first.lower()}{rng.choice(HANDLE_WORDS)}"
        else:
            user = f"{first.lower()}{rng.randint(1950, 2008)}"
        base = user
        k = 2
        while user in taken:
            user = f"{base}{k}"
            k += 1
        taken.add(user)
        display = rng.choice(
            [f"{first} {last}", f"{first} {last}", first, f"{first} {last[0]}.", "", f"{first} ⛰️"]
        )
        people.append((user, display, rng.choice(BIOS)))
    return people


def build_demo_world(
    *, seed: int = 7, statuses: int = 300, followers: int = 3000
) -> tuple[MastodonWorld, str]:
    """``statuses`` is the number of statuses by the city (its timeline, including its replies
    to residents); ``followers`` is the exact follower count. Returns (world, city account id).
    """
    rng = random.Random(seed)
    world = MastodonWorld(clock_start=DEMO_END)
    city = world.add_account(
        CITY_USERNAME,
        CITY_DISPLAY_NAME,
        note=CITY_NOTE,
        created_at=datetime(2022, 11, 7, 16, 20, tzinfo=UTC),
        fields=[
            ("Website", "https://www.bozeman.net"),
            ("Records policy", "https://www.bozeman.net/records"),
        ],
    )
    city_id = str(city["id"])
    taken = {CITY_USERNAME}

    # Followers: agencies first, then residents, following at times spread over the year.
    agency_ids: list[str] = []
    for user, name in AGENCIES[: max(0, min(len(AGENCIES), followers))]:
        taken.add(user)
        created = datetime(2022, 11, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 400))
        acc = world.add_account(user, name, note=f"Official account of {name}.", created_at=created)
        agency_ids.append(str(acc["id"]))
    people = _make_people(rng, max(0, followers - len(agency_ids)) + 60, taken)
    follow_times = sorted(
        DEMO_START + timedelta(seconds=rng.uniform(0, 365 * 86400)) for _ in range(followers)
    )
    follower_ids: list[str] = list(agency_ids)
    for user, display, bio in people[: followers - len(agency_ids)]:
        created = datetime(2022, 11, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 1100))
        acc = world.add_account(
            user, display, note=bio, created_at=min(created, DEMO_START), bot=False
        )
        follower_ids.append(str(acc["id"]))
    residents = follower_ids[len(agency_ids) :]
    rng.shuffle(residents)
    order = agency_ids + residents
    for aid, at in zip(order, follow_times, strict=True):
        world.follow(city_id, aid, at=at)
    for aid in agency_ids:
        world.follow(aid, city_id, at=DEMO_START)

    # A few residents who comment without following.
    bystanders: list[str] = []
    for user, display, bio in people[followers - len(agency_ids) :]:
        created = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 900))
        acc = world.add_account(user, display, note=bio, created_at=min(created, DEMO_START))
        bystanders.append(str(acc["id"]))
    commenters = follower_ids[len(agency_ids) : len(agency_ids) + 400] + bystanders
    if not commenters:
        commenters = bystanders
    usernames: dict[str, str] = {}

    def uname(aid: str) -> str:
        if aid not in usernames:
            usernames[aid] = world.username_of(aid)
        return usernames[aid]

    # City timeline. Roughly one post in six starts a conversation; some get a city reply.
    reserve = statuses // 10  # left for the city's replies to residents
    times = sorted(
        DEMO_START + timedelta(hours=2) + timedelta(seconds=rng.uniform(0, 363 * 86400))
        for _ in range(statuses - reserve)
    )
    city_count = 0
    top: list[tuple[str, str, datetime]] = []
    for when in times:
        if city_count >= statuses:
            break
        # Keep city posts in Mountain-time office hours (14:00-01:00 UTC).
        when = when.replace(hour=rng.choice([14, 15, 16, 17, 18, 19, 20, 21, 22, 23]))
        topic = _topic(rng, when)
        media: list[dict[str, Any]] | None = None
        if rng.random() < 0.1:
            media = [
                {
                    "description": IMAGE_ALTS.get(topic, IMAGE_ALTS["main"]),
                    "width": rng.choice([64, 80, 96]),
                    "height": rng.choice([48, 60, 72]),
                }
                for _ in range(rng.choice([1, 1, 2]))
            ]
        st = world.post_status(
            city_id,
            _city_text(rng, topic, when),
            media=media,
            created_at=when,
            favourites_count=rng.randint(0, 60),
            reblogs_count=rng.randint(0, 25),
        )
        city_count += 1
        top.append((str(st["id"]), topic, when))
        if (
            city_count < statuses - reserve
            and topic in ("closure", "water")
            and rng.random() < 0.15
        ):
            upd = world.post_status(
                city_id,
                "Update: work is wrapping up ahead of schedule; expect the lane to reopen by "
                "3 p.m. Thanks for your patience.",
                in_reply_to_id=str(st["id"]),
                created_at=when + timedelta(hours=rng.randint(1, 4)),
                favourites_count=rng.randint(0, 15),
            )
            city_count += 1
            top.append((str(upd["id"]), topic, when + timedelta(hours=4)))

    # Conversations.
    for sid, topic, when in top:
        if rng.random() > 0.45:
            continue
        t = when
        for _ in range(rng.choice([1, 1, 2, 3, 4])):
            t = t + timedelta(minutes=rng.randint(3, 240))
            if t >= DEMO_END:
                break
            who = rng.choice(commenters)
            text = rng.choice(RESIDENT_REPLIES[topic]).format(street=rng.choice(STREETS))
            reply = world.post_status(
                who,
                f"@{CITY_USERNAME} {text}",
                in_reply_to_id=sid,
                created_at=t,
                favourites_count=rng.randint(0, 6),
            )
            depth_roll = rng.random()
            t2 = t + timedelta(minutes=rng.randint(5, 180))
            if t2 >= DEMO_END:
                continue
            if depth_roll < 0.25 and city_count < statuses:
                cr = world.post_status(
                    city_id,
                    f"@{uname(who)} {rng.choice(CITY_REPLIES)}",
                    in_reply_to_id=str(reply["id"]),
                    created_at=t2,
                    favourites_count=rng.randint(0, 10),
                )
                city_count += 1
                if rng.random() < 0.5 and t2 + timedelta(minutes=30) < DEMO_END:
                    world.post_status(
                        who,
                        f"@{CITY_USERNAME} Thank you!",
                        in_reply_to_id=str(cr["id"]),
                        created_at=t2 + timedelta(minutes=rng.randint(5, 30)),
                    )
            elif depth_roll < 0.5:
                other = rng.choice(commenters)
                if other != who:
                    r2 = world.post_status(
                        other,
                        f"@{uname(who)} @{CITY_USERNAME} {rng.choice(RESIDENT_TO_RESIDENT)}",
                        in_reply_to_id=str(reply["id"]),
                        created_at=t2,
                    )
                    t3 = t2 + timedelta(minutes=rng.randint(5, 120))
                    if rng.random() < 0.4 and t3 < DEMO_END:
                        world.post_status(
                            who,
                            f"@{uname(other)} @{CITY_USERNAME} Good to know, thanks.",
                            in_reply_to_id=str(r2["id"]),
                            created_at=t3,
                        )

    # Whatever the conversations left of the reserve becomes ordinary posts.
    while city_count < statuses:
        when = DEMO_START + timedelta(hours=2) + timedelta(seconds=rng.uniform(0, 363 * 86400))
        topic = _topic(rng, when)
        world.post_status(
            city_id,
            _city_text(rng, topic, when),
            created_at=when,
            favourites_count=rng.randint(0, 60),
            reblogs_count=rng.randint(0, 25),
        )
        city_count += 1

    # A few corrections, as happens in real life; they exercise edited_at and /history.
    for sid, _topic_name, when in rng.sample(top, min(3, len(top))):
        world.edit_status(
            sid,
            world.status_text(sid) + "\n\nCorrection: times above are Mountain Time.",
            edited_at=min(when + timedelta(minutes=rng.randint(20, 90)), DEMO_END),
        )
    return world, city_id


FEED_ITEMS = [
    (
        "snow",
        "Snow Emergency Declared; Parking Restrictions on Snow Routes",
        "<p>The City of Bozeman has declared a snow emergency. Vehicles parked on designated "
        "snow routes after 2 a.m. may be ticketed and towed.</p>"
        '<p>See the <a href="https://www.bozeman.net/snow">snow route map</a>.</p>',
    ),
    (
        "commission",
        "City Commission Agenda Posted",
        "<p>The agenda for the upcoming City Commission meeting is posted. Items include "
        "{item}.</p><p>Public comment may be submitted online or in person.</p>",
    ),
    (
        "water",
        "Water Main Break on {street}",
        "<p>Crews are repairing a water main break on {street}. Customers nearby may notice low "
        "pressure or discolored water.</p>",
    ),
    (
        "closure",
        "{street} Closure for {reason}",
        "<p>{street} will be closed to through traffic for {reason}. Detours will be signed.</p>",
    ),
    (
        "parks",
        "Volunteer Trail Day at {park}",
        "<p>Join Parks &amp; Recreation for a volunteer trail day at {park}. Tools, gloves and "
        "snacks provided.</p>",
    ),
    (
        "library",
        "Library Holiday Hours",
        "<p>The Bozeman Public Library will be closed for the holiday. The book drop remains "
        "open.</p>",
    ),
    (
        "main",
        "Music on Main Returns",
        "<p>Music on Main returns to downtown Bozeman on Thursday evenings. Main Street will be "
        "closed between Rouse and Willson.</p>",
    ),
    (
        "bridger",
        "Bridger Canyon Trailhead Parking Reminder",
        "<p>Please use designated lots at Bridger Canyon trailheads. Parking along the highway "
        "shoulder is prohibited.</p>",
    ),
]


def news_pdf(title: str, body: str) -> bytes:
    """A small but valid one-page PDF (any reader opens it), standing in for a news release."""
    lines = [title, "", *textwrap.wrap(body, 80), "", "City of Bozeman, Montana"]

    def literal(text: str) -> str:
        text = text.encode("latin-1", "replace").decode("latin-1")
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    ops += [f"{literal(line)} Tj T*" for line in lines]
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def build_demo_feed(*, seed: int = 7, entries: int = 25) -> FeedWorld:
    """The city's news feed. Entry links are realistic bozeman.net permalinks (shown, never
    fetched); enclosures are PDFs served by the feed itself, so a harvest stays on loopback."""
    rng = random.Random(seed)
    feed = FeedWorld()
    times = sorted(
        DEMO_END - timedelta(seconds=rng.uniform(0, 365 * 86400)) for _ in range(entries)
    )
    for n, when in enumerate(times, start=1):
        _key, title, body = rng.choice(FEED_ITEMS)
        fill = {
            "street": rng.choice(STREETS),
            "reason": rng.choice(REASONS).title(),
            "park": rng.choice(PARKS),
            "item": rng.choice(AGENDA_ITEMS),
        }
        title_f = title.format(**fill)
        body_f = body.format(**fill)
        enclosure = None
        if rng.random() < 0.2:
            pdf = news_pdf(title_f, html.unescape(re.sub(r"<[^>]+>", " ", body_f)))
            path = feed.add_file(f"/news/files/{n:04d}.pdf", pdf, "application/pdf")
            enclosure = (path, "application/pdf", len(pdf))
        slug = "".join(ch if ch.isalnum() else "-" for ch in title_f.lower()).strip("-")
        feed.add_entry(
            f"bozeman-news-{n:04d}",
            title_f,
            body_f,
            published=when.replace(microsecond=0),
            link=f"https://www.bozeman.net/Home/Components/News/News/{1400 + n}/{slug}",
            enclosure=enclosure,
        )
    return feed
