"""The start-up WORM self-check as the archiver runs it: ``open_app`` with ``backend = "s3"``.

Against moto (tests/storage_kit.py starts its real S3 server) the check must fail,
because moto lets a COMPLIANCE retention be shortened: ``open_app`` refuses to run and says
why and what to do; with ``allow_unsafe_worm`` it runs and ``archiver status`` and the
monthly report say loudly that the store is not WORM. A client wrapped to refuse what real S3
refuses stands in for a store that enforces WORM, so the passing path is tested too.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
import structlog
import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention

from archiver.app import open_app
from archiver.catalog.sql import SAReader
from archiver.catalog.worm_state import last_check
from archiver.report.build import build_report_data
from archiver.report.render import attention_items, render_text
from archiver.settings.storage import S3Settings
from archiver.storage import s3 as s3_module
from archiver.storage import s3_worm as s3_worm_module
from archiver.storage.s3 import S3Storage, _checksum_headers
from archiver.storage.s3_worm import (
    WormRefusedError,
    check_worm,
)
from tests.storage_kit import ACCESS, SECRET


def _denied(bucket: str, name: str, why: str) -> S3Error:
    return S3Error(
        urllib3.response.HTTPResponse(status=403),
        "AccessDenied",
        why,
        f"/{bucket}/{name}",
        "strict-test",
        "strict-test",
        bucket_name=bucket,
        object_name=name,
    )


class StrictMinio(Minio):
    """What real S3/MinIO refuses and moto allows: shortening or downgrading COMPLIANCE
    retention, and deleting a version that is still locked (moto refuses that one too)."""

    def _lock(self, bucket: str, name: str, version_id: str | None) -> tuple[Any, Any, bool]:
        meta = self.stat_object(bucket, name, version_id=version_id).metadata or {}
        raw = meta.get("x-amz-object-lock-retain-until-date")
        until = dt.datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
        hold = str(meta.get("x-amz-object-lock-legal-hold", "")).upper() == "ON"
        return meta.get("x-amz-object-lock-mode"), until, hold

    def set_object_retention(
        self, bucket_name: str, object_name: str, config: Retention, version_id: str | None = None
    ) -> None:
        mode, until, _ = self._lock(bucket_name, object_name, version_id)
        shorter = until is not None and (
            config.mode != COMPLIANCE or config.retain_until_date < until
        )
        if mode == COMPLIANCE and shorter:
            raise _denied(bucket_name, object_name, "COMPLIANCE retention cannot be reduced")
        super().set_object_retention(bucket_name, object_name, config, version_id=version_id)

    def remove_object(
        self, bucket_name: str, object_name: str, version_id: str | None = None
    ) -> None:
        if version_id is not None:
            _, until, hold = self._lock(bucket_name, object_name, version_id)
            if hold or (until is not None and until > dt.datetime.now(dt.UTC)):
                raise _denied(bucket_name, object_name, "object protected by object lock")
        super().remove_object(bucket_name, object_name, version_id=version_id)


def _strict_client(settings: S3Settings) -> Minio:
    return StrictMinio(
        settings.endpoint, ACCESS, SECRET, secure=settings.secure, region=settings.region
    )


def _config(tmp_path: Path, endpoint: str, bucket: str, *, allow_unsafe: bool = False) -> Path:
    text = (
        f'[archive]\nroot = "{tmp_path / "archive"}"\n\n'
        "[storage]\n"
        'backend = "s3"\n'
        f'endpoint = "{endpoint}"\n'
        f'bucket = "{bucket}"\n'
        "secure = false\n"
        'region = "us-east-1"\n'
        'prefix = "archive"\n'
        f"allow_unsafe_worm = {'true' if allow_unsafe else 'false'}\n"
    )
    path = tmp_path / "archiver.toml"
    path.write_text(text)
    return path


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", ARCHIVER_S3_ACCESS_KEY=ACCESS)
    env["ARCHIVER_S3_SECRET_KEY"] = SECRET
    env.pop("CREDENTIALS_DIRECTORY", None)
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_open_app_refuses_moto_and_names_the_problem_and_the_fix(
    tmp_path: Path, moto_endpoint: str, bucket: str, s3_env: None
) -> None:
    config = _config(tmp_path, moto_endpoint, bucket)
    with pytest.raises(WormRefusedError) as err:
        open_app(str(config))
    msg = str(err.value)
    assert "\n" not in msg
    assert f"S3 bucket {bucket} at {moto_endpoint} does not enforce WORM" in msg
    assert "COMPLIANCE retention could be shortened" in msg  # the problem
    assert "Object Lock in COMPLIANCE mode" in msg and "docs/storage.md" in msg  # the fix
    assert "allow_unsafe_worm" in msg
    # The refusal is kept, so a later look at the catalog knows why the archiver stopped.
    r = _cli(config, "status")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "does not enforce WORM" in r.stderr


def test_override_runs_and_status_and_report_warn_loudly(
    tmp_path: Path, moto_endpoint: str, bucket: str, s3_env: None
) -> None:
    config = _config(tmp_path, moto_endpoint, bucket, allow_unsafe=True)
    with structlog.testing.capture_logs() as logs:
        app = open_app(str(config))
    try:
        check = app.worm_check
        assert check is not None and check.unsafe and check.overridden
        assert "storage_worm_not_enforced" in [e["event"] for e in logs]
        with app.catalog.begin() as conn:
            stored = last_check(SAReader(conn), moto_endpoint, bucket)
        assert stored is not None
        assert stored[0].problems == check.problems and stored[1] is False
        data = build_report_data(app, dt.date.today().strftime("%Y-%m"))
        assert len(data.storage_warnings) == 1
        items = [i for i in attention_items(data) if "WORM" in i.heading]
        assert len(items) == 1 and "allow_unsafe_worm" in items[0].detail
        text = render_text(data)
        attention = text.split("NEEDS ATTENTION", 1)[1].split("SUMMARY", 1)[0]
        assert "STORAGE IS NOT WORM" in attention
        assert "Nothing needs attention" not in attention
    finally:
        app.close()

    r = _cli(config, "status")
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if "STORAGE IS NOT WORM" in x]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("WARNING:")
    assert "COMPLIANCE retention could be shortened" in lines[0]
    assert "allow_unsafe_worm" in lines[0]


def test_a_store_that_refuses_like_real_s3_passes_the_check(
    tmp_path: Path,
    moto_endpoint: str,
    bucket: str,
    s3_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(s3_module, "make_client", _strict_client)
    config = _config(tmp_path, moto_endpoint, bucket)  # no override
    with structlog.testing.capture_logs() as logs:
        app = open_app(str(config))
    try:
        check = app.worm_check
        assert check is not None and not check.unsafe and not check.overridden
        assert check.problems == ()
        assert check.compliance_shorten_refused and check.compliance_delete_refused
        assert check.legal_hold_delete_refused and not check.legal_hold_inconclusive
        assert check.default_retention is None
        assert "storage_worm_ok" in [e["event"] for e in logs]
        assert isinstance(app.storage, S3Storage)
        with app.catalog.begin() as conn:
            stored = last_check(SAReader(conn), moto_endpoint, bucket)
        assert stored is not None and not stored[0].unsafe
        data = build_report_data(app, dt.date.today().strftime("%Y-%m"))
        assert data.storage_warnings == []
    finally:
        app.close()


def _default_bucket(client: Minio, days: int = 30) -> str:
    """A fresh bucket with a default COMPLIANCE rule, set while it is empty (moto's rule)."""
    name = f"test-default-{uuid.uuid4().hex[:12]}"
    client.make_bucket(name, object_lock=True)
    client.set_object_lock_config(name, ObjectLockConfig(COMPLIANCE, days, DAYS))
    return name


def test_bucket_default_retention_is_emulated(s3_client: Minio) -> None:
    """Pins the emulation the next tests rely on: a plain PUT inherits the default lock."""
    name = _default_bucket(s3_client)
    body = b"x"
    r = s3_client.put_object(
        name, "k", io.BytesIO(body), 1, metadata=_checksum_headers(zlib.crc32(body))
    )
    meta = s3_client.stat_object(name, "k", version_id=r.version_id).metadata or {}
    assert meta["x-amz-object-lock-mode"] == "COMPLIANCE"
    with pytest.raises(S3Error):
        s3_client.remove_object(name, "k", version_id=r.version_id)


def test_default_retention_leaves_the_hold_canary_and_is_not_fatal(
    s3_settings: S3Settings, s3_client: Minio
) -> None:
    """``mc retention set --default COMPLIANCE 30d``: the hold canary inherits the lock, so
    it cannot be removed after its hold is released; that must not stop the archiver, and the
    hold check is reported inconclusive (safe) rather than passed."""
    name = _default_bucket(s3_client)
    settings = S3Settings(**{**_fields(s3_settings), "bucket": name, "allow_unsafe_worm": False})
    client = _strict_client(settings)
    with structlog.testing.capture_logs() as logs:
        result = check_worm(client, settings)
    assert not result.unsafe, result.problems
    assert result.default_retention is not None and "COMPLIANCE" in result.default_retention
    assert result.legal_hold_delete_refused and result.legal_hold_inconclusive
    assert len(result.canaries_left) == 1 and "-legalhold-" in result.canaries_left[0]
    events = [e["event"] for e in logs]
    assert "storage_worm_canary_left" in events and "storage_worm_hold_inconclusive" in events
    left = result.canaries_left[0]
    meta = client.stat_object(name, left).metadata or {}
    assert str(meta.get("x-amz-object-lock-legal-hold", "OFF")).upper() == "OFF"
    assert meta["x-amz-object-lock-mode"] == "COMPLIANCE"  # held by the default, for a sweep
    # A second start-up on the same bucket works too (the leftover canary is not in the way).
    again = check_worm(client, settings)
    assert not again.unsafe and len(again.canaries_left) == 1


def test_default_retention_on_moto_still_reports_moto_as_unsafe(
    s3_settings: S3Settings, s3_client: Minio
) -> None:
    name = _default_bucket(s3_client)
    settings = S3Settings(**{**_fields(s3_settings), "bucket": name})
    result = check_worm(s3_client, settings)  # allow_unsafe_worm: moto shortens COMPLIANCE
    assert result.problems == ("COMPLIANCE retention could be shortened",)
    assert result.overridden and result.legal_hold_inconclusive


def _fields(settings: S3Settings) -> dict[str, Any]:
    return {f: getattr(settings, f) for f in S3Settings.__slots__}


def test_the_probe_runs_once_then_on_demand_and_a_refusal_stands(
    tmp_path: Path,
    moto_endpoint: str,
    bucket: str,
    s3_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 14 part 2: a command reuses the recorded WORM result (no canary objects, no
    quarter second) once the store was checked; the daemon and ``check_storage`` probe
    again; a recorded refusal refuses every command until a probe passes."""
    probes: list[str] = []
    real = s3_worm_module.self_check

    def counting(storage: S3Storage) -> Any:
        probes.append(storage.bucket)
        return real(storage)

    permissive = s3_module.make_client
    monkeypatch.setattr(s3_worm_module, "self_check", counting)
    monkeypatch.setattr(s3_module, "make_client", _strict_client)
    config = _config(tmp_path, moto_endpoint, bucket)
    open_app(str(config)).close()  # never checked: probed
    assert probes == [bucket]
    app = open_app(str(config))  # checked and safe: the recorded result stands
    try:
        assert probes == [bucket]
        assert app.worm_check is not None and not app.worm_check.unsafe
    finally:
        app.close()
    open_app(str(config), check_storage=True).close()  # asked: probed again
    assert probes == [bucket, bucket]

    # The same bucket through moto's permissive client fails; the refusal is recorded and
    # then refuses without a new probe, until the store passes a probe again.
    monkeypatch.setattr(s3_module, "make_client", permissive)
    with pytest.raises(WormRefusedError):
        open_app(str(config), check_storage=True)
    assert len(probes) == 3
    with pytest.raises(WormRefusedError) as err:
        open_app(str(config))
    assert len(probes) == 3 and "does not enforce WORM" in str(err.value)
