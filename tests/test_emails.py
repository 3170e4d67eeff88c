"""One canonical form of an email: stored, looked up, counted by the lockout, migrated."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.emails import canonical_email
from accounts.models import Membership, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

EMAIL = "rt1@acme.test"
LONG_S = "rt1@acme.te\u017ft"  # LATIN SMALL LETTER LONG S
FULLWIDTH = "\uff52\uff54\uff11@acme.test"  # ｒｔ１
VARIANTS = ["RT1@Acme.TEST", f"  {EMAIL}\t", LONG_S, FULLWIDTH, "Rt1@ACME.TE\u017fT"]


def sign_in(client: Client, email: str, password: str, path: str = "/login/") -> int:
    return client.post(path, {"username": email, "password": password}).status_code


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Owner@ACME.test", "owner@acme.test"),
        (" owner@acme.test\n", "owner@acme.test"),
        (LONG_S, EMAIL),
        (FULLWIDTH, EMAIL),
        ("stra\u00dfe@acme.test", "strasse@acme.test"),  # ß casefolds to ss
        ("\ufb01nance@acme.test", "finance@acme.test"),  # the ﬁ ligature
        ("adm\u0131n@voxkeys.test", "adm\u0131n@voxkeys.test"),  # dotless i is its own letter
    ],
)
def test_the_canonical_form(typed: str, canonical: str) -> None:
    assert canonical_email(typed) == canonical


@pytest.mark.parametrize("typed", VARIANTS)
def test_every_way_of_creating_a_user_stores_the_canonical_form(typed: str) -> None:
    assert User.objects.create_user(typed, PASSWORD).email == EMAIL
    User.objects.all().delete()
    assert UserFactory(email=typed).email == EMAIL
    assert User.objects.get().email == EMAIL


@pytest.mark.parametrize("typed", VARIANTS)
def test_a_variant_signs_in_as_the_same_user(typed: str) -> None:
    UserFactory(email=EMAIL)
    client = Client()
    assert sign_in(client, typed, PASSWORD) == 302
    assert client.session[SESSION_KEY] == str(User.objects.get(email=EMAIL).pk)


@pytest.mark.parametrize("typed", VARIANTS)
def test_variants_count_on_one_lockout_counter(typed: str) -> None:
    UserFactory(email=EMAIL)
    client = Client()
    statuses = [sign_in(client, EMAIL, "wrong") for _ in range(4)]
    statuses.append(sign_in(client, typed, "wrong"))
    assert statuses == [200, 200, 200, 200, 429]
    # Locked, whichever way the address is written.
    for variant in [EMAIL, *VARIANTS]:
        assert sign_in(client, variant, PASSWORD) == 429
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_a_dotless_i_is_another_address_and_signs_in_as_nobody(path: str) -> None:
    UserFactory(email="admin@voxkeys.test", is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(5):
        sign_in(client, "admin@voxkeys.test", "wrong", path)
    assert sign_in(client, "admin@voxkeys.test", PASSWORD, path) == 429

    assert sign_in(client, "adm\u0131n@voxkeys.test", PASSWORD, path) == 200
    assert SESSION_KEY not in client.session


def test_lookups_are_exact_on_the_canonical_form() -> None:
    user = UserFactory(email="admin@voxkeys.test")
    assert User.objects.get_by_natural_key(" ADMIN@voxkeys.test") == user
    # PostgreSQL's UPPER('ı') is 'I': a case-insensitive lookup would find the admin.
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key("adm\u0131n@voxkeys.test")


migration = importlib.import_module("accounts.migrations.0006_canonical_emails")


def test_the_migration_canonicalizes_stored_emails(owner: Membership) -> None:
    # update() bypasses save(), as rows written before the canonical form did.
    User.objects.filter(pk=owner.user.pk).update(email=" Owner@ACME.te\u017ft")
    migration.canonicalize_emails(apps, None)
    assert User.objects.get(pk=owner.user.pk).email == "owner@acme.test"


def test_the_migration_stops_on_a_collision_and_changes_nothing(owner: Membership) -> None:
    other = UserFactory(email="someone@acme.test")
    User.objects.filter(pk=other.pk).update(email="OWNER@acme.te\u017ft")
    untouched = UserFactory(email="x@acme.test")
    User.objects.filter(pk=untouched.pk).update(email="X@ACME.test")

    with pytest.raises(RuntimeError, match="owner@acme.test: 'owner@acme.test'") as error:
        migration.canonicalize_emails(apps, None)
    assert "'OWNER@acme.te\u017ft'" in str(error.value)
    assert User.objects.get(pk=untouched.pk).email == "X@ACME.test"
