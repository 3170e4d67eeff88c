"""The suite's own layout: a test module never imports another; shared helpers live in
tests/support/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TEST_MODULE = re.compile(r"^tests(\.e2e)?\.test_\w+$")


def imported_modules(source: str, package: str) -> set[str]:
    """Return the absolute names of what `source` (a module of `package`) imports; for
    `from x import y`, both x and x.y, since y may be a module."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imported_test_modules(source: str, package: str = "tests") -> set[str]:
    return {name for name in imported_modules(source, package) if TEST_MODULE.match(name)}


def test_no_test_module_imports_another() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        package = ".".join(path.relative_to(TESTS.parent).parent.parts)
        for name in sorted(imported_test_modules(path.read_text(), package)):
            offenders.append(f"{path.relative_to(TESTS.parent)} imports {name}")
    assert offenders == [], "move what they share to tests/support/"


def test_every_spelling_of_such_an_import_is_caught() -> None:
    source = "\n".join(
        [
            "import tests.test_keys",
            "from tests.test_services import create_key",
            "from tests.e2e import test_reveal",
            "from .test_hints import INDEX",
            "from tests.support.api import make_key",
            "from tests import factories",
        ]
    )
    assert imported_test_modules(source, "tests.e2e") == {
        "tests.test_keys",
        "tests.test_services",
        "tests.e2e.test_reveal",
        "tests.e2e.test_hints",
    }
