"""The shipped systemd files are valid, hardened, and compatible with the Python stack.

``systemd-analyze verify`` only *warns* (rc 0) about unknown keys or bad values, so every
check here demands an empty stderr, not just rc 0. systemd 252 says nothing about a missing
``User=``, so no stderr line is filtered out. Without systemd-analyze the tests skip on a
laptop but fail when ``CI=true`` (the CI script installs systemd when it is missing).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD_DIR = ROOT / "systemd"
UNIT = SYSTEMD_DIR / "archiver.service"
WORKER_UNIT = SYSTEMD_DIR / "archiver-worker.service"
UNITS = pytest.mark.parametrize("unit_file", [UNIT, WORKER_UNIT], ids=["daemon", "worker"])
EXEC_START = "/opt/archiver/.venv/bin/archiver"
MAX_EXPOSURE = 2.5


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required in CI: apt-get install -y systemd")
        pytest.skip(f"{name} not installed (apt-get install systemd)")
    return path


def _unit_copy(
    tmp_path: Path,
    extra: str = "",
    uncomment_credentials: bool = False,
    unit_file: Path = UNIT,
) -> Path:
    """The unit with ExecStart on a binary that exists here; verify rejects a missing one."""
    text = unit_file.read_text(encoding="utf-8")
    assert f"ExecStart={EXEC_START} " in text
    text = text.replace(f"ExecStart={EXEC_START} ", f"ExecStart={sys.executable} ")
    if uncomment_credentials:
        text, n = re.subn(r"^#   (LoadCredential(?:Encrypted)?=)", r"\1", text, flags=re.M)
        assert n >= 3, "the credential examples in the unit's comments went missing"
    if extra:
        text = text.replace("[Service]\n", f"[Service]\n{extra}\n", 1)
    out = tmp_path / unit_file.name
    out.write_text(text, encoding="utf-8")
    return out


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("systemd-analyze"), "verify", str(unit)],
        capture_output=True,
        text=True,
        cwd=unit.parent,
        timeout=60,
    )


def _unit_settings(path: Path) -> dict[str, list[str]]:
    """Key -> every value it is given (systemd keys may repeat), ignoring comments."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@UNITS
def test_verify_is_silent(tmp_path: Path, unit_file: Path) -> None:
    result = _verify(_unit_copy(tmp_path, unit_file=unit_file))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == ""


@UNITS
def test_verify_is_silent_with_credential_examples_enabled(tmp_path: Path, unit_file: Path) -> None:
    """The LoadCredential lines the comments tell admins to copy must themselves be valid."""
    result = _verify(_unit_copy(tmp_path, uncomment_credentials=True, unit_file=unit_file))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_verify_gate_catches_a_bad_key(tmp_path: Path) -> None:
    """Control: proves an rc-0 warning really lands on stderr, so the checks above can fail."""
    result = _verify(_unit_copy(tmp_path, extra="BogusHardening=yes"))
    assert result.returncode == 0
    assert "BogusHardening" in result.stderr


@UNITS
def test_security_exposure_is_ok(tmp_path: Path, unit_file: Path) -> None:
    unit = _unit_copy(tmp_path, unit_file=unit_file)
    result = subprocess.run(
        [_tool("systemd-analyze"), "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?) (\w+)", result.stdout)
    assert match, result.stdout[-500:]
    exposure = float(match.group(1))
    print(f"systemd-analyze security exposure: {exposure} {match.group(2)}")
    assert exposure <= MAX_EXPOSURE, result.stdout


def test_unit_has_the_settings_the_daemon_relies_on() -> None:
    s = _unit_settings(UNIT)
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "ExecStart": f"{EXEC_START} --log-level INFO --log-json daemon --config /etc/archiver/archiver.toml",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "User": "archiver",
        "Group": "archiver",
        "WatchdogSec": "120",
        "Restart": "on-failure",
        "RestartSec": "30",
        "TimeoutStopSec": "300",
        "StateDirectory": "archiver",
        "ConfigurationDirectory": "archiver",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "MemoryDenyWriteExecute": "yes",
        "PrivateUsers": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0027",
        "EnvironmentFile": "-/etc/archiver/secrets.env",
    }
    for key, value in expected.items():
        assert s.get(key) == [value], key
    assert "ARCHIVER_CONFIG=/etc/archiver/archiver.toml" in s["Environment"]
    assert s["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    # Secrets are only ever loaded through drop-ins; none may be baked into the vendor unit.
    assert not any(k.startswith("LoadCredential") for k in s)


def test_sysusers_and_tmpfiles_build_a_scratch_root(tmp_path: Path) -> None:
    """Run the real tools against an empty --root: the user exists and the modes are right."""
    if os.geteuid() != 0:
        pytest.skip("systemd-tmpfiles --root needs root to chown")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    sysusers = subprocess.run(
        [
            _tool("systemd-sysusers"),
            f"--root={root}",
            str(SYSTEMD_DIR / "archiver.sysusers.conf"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sysusers.returncode == 0, sysusers.stderr
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in (root / "etc/passwd").read_text().splitlines()
    }
    user = passwd["archiver"]
    assert user[4] == "Social media records archiver"
    assert user[5] == "/var/lib/archiver"
    assert user[6].endswith("nologin")
    uid, gid = int(user[2]), int(user[3])
    assert 0 < uid < 1000

    tmpfiles = subprocess.run(
        [
            _tool("systemd-tmpfiles"),
            f"--root={root}",
            "--create",
            str(SYSTEMD_DIR / "archiver.tmpfiles.conf"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tmpfiles.returncode == 0, tmpfiles.stderr
    assert tmpfiles.stderr == ""
    expected = {
        "var/lib/archiver": (0o750, uid, gid),
        "etc/archiver": (0o750, 0, gid),
        "etc/archiver/credentials": (0o700, 0, 0),
    }
    for rel, (mode, owner, group) in expected.items():
        st = (root / rel).stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, owner, group), rel


_MDWE_PROBE = textwrap.dedent(
    """
    import ctypes, io, mmap, sys
    libc = ctypes.CDLL(None, use_errno=True)
    # PR_SET_MDWE=65, PR_MDWE_REFUSE_EXEC_GAIN=1: the kernel's MemoryDenyWriteExecute.
    if libc.prctl(65, 1, 0, 0, 0) != 0:
        print("NO-MDWE", ctypes.get_errno())
        sys.exit(3)
    import hashlib, json, sqlite3, ssl
    import apscheduler, httpx, jinja2, minio, psycopg, rich, sqlalchemy, structlog, typer
    import warcio
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from archiver.db import make_engine
    from archiver.sdnotify import Notifier
    engine = make_engine("sqlite:///:memory:")
    with engine.connect() as conn:
        q = sqlalchemy.text("select json_extract(:j, '$.a')")
        assert conn.execute(q, {"j": '{"a": 1}'}).scalar() == 1
    ssl.create_default_context()
    assert jinja2.Template("{{ x|upper }}").render(x="ok") == "OK"
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:4] == b"\\x89PNG"
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except PermissionError:
        print("STACK-OK MDWE-ENFORCED")
    else:
        print("MDWE-NOT-ENFORCED")
    """
)


def test_python_stack_runs_under_memory_deny_write_execute() -> None:
    """MemoryDenyWriteExecute=yes kills anything that JITs; prove our imports do not."""
    result = subprocess.run(
        [sys.executable, "-c", _MDWE_PROBE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    if result.returncode == 3 and result.stdout.startswith("NO-MDWE"):
        pytest.skip(f"kernel lacks PR_SET_MDWE (needs Linux 6.3+): {result.stdout.strip()}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "STACK-OK MDWE-ENFORCED"
