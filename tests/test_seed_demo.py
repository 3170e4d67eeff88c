from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Membership, User
from activity.models import ActivityEvent
from apikeys.insight import daily_usage, scopes_in_use, top_errors
from apikeys.models import ApiKey, KeyUsage

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    return {
        "accounts": sorted(
            Account.objects.values_list("name", "status", "api_key_limit", "credit_balance")
        ),
        "memberships": sorted(
            Membership.objects.values_list("user__email", "account__name", "role")
        ),
        "users": sorted(User.objects.values_list("email", "is_staff", "is_superuser")),
        "keys": sorted(ApiKey.objects.values_list("account__name", "name", "scopes", "key_digest")),
    }


def test_seed_demo_twice_gives_the_same_data() -> None:
    out = io.StringIO()
    call_command("seed_demo", password="pw-one", stdout=out)
    first = snapshot()
    call_command("seed_demo", password="pw-one", stdout=io.StringIO())
    assert snapshot() == first
    assert "owner@acme.test" in out.getvalue() and "pw-one" in out.getvalue()


def test_seed_demo_creates_the_documented_cast() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    acme = Account.objects.get(name="Acme Voice")
    assert (acme.status, acme.api_key_limit, acme.credit_balance) == ("active", 25, 5000)
    roles = dict(acme.memberships.values_list("user__email", "role"))
    assert roles == {
        "owner@acme.test": "owner",
        "admin@acme.test": "admin",
        "member@acme.test": "member",
        "agency@voxkeys.test": "admin",
    }
    assert Account.objects.get(name="Initech").status == "suspended"
    umbrella = Account.objects.get(name="Umbrella")
    assert umbrella.api_key_limit == 2 and umbrella.api_keys.active().count() == 2
    assert acme.api_keys.active().count() >= 3
    assert len({key.scopes for key in acme.api_keys.all()}) >= 3
    globex_roles = dict(
        Account.objects.get(name="Globex").memberships.values_list("user__email", "role")
    )
    assert globex_roles == {"owner@globex.test": "owner", "agency@voxkeys.test": "admin"}
    assert User.objects.get(email="owner@umbrella.test").memberships.count() == 1
    superuser = User.objects.get(email="admin@voxkeys.test")
    assert superuser.is_superuser and superuser.is_staff
    assert User.objects.get(email="owner@acme.test").check_password("voxkeys-demo")


def test_seed_demo_shows_the_key_lifecycle() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    keys = {key.name: key for key in Account.objects.get(name="Acme Voice").api_keys.all()}
    soon = keys["WordPress Integration"]
    assert soon.is_active and soon.expires_at - timezone.now() < timedelta(days=6)
    old, new = ApiKey.objects.filter(name="Zapier Automation").order_by("pk")
    assert old.in_grace_period and old.replaced_by == new and new.is_active
    assert keys["Development Environment"].environment == "test"
    assert keys["Development Environment"].masked_key.startswith("vxp_test_")
    expired = keys["Legacy Dialer"]
    assert expired.is_expired() and not expired.is_revoked
    events = set(ActivityEvent.objects.values_list("event_type", flat=True))
    assert events == {"created", "rolled", "expired"}


def test_the_demo_keys_carry_30_days_of_usage_a_hint_and_the_hygiene_summary(
    client: Client,
) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    acme = Account.objects.get(name="Acme Voice")
    production = acme.api_keys.get(name="Production Server – Main App")
    days = daily_usage(production)
    assert all(day.requests for day in days)  # every one of the 30 days
    assert sum(day.errors for day in days) > 0
    codes = {error.code for error in top_errors(production, limit=10)}
    assert {"insufficient_scope", "ip_not_allowed", "rate_limited"} <= codes
    assert production.clients.count() == 3
    assert {use.scope for use in scopes_in_use(production) if use.last_used_at} == {
        "calls:read",
        "calls:write",
    }
    total = KeyUsage.objects.aggregate(total=Sum("requests"))["total"]
    call_command("seed_demo", stdout=io.StringIO())
    assert KeyUsage.objects.aggregate(total=Sum("requests"))["total"] == total

    client.force_login(User.objects.get(email="owner@acme.test"))
    response = client.get(reverse("apikeys:index"))
    content = " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
    assert "1 of 3 scopes unused for 30 days · Review" in content
    assert "Unused for 30 days · Revoke? Marketing Automation" in content
    assert "Keys that need attention" in content
