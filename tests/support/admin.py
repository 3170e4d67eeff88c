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
