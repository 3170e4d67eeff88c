"""The packages keep their borders: what imports what, and rules declared once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "activity", "api", "apikeys", "voice", "voxkeys")


def modules(*packages: str) -> list[Path]:
    return sorted(
        path
        for package in packages
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def imported_names(path: Path) -> set[str]:
    """Every module (and module.name for `from m import name`) the file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_readiness_asks_the_auth_package_not_its_internals() -> None:
    imported = imported_names(ROOT / "api" / "health.py")
    internal = {name for name in imported if name.startswith("apikeys.auth.")}
    assert internal == set()
    assert "apikeys.auth" in imported


def test_accounts_records_events_through_the_activity_app() -> None:
    for path in modules("accounts"):
        imported = imported_names(path)
        assert not imported & {"apikeys.events", "apikeys.models.KeyEvent"}, path
    assert "activity.events.record_event" in imported_names(ROOT / "accounts" / "services.py")


def test_the_activity_log_depends_on_no_feature_app() -> None:
    for path in modules("activity"):
        if path.name == "admin.py":  # the admin shares apikeys' secret-safe base class
            continue
        runtime = {
            name for name in imported_names(path) if name.startswith(("apikeys", "voice", "api."))
        }
        assert runtime <= {"apikeys.models", "apikeys.models.ApiKey"}, path


def test_the_api_prefix_is_declared_once() -> None:
    declared = []
    for path in modules(*APPS):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "API_PREFIX"
                for target in node.targets
            ):
                declared.append(path.relative_to(ROOT).as_posix())
    assert declared == ["api/__init__.py"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "old, new",
    [
        ("/admin/apikeys/keyevent/", "/admin/activity/activityevent/"),
        (
            "/admin/apikeys/keyevent/?event_type__exact=created",
            "/admin/activity/activityevent/?event_type__exact=created",
        ),
        ("/admin/apikeys/keyevent/7/change/", "/admin/activity/activityevent/7/change/"),
    ],
)
def test_the_activity_logs_old_admin_addresses_lead_to_the_new_ones(old: str, new: str) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root@voxkeys.test", "x"))
    response = client.get(old)
    assert response.status_code == 302
    assert response["Location"] == new
