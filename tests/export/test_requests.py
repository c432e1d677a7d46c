"""Request log and the City's own targets (business days, holidays, fees)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from archiver.prr import deadlines
from archiver.settings.requests import RequestPolicy
from tests.export.conftest import Archive
from tests.export.helpers import catalog, cli, one_error_line
from tests.helpers import write_config


def test_business_days_skip_weekends_and_holidays() -> None:
    # Friday 2026-11-20 + 5 business days: Mon-Fri next week, Thanksgiving (Thu) off -> Mon.
    policy = RequestPolicy(
        acknowledge_business_days=2,
        respond_business_days=5,
        holidays=frozenset({date(2026, 11, 26)}),
    )
    t = deadlines.targets(date(2026, 11, 20), policy)
    assert t.acknowledge_by == date(2026, 11, 24)
    assert t.respond_by == date(2026, 11, 30)
    assert deadlines.add_business_days(date(2026, 11, 21), 1) == date(2026, 11, 23)
    assert deadlines.is_overdue(date(2026, 11, 30), date(2026, 12, 1))
    assert not deadlines.is_overdue(date(2026, 11, 30), date(2026, 11, 30))


def test_fee_estimate_bills_beyond_free_minutes() -> None:
    policy = RequestPolicy(fee_per_hour=Decimal("25.00"), free_minutes=60)
    assert deadlines.fee_estimate(60, policy) == Decimal("0.00")
    assert deadlines.fee_estimate(61, policy) == Decimal("6.25")  # one started quarter hour
    assert deadlines.fee_estimate(150, policy) == Decimal("37.50")


def test_open_list_show_close(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        head="[requests]\nacknowledge_business_days = 3\nrespond_business_days = 10\n"
        'fee_per_hour = 25\nfree_minutes = 30\nholidays = ["2026-11-26"]\n',
    )
    a = Archive(config, tmp_path / "archive", "", "", "", "", "", "")

    def opened(received: str, minutes: str | None = None) -> dict[str, object]:
        args = ["request", "open", "--requester", "Pat", "--received", received,
                "--description", "plow complaints", "--json"]  # fmt: skip
        if minutes:
            args += ["--estimate-minutes", minutes]
        r = cli(config, *args)
        assert r.returncode == 0, r.stderr
        return dict(json.loads(r.stdout))

    first = opened("2026-11-20", "90")
    assert first["id"] == "PRR-2026-0001"
    assert first["acknowledge_by"] == "2026-11-25" and first["respond_by"] == "2026-12-07"
    assert first["fee_estimate"] == "25.00"
    assert "2-6-1006(2)" in str(first["targets_basis"])
    old = opened("2026-01-05")
    assert old["id"] == "PRR-2026-0002" and old["overdue"] is True
    other_year = opened("2025-12-30")
    assert other_year["id"] == "PRR-2025-0001"

    r = cli(config, "request", "list", "--json")
    listed = json.loads(r.stdout)
    assert [x["id"] for x in listed][:2] == ["PRR-2025-0001", "PRR-2026-0002"]  # overdue first
    r = cli(config, "request", "close", "PRR-2025-0001", "--outcome", "no records", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "closed"
    listed = json.loads(cli(config, "request", "list", "--json").stdout)
    assert listed[-1]["id"] == "PRR-2025-0001"  # closed last
    shown = json.loads(cli(config, "request", "show", "prr-2026-0001", "--json").stdout)
    assert shown["status"] == "open" and shown["exports"] == []
    again = cli(config, "request", "close", "PRR-2025-0001", "--outcome", "x")
    assert "already closed" in one_error_line(again)
    actions = [
        (r["action"], r["subject"])
        for r in catalog(
            a, "SELECT action, subject FROM audit_log WHERE action LIKE 'request.%' ORDER BY seq"
        )
    ]
    assert actions == [
        ("request.open", "PRR-2026-0001"),
        ("request.open", "PRR-2026-0002"),
        ("request.open", "PRR-2025-0001"),
        ("request.close", "PRR-2025-0001"),
    ]


def test_bad_requests_config_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, head="[requests]\nrespond_business_days = -2\n")
    line = one_error_line(
        cli(
            config,
            "request",
            "open",
            "--requester",
            "x",
            "--received",
            "2026-01-02",
            "--description",
            "y",
        )
    )
    assert "requests.respond_business_days" in line
