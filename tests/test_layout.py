"""The test suite stays navigable: no test module imports another test module.

A test module that imports from another drags that module's tests, fixtures and import-time
work along, hides where a helper really lives, and under pytest-xdist can register fixtures
twice. Shared pieces belong in an area's ``conftest.py`` (fixtures) or in a non-test helper
module (``tests/helpers.py``, ``tests/retention_kit.py``, ``tests/storage_kit.py``,
``tests/<area>/helpers.py``, ``tests/connectors/<platform>_scene.py``).

Nor does a module import another area's ``conftest.py``: re-exporting its fixtures makes a
second copy of each (a second session-scoped S3 server per importing module); fixtures used
across areas are registered once as plugins in ``tests/conftest.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(dotted: str) -> bool:
    return any(part.startswith("test_") for part in dotted.split("."))


def imported_test_modules(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, module) for every import in ``source`` that names a ``test_*`` module, including
    relative ones (``from .test_x import y``, ``from . import test_x``)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if _is_test_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if _is_test_module(module):
                found.append((node.lineno, module))
            else:
                found += [
                    (node.lineno, f"{module}.{a.name}")
                    for a in node.names
                    if a.name.startswith("test_")
                ]
    return found


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import tests.report.test_build\n"
        "from tests.daemon.test_daemon import config_for\n"
        "from .test_render import sample_report\n"
        "from tests.connectors import test_facebook\n"
        "def f() -> None:\n"
        "    from tests.report.test_mailer import free_port\n"
        "from tests.report.helpers import free_port\n"
        "from tests.retention_kit import app_for\n"
    )
    assert [line for line, _ in imported_test_modules(source, "<sample>")] == [1, 2, 3, 4, 6]


def test_no_test_module_imports_another() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}: imports {module}"
        for path in sorted(TESTS.rglob("test_*.py"))
        for line, module in imported_test_modules(path.read_text(encoding="utf-8"), str(path))
    ]
    assert offenders == [], (
        "move the shared code into the area's conftest.py or a helper module:\n"
        + "\n".join(offenders)
    )


def foreign_conftests(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every ``conftest`` imported by ``path`` that is not in one of its
    own folders (its area's or the suite root's, which pytest already applies to it)."""
    own = {
        ".".join((*d.relative_to(TESTS.parent).parts, "conftest"))
        for d in path.parents
        if d == TESTS or TESTS in d.parents
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names if n.endswith(".conftest") and n not in own]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.endswith(".conftest")]
    return found


def test_no_module_imports_another_areas_conftest() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}: imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, module in foreign_conftests(path)
    ]
    assert offenders == [], (
        "register shared fixtures as a plugin in tests/conftest.py instead:\n"
        + "\n".join(offenders)
    )
