"""`make install-prod` from a fresh virtual environment, and the lock kept in step."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.support.production import PRODUCTION_ENV, ROOT

# bin/lockfile.py is a script, not a module of a package.
LOCKFILE = runpy.run_path(str(ROOT / "bin" / "lockfile.py"))
problems = LOCKFILE["problems"]
pins = LOCKFILE["pins"]


@pytest.mark.slow
def test_install_prod_installs_exactly_the_lock_into_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {**os.environ, "PYTHON": shutil.which("python3.11") or sys.executable}
    result = subprocess.run(
        ["make", "--no-print-directory", "install-prod", f"VENV={venv}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No broken requirements found." in result.stdout

    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {canonicalize_name(p["name"]): p for p in json.loads(listed)}
    for name, version in pins((ROOT / "requirements.lock").read_text()).items():
        assert installed[name]["version"] == version, name
    # The project's metadata, not editable: the app itself runs from the checkout.
    assert installed["voxkeys"]["version"] == "0.1.0"
    assert [p["name"] for p in installed.values() if "editable_project_location" in p] == []

    checked = subprocess.run(
        [str(venv / "bin" / "python"), "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env={**PRODUCTION_ENV, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_committed_lock_is_in_step_with_pyproject() -> None:
    assert problems(ROOT / "requirements.lock", ROOT / "pyproject.toml") == []


def test_a_dependency_added_without_a_new_lock_fails_the_check(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        (ROOT / "pyproject.toml")
        .read_text()
        .replace("dependencies = [\n", 'dependencies = [\n    "left-pad>=1.0,<2",\n', 1)
    )
    assert problems(ROOT / "requirements.lock", pyproject) == [
        "added or changed since the lock: left-pad>=1.0,<2",
        "left-pad has no pin in requirements.lock",
    ]


def test_a_pin_outside_the_declared_range_fails_the_check(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    text = (ROOT / "requirements.lock").read_text()
    pinned = next(line for line in text.splitlines() if line.startswith("django-htmx=="))
    lock.write_text(text.replace(pinned, "django-htmx==2.0.0 \\"))
    assert problems(lock, ROOT / "pyproject.toml") == [
        "django-htmx==2.0.0 in requirements.lock is not django-htmx<2,>=1.23"
    ]


def test_a_lock_without_the_stamp_fails_the_check(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("django==5.2.1 \\\n    --hash=sha256:00\n")
    assert problems(lock, ROOT / "pyproject.toml")[0] == (
        "requirements.lock has no stamped dependency list"
    )
