"""Staff users and their clients, for the Django admin's tests."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory

STAFF_EMAIL = "helpdesk@voxkeys.test"


def staff_with(*perms: str, email: str = STAFF_EMAIL) -> User:
    """A staff user (not a superuser) with exactly these permissions ("app.codename")."""
    user = UserFactory(email=email, is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def new_superuser(email: str = "root@voxkeys.test") -> User:
    return UserFactory(email=email, is_staff=True, is_superuser=True)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def user_form(user: User, **changes: object) -> dict[str, object]:
    """The user change form as the admin posts it, with `changes` on top."""
    data: dict[str, object] = {
        "email": user.email,
        "full_name": user.full_name,
        "is_active": "on",
        "date_joined_0": "2024-01-02",
        "date_joined_1": "03:04:05",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data
