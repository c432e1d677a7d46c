"""Start-up imports only what a command uses (issue 14 part 2).

Not timed (speed is measured by ``bench/startup.py``): these check *which* modules load, in a
fresh interpreter, so a module-level import of a heavy library in the CLI shows up here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("sqlalchemy", "alembic", "minio", "boto3", "httpx", "structlog", "jinja2", "asyncio")


def _loaded_after(code: str, env_config: Path | None = None) -> set[str]:
    probe = (
        "import sys, json\n"
        f"{code}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = None
    if env_config is not None:
        import os

        env = dict(os.environ, ARCHIVER_CONFIG=str(env_config))
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_database_storage_or_http_library() -> None:
    loaded = _loaded_after("import archiver.cli")
    assert "archiver" in loaded and "typer" in loaded  # the probe can see imports
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_help_loads_no_database_storage_or_http_library() -> None:
    code = (
        "sys.argv = ['archiver', '--help']\n"
        "from archiver.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    loaded = _loaded_after(code)
    assert not loaded & {"sqlalchemy", "alembic", "minio", "boto3", "httpx"}, sorted(loaded)


def _status_probe(config: Path) -> tuple[set[str], dict[str, object]]:
    """Modules loaded by ``archiver status --json`` in a fresh interpreter, and its output."""
    probe = (
        "import sys, json, io, contextlib\n"
        "sys.argv = ['archiver', 'status', '--json']\n"
        "from archiver.cli import app\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n        app()\n    except SystemExit as e:\n        assert not e.code, e.code\n"
        "print(json.dumps([sorted({m.split('.')[0] for m in sys.modules}), out.getvalue()]))\n"
    )
    import os

    env = dict(os.environ, ARCHIVER_CONFIG=str(config))
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    loaded, output = json.loads(run.stdout.strip().splitlines()[-1])
    return set(loaded), json.loads(output)


def test_status_on_a_quiet_embedded_catalog_loads_no_sqlalchemy(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    config = tmp_path / "archiver.toml"
    config.write_text(f'[archive]\nroot = "{root}"\ncity = "City of Bozeman"\n', "utf-8")
    # The first status creates the catalog (Alembic runs) and records the config.
    first, first_out = _status_probe(config)
    assert "sqlalchemy" in first and "alembic" in first
    # The next one has nothing to write: it reads the catalog with the stdlib driver
    # (archiver.catalog.sql) and says the same.
    second, second_out = _status_probe(config)
    assert "sqlite3" in second and "archiver" in second  # the probe can see imports
    assert "sqlalchemy" not in second, "status imported SQLAlchemy on a quiet catalog"
    assert second_out == first_out
    # Nor what only harvests, signing, mail or logging need: status writes no WARC, signs
    # nothing, sends no mail and logs nothing at the default level.
    unused = {"alembic", "minio", "boto3", "warcio", "cryptography", "jinja2", "tenacity"}
    assert not second & (unused | {"structlog", "httpx"}), sorted(second & unused)
    # Nor the scheduler (the default crontab lines are not parsed) or the webhook server.
    server_side = {"apscheduler", "asyncio", "http"}
    assert not second & server_side, sorted(second & server_side)
    # A changed config file is recorded in the audit log by the full path (SQLAlchemy);
    # the status after it is quiet again, and both say the same.
    config.write_text(config.read_text("utf-8") + "\n# edited by the clerk\n", "utf-8")
    third, third_out = _status_probe(config)
    assert "sqlalchemy" in third and third_out == first_out
    fourth, fourth_out = _status_probe(config)
    assert "sqlalchemy" not in fourth and fourth_out == first_out


def test_logging_settings_apply_when_structlog_loads_late() -> None:
    """``archiver.log.configure`` before structlog is imported: the first log call loads it
    with those settings (level and JSON), so a lazily loaded logger cannot ignore them."""
    probe = (
        "import sys, json\n"
        "from archiver.log import configure, get_logger\n"
        "configure(json=True, level='WARNING')\n"
        "log = get_logger('probe')\n"
        "before = 'structlog' in sys.modules\n"
        "log.info('hidden_event')\n"
        "below = 'structlog' in sys.modules\n"
        "log.warning('shown_event', n=1)\n"
        "print(json.dumps([before, below, 'structlog' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    # Not loaded before something logged, nor by a call below the level; loaded to log.
    assert json.loads(out.stdout) == [False, False, True]
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    assert [(x["event"], x["level"], x["n"]) for x in lines] == [("shown_event", "warning", 1)]


def test_a_bound_logger_loads_structlog_only_when_it_logs() -> None:
    """``bind`` (every harvest binds its run's logger) is lazy too, and what was bound is in
    the event when it is finally logged, nested binds included."""
    probe = (
        "import sys, json\n"
        "from archiver.log import configure, get_logger\n"
        "configure(json=True, level='WARNING')\n"
        "log = get_logger('probe').bind(site='s1').bind(run='r1')\n"
        "log.info('hidden_event')\n"
        "before = 'structlog' in sys.modules\n"
        "log.bind(bundle='b1').warning('shown_event', n=2)\n"
        "print(json.dumps([before, 'structlog' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [False, True]
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    assert [(x["event"], x["site"], x["run"], x["bundle"], x["n"]) for x in lines] == [
        ("shown_event", "s1", "r1", "b1", 2)
    ]
