"""Real small filesystems for resource-failure tests: a tmpfs of a few megabytes.

The tests run as root in CI and on the development machine, where ``mount -t tmpfs`` works;
where it does not, the fixture says so (a test cannot pretend a disk filled up).
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def run_cli(
    config: Path, *args: str, runner: Runner | None = None, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "archiver", "--config", str(config), *args]
    env = dict(os.environ, COLUMNS="400", ARCHIVER_LOG_LEVEL="CRITICAL")
    if runner is not None:
        cmd = [*runner.prefix, "-m", "archiver", "--config", str(config), *args]
        env.update(runner.env)
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line a resource failure must end in."""
    no_traceback(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), result.stderr
    return lines[0]


class Runner:
    """Runs the CLI as another (unprivileged) user."""

    def __init__(self, prefix: list[str], env: dict[str, str]) -> None:
        self.prefix = prefix
        self.env = env


@pytest.fixture
def nobody(tmp_path: Path) -> Iterator[Runner]:
    """The CLI as user ``nobody``.

    The interpreter may live where ``nobody`` cannot enter (``/root/.pyenv``), and so may the
    checkout with its virtualenv (a clone under ``mktemp -d`` is mode 0700): both are
    bind-mounted read-only under ``tmp_path`` and the mounted packages are put on the path.
    """
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to run a command as another user")
    mnt = tmp_path / "python"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "--bind", "-o", "ro", sys.base_prefix, str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount the interpreter: {done.stderr.strip()}")
    # CPython's own record of the interpreter a venv was made from; typeshed does not list it.
    base_exe = sys._base_executable  # type: ignore[attr-defined]
    exe = mnt / Path(base_exe).relative_to(sys.base_prefix)
    project = Path(__file__).resolve().parents[2]
    # The checkout's root may be closed to others, so its package folders are mounted one by
    # one into an open folder (a mount keeps the permissions of what it shows).
    seen = tmp_path / "project"
    mounts = [mnt]
    for name in ("archiver", "connectors", "fakes", ".venv"):
        if not (project / name).is_dir():
            continue
        (seen / name).mkdir(parents=True)
        done = subprocess.run(
            ["mount", "--bind", "-o", "ro", str(project / name), str(seen / name)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            for m in mounts:
                subprocess.run(["umount", "-l", str(m)], check=False)
            pytest.skip(f"cannot bind-mount {project / name}: {done.stderr.strip()}")
        mounts.append(seen / name)

    def visible(p: str) -> str:
        return str(seen / Path(p).relative_to(project)) if Path(p).is_relative_to(project) else p

    path = os.pathsep.join([*map(visible, site.getsitepackages()), str(seen)])
    try:
        # A shared-library build finds its own libpython through the mount, not the system's
        # (another 3.11 whose extension-module ABI differs: `_ssl` would fail to load).
        env = {"PYTHONPATH": path, "LD_LIBRARY_PATH": str(mnt / "lib")}
        yield Runner(["runuser", "-u", "nobody", "--", str(exe)], env)
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", str(m)], check=False)


class Tmpfs:
    """A mounted tmpfs: fill it, free it, remount it read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler.bin"

    def free(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int) -> None:
        """Leave about ``leave`` bytes free (tmpfs counts in pages)."""
        with self.filler.open("ab") as fh:
            fh.write(b"\0" * max(0, self.free() - leave))

    def unfill(self) -> None:
        self.filler.unlink(missing_ok=True)

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield Tmpfs(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
