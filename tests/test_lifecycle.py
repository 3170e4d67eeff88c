"""The key lifecycle in the services and over HTTP: expiry, roll, test keys, edit, events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from accounts.models import Account, Membership
from activity.events import RequestContext
from activity.models import ActivityEvent, AppendOnlyError
from apikeys.expiry import CUSTOM, NEVER, default_expiration, expiration_choices
from apikeys.keys import TEST_PREFIX, is_well_formed
from apikeys.models import ApiKey
from apikeys.services import (
    AlreadyRevoked,
    CreatedKey,
    InvalidKeyInput,
    KeyActionRefused,
    KeyNotActive,
    create_key,
    edit_key,
    record_expirations,
    revoke_key,
    roll_key,
)
from apikeys.templatetags.apikeys_tags import expiry_words
from tests.support.api import bearer

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
CREDITS = "/api/v1/credits"
CONTACTS = "/api/v1/contacts"


def create(membership: Membership, name: str = "Main App", **kwargs: object) -> CreatedKey:
    kwargs.setdefault("scopes", ["calls:read"])
    return create_key(account=membership.account, user=membership.user, name=name, **kwargs)


def api_get(secret: str, path: str = CREDITS):  # noqa: ANN201
    return Client().get(path, headers=bearer(secret))


def events(event_type: str | None = None) -> list[ActivityEvent]:
    queryset = ActivityEvent.objects.all()
    if event_type:
        queryset = queryset.filter(event_type=event_type)
    return list(queryset)


# Expiry -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expiration", "days"), [("30", 30), ("60", 60), ("90", 90), ("180", 180), ("365", 365)]
)
def test_presets_expire_that_many_days_from_now(
    owner: Membership, expiration: str, days: int
) -> None:
    with time_machine.travel(START, tick=False):
        key = create(owner, expiration=expiration).api_key
    assert key.expires_at == START + timedelta(days=days)
    assert key.lifetime == timedelta(days=days)


def test_default_expiry_is_90_days_and_never_means_none(owner: Membership) -> None:
    with time_machine.travel(START, tick=False):
        default = create(owner, name="Default").api_key
        forever = create(owner, name="Forever", expiration=NEVER).api_key
    assert default.expires_at == START + timedelta(days=90)
    assert forever.expires_at is None and forever.lifetime is None


def test_a_key_works_until_the_exact_moment_it_expires(owner: Membership) -> None:
    with time_machine.travel(START, tick=False) as clock:
        created = create(owner, expiration="30")
        clock.move_to(START + timedelta(days=30) - timedelta(microseconds=1))
        assert api_get(created.secret).status_code == 200
        clock.move_to(START + timedelta(days=30))
        response = api_get(created.secret)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "expired_api_key"
    assert "30 December 2026" in error["message"]
    assert "Roll it or create a new key" in error["message"]
    assert response["WWW-Authenticate"] == 'Bearer realm="VoxPria API", error="invalid_token"'


def test_expiry_is_recorded_once_whoever_sees_it_first(owner: Membership) -> None:
    with time_machine.travel(START, tick=False) as clock:
        created = create(owner, expiration="30")
        clock.move_to(START + timedelta(days=31))
        assert api_get(created.secret).status_code == 401
        assert api_get(created.secret).status_code == 401
        assert record_expirations() == 0
    (expired,) = events("expired")
    assert expired.api_key == created.api_key and expired.actor is None
    assert expired.actor_label == "system"


@pytest.mark.parametrize(
    ("expires_on", "error"),
    [
        (date(2026, 11, 30), "from tomorrow on"),
        (date(2027, 12, 1), "no later than 30 November 2027"),
        (None, "Pick the date"),
    ],
)
def test_custom_dates_run_from_tomorrow_to_a_year_ahead(
    owner: Membership, expires_on: date | None, error: str
) -> None:
    with time_machine.travel(START, tick=False):
        with pytest.raises(InvalidKeyInput) as invalid:
            create(owner, expiration=CUSTOM, expires_on=expires_on)
        assert error in invalid.value.errors["expiration"][0]
        tomorrow = create(owner, name="Tomorrow", expiration=CUSTOM, expires_on=date(2026, 12, 1))
        last = create(owner, name="Last", expiration=CUSTOM, expires_on=date(2027, 11, 30))
    assert tomorrow.api_key.expires_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert last.api_key.expires_at == datetime(2027, 11, 30, tzinfo=UTC)
    assert ApiKey.objects.count() == 2


def test_unknown_expiration_is_refused(owner: Membership) -> None:
    with pytest.raises(InvalidKeyInput) as invalid:
        create(owner, expiration="forever")
    assert invalid.value.errors == {"expiration": ["Choose one of the expiration options."]}


def test_maximum_lifetime_removes_longer_choices_and_the_service_refuses_them(
    owner: Membership,
) -> None:
    account = owner.account
    account.max_key_lifetime_days = 60
    account.save()
    with time_machine.travel(START, tick=False):
        values = [choice.value for choice in expiration_choices(account)]
        assert values == ["30", "60", CUSTOM]
        assert default_expiration(account) == "60"
        for expiration, expires_on in [
            (NEVER, None),
            ("90", None),
            (CUSTOM, date(2027, 1, 30)),
        ]:
            with pytest.raises(InvalidKeyInput) as invalid:
                create(owner, expiration=expiration, expires_on=expires_on)
            assert "within 60 days" in invalid.value.errors["expiration"][0] or (
                "no later than 29 January 2027" in invalid.value.errors["expiration"][0]
            )
        create(owner, expiration=CUSTOM, expires_on=date(2027, 1, 29))
    assert ApiKey.objects.count() == 1
    assert events() == events("created")


# Test keys --------------------------------------------------------------------------------------


def test_test_keys_have_their_own_prefix(owner: Membership) -> None:
    created = create(owner, environment="test")
    assert created.secret.startswith(TEST_PREFIX) and is_well_formed(created.secret)
    assert created.api_key.masked_key.startswith(TEST_PREFIX)
    assert not created.api_key.livemode
    assert api_get(created.secret).json()["livemode"] is False


def test_unknown_environment_is_refused(owner: Membership) -> None:
    with pytest.raises(InvalidKeyInput) as invalid:
        create(owner, environment="staging")
    assert "environment" in invalid.value.errors
    assert not ApiKey.objects.exists()


# Roll -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grace", [timedelta(hours=1), timedelta(hours=24), timedelta(days=3), timedelta(days=7)]
)
def test_rolled_key_works_until_its_grace_ends(owner: Membership, grace: timedelta) -> None:
    with time_machine.travel(START, tick=False) as clock:
        old = create(owner, expiration="30", description="eu-west servers")
        clock.move_to(START + timedelta(days=2))
        new = roll_key(key=old.api_key, user=owner.user, grace=grace)
        rolled_at = START + timedelta(days=2)
        assert api_get(old.secret).status_code == 200
        assert api_get(new.secret).status_code == 200
        clock.move_to(rolled_at + grace - timedelta(microseconds=1))
        assert api_get(old.secret).status_code == 200
        clock.move_to(rolled_at + grace)
        response = api_get(old.secret)
        assert response.status_code == 401
        assert "rolled" in response.json()["error"]["message"]
        assert api_get(new.secret).status_code == 200
    successor = new.api_key
    assert new.secret != old.secret
    assert (successor.name, successor.description, successor.scopes, successor.environment) == (
        "Main App",
        "eu-west servers",
        "calls:read",
        "live",
    )
    # The same policy (30 days), counted from the roll.
    assert successor.expires_at == rolled_at + timedelta(days=30)
    old.api_key.refresh_from_db()
    assert old.api_key.replaced_by == successor
    assert old.api_key.expires_at == rolled_at + grace


def test_roll_now_revokes_the_old_key_at_once(owner: Membership) -> None:
    old = create(owner)
    new = roll_key(key=old.api_key, user=owner.user, grace=timedelta(0))
    assert api_get(old.secret).json()["error"]["code"] == "revoked_api_key"
    assert api_get(new.secret).status_code == 200
    old.api_key.refresh_from_db()
    assert old.api_key.revoked_by == owner.user
    assert [event.event_type for event in events()] == ["rolled", "created"]


def test_roll_never_extends_the_old_keys_life(owner: Membership) -> None:
    with time_machine.travel(START, tick=False) as clock:
        old = create(owner, expiration="30")
        clock.move_to(START + timedelta(days=29, hours=22))
        roll_key(key=old.api_key, user=owner.user, grace=timedelta(days=7))
    old.api_key.refresh_from_db()
    assert old.api_key.expires_at == START + timedelta(days=30)


def test_a_key_without_expiry_rolls_to_a_key_without_expiry(owner: Membership) -> None:
    old = create(owner, expiration=NEVER)
    new = roll_key(key=old.api_key, user=owner.user, grace=timedelta(hours=1))
    assert new.api_key.expires_at is None


def test_successor_respects_a_maximum_lifetime_set_since(owner: Membership) -> None:
    old = create(owner, expiration=NEVER)
    owner.account.max_key_lifetime_days = 30
    owner.account.save()
    with time_machine.travel(START, tick=False):
        new = roll_key(key=old.api_key, user=owner.user, grace=timedelta(hours=1))
    assert new.api_key.expires_at == START + timedelta(days=30)


def test_rolling_a_key_in_its_grace_period_is_refused_but_revoking_works(
    owner: Membership,
) -> None:
    old = create(owner)
    roll_key(key=old.api_key, user=owner.user, grace=timedelta(hours=24))
    with pytest.raises(KeyActionRefused) as refused:
        roll_key(key=old.api_key, user=owner.user, grace=timedelta(hours=24))
    assert refused.value.block.code == "already_rolled"
    assert "Roll its replacement instead" in refused.value.block.message
    assert ApiKey.objects.count() == 2
    revoke_key(key=old.api_key, user=owner.user)
    assert api_get(old.secret).json()["error"]["code"] == "revoked_api_key"


def test_roll_follows_the_creation_rules(member: Membership, owner: Membership) -> None:
    old = create(owner)
    with pytest.raises(KeyActionRefused) as refused:
        roll_key(key=old.api_key, user=member.user, grace=timedelta(hours=1))
    assert refused.value.block.code == "role"
    owner.account.status = Account.Status.SUSPENDED
    owner.account.save()
    with pytest.raises(KeyActionRefused) as refused:
        roll_key(key=old.api_key, user=owner.user, grace=timedelta(hours=1))
    assert refused.value.block.code == "account_not_in_good_standing"
    assert ApiKey.objects.count() == 1
    assert events() == events("created")


def test_revoked_or_expired_keys_cannot_be_rolled(owner: Membership) -> None:
    revoked = create(owner, name="Revoked").api_key
    revoke_key(key=revoked, user=owner.user)
    with pytest.raises(KeyNotActive):
        roll_key(key=revoked, user=owner.user, grace=timedelta(hours=1))
    with time_machine.travel(START, tick=False) as clock:
        expiring = create(owner, name="Expiring", expiration="30").api_key
        clock.move_to(START + timedelta(days=31))
        with pytest.raises(KeyNotActive):
            roll_key(key=expiring, user=owner.user, grace=timedelta(hours=1))


@pytest.mark.parametrize("grace", [timedelta(days=8), timedelta(seconds=-1)])
def test_grace_is_at_most_seven_days(owner: Membership, grace: timedelta) -> None:
    old = create(owner)
    with pytest.raises(InvalidKeyInput):
        roll_key(key=old.api_key, user=owner.user, grace=grace)
    assert ApiKey.objects.count() == 1


def test_rolling_counts_against_the_limit_once(owner: Membership) -> None:
    owner.account.api_key_limit = 2
    owner.account.save()
    first = create(owner, name="First")
    create(owner, name="Second")
    # At the limit, a roll still works: the old key in grace and its successor are one key.
    roll_key(key=first.api_key, user=owner.user, grace=timedelta(hours=24))
    assert owner.account.api_keys.active().count() == 3
    assert owner.account.api_keys.counted_against_limit().count() == 2
    with pytest.raises(KeyActionRefused) as refused:
        create(owner, name="Third")
    assert refused.value.block.code == "key_limit_reached"


def test_the_name_rule_treats_a_rolled_key_and_its_successor_as_one(owner: Membership) -> None:
    old = create(owner, name="Main App")
    new = roll_key(key=old.api_key, user=owner.user, grace=timedelta(hours=24))
    with pytest.raises(InvalidKeyInput) as invalid:
        create(owner, name="main app")
    assert "name" in invalid.value.errors
    # Renaming the successor away and back is fine: its predecessor does not hold the name.
    edit_key(
        key=new.api_key, user=owner.user, name="Renamed", description="", scopes=["calls:read"]
    )
    edit_key(
        key=new.api_key, user=owner.user, name="Main App", description="", scopes=["calls:read"]
    )


def test_an_expired_key_frees_its_name(owner: Membership) -> None:
    with time_machine.travel(START, tick=False) as clock:
        create(owner, name="Main App", expiration="30")
        clock.move_to(START + timedelta(days=30))
        create(owner, name="Main App")
    assert ApiKey.objects.filter(name="Main App").count() == 2


# Edit -------------------------------------------------------------------------------------------


def test_scope_edits_take_effect_on_the_next_request(owner: Membership) -> None:
    created = create(owner, scopes=["calls:read"])
    assert api_get(created.secret, CONTACTS).status_code == 403
    edit_key(
        key=created.api_key,
        user=owner.user,
        name="Main App",
        description="",
        scopes=["contacts:read"],
    )
    assert api_get(created.secret, CONTACTS).status_code == 200
    assert api_get(created.secret, "/api/v1/calls").json()["error"]["code"] == "insufficient_scope"


def test_edit_records_what_changed(owner: Membership) -> None:
    created = create(owner, scopes=["calls:read", "calls:write"])
    result = edit_key(
        key=created.api_key,
        user=owner.user,
        name="  Main App v2 ",
        description="Runs on api-1",
        scopes=["calls:read", "contacts:read"],
    )
    assert result.changed == ("name", "description", "scopes")
    key = ApiKey.objects.get()
    assert (key.name, key.description, key.scopes) == (
        "Main App v2",
        "Runs on api-1",
        "calls:read contacts:read",
    )
    (edited,) = events("edited")
    assert edited.details["scopes"] == {
        "old": ["calls:read", "calls:write"],
        "new": ["calls:read", "contacts:read"],
    }
    assert edited.details["name"] == {"old": "Main App", "new": "Main App v2"}
    assert edited.actor == owner.user


def test_an_edit_that_changes_nothing_records_nothing(owner: Membership) -> None:
    created = create(owner)
    result = edit_key(
        key=created.api_key, user=owner.user, name="Main App", description="", scopes=["calls:read"]
    )
    assert result.changed == ()
    assert events("edited") == []


@pytest.mark.parametrize(
    ("name", "description", "scopes", "field"),
    [
        ("", "", ["calls:read"], "name"),
        ("x" * 101, "", ["calls:read"], "name"),
        ("Other", "", ["calls:read"], "name"),
        ("Main App", "d" * 501, ["calls:read"], "description"),
        ("Main App", "", [], "scopes"),
        ("Main App", "", ["calls:delete"], "scopes"),
    ],
)
def test_edit_validates_as_creation_does(
    owner: Membership, name: str, description: str, scopes: list[str], field: str
) -> None:
    create(owner, name="Other")
    created = create(owner)
    with pytest.raises(InvalidKeyInput) as invalid:
        edit_key(
            key=created.api_key, user=owner.user, name=name, description=description, scopes=scopes
        )
    assert field in invalid.value.errors
    assert ApiKey.objects.get(pk=created.api_key.pk).name == "Main App"
    assert events("edited") == []


def test_members_cannot_edit(owner: Membership, member: Membership) -> None:
    created = create(owner)
    with pytest.raises(KeyActionRefused):
        edit_key(
            key=created.api_key,
            user=member.user,
            name="Mine now",
            description="",
            scopes=["webhooks:manage"],
        )
    assert ApiKey.objects.get().scopes == "calls:read"


def test_revoked_keys_cannot_be_edited(owner: Membership) -> None:
    created = create(owner)
    revoke_key(key=created.api_key, user=owner.user)
    with pytest.raises(KeyNotActive):
        edit_key(
            key=created.api_key, user=owner.user, name="New", description="", scopes=["calls:read"]
        )


# Events -----------------------------------------------------------------------------------------


def test_every_action_writes_exactly_one_event(owner: Membership) -> None:
    created = create(owner)
    assert [event.event_type for event in events()] == ["created"]
    edit_key(
        key=created.api_key,
        user=owner.user,
        name="Main App",
        description="",
        scopes=["calls:write"],
    )
    new = roll_key(key=created.api_key, user=owner.user, grace=timedelta(hours=1))
    revoke_key(key=new.api_key, user=owner.user)
    assert [event.event_type for event in reversed(events())] == [
        "created",
        "edited",
        "rolled",
        "revoked",
    ]
    rolled = ActivityEvent.objects.get(event_type="rolled")
    assert rolled.api_key == created.api_key and rolled.related_key == new.api_key
    assert list(
        ActivityEvent.objects.for_key(new.api_key).values_list("event_type", flat=True)
    ) == [
        "revoked",
        "rolled",
    ]


def test_failed_actions_write_no_event(owner: Membership, member: Membership) -> None:
    created = create(owner)
    with pytest.raises(InvalidKeyInput):
        create(owner, name="")
    with pytest.raises(KeyActionRefused):
        create(member, name="Member key")
    with pytest.raises(KeyActionRefused):
        revoke_key(key=created.api_key, user=member.user)
    revoke_key(key=created.api_key, user=owner.user)
    with pytest.raises(AlreadyRevoked):
        revoke_key(key=created.api_key, user=owner.user)
    assert [event.event_type for event in events()] == ["revoked", "created"]


def test_events_record_the_request_context(owner: Membership) -> None:
    context = RequestContext(ip_address="203.0.113.7", user_agent="curl/8.5")
    create(owner, context=context)
    event = ActivityEvent.objects.get()
    assert (event.ip_address, event.user_agent, event.actor_email) == (
        "203.0.113.7",
        "curl/8.5",
        "owner@acme.test",
    )


def test_events_cannot_be_changed_or_deleted(owner: Membership) -> None:
    create(owner)
    event = ActivityEvent.objects.get()
    event.event_type = "revoked"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        ActivityEvent.objects.update(event_type="revoked")
    with pytest.raises(AppendOnlyError):
        ActivityEvent.objects.filter(pk=event.pk).delete()
    assert ActivityEvent.objects.get().event_type == "created"
    # Last: bulk_update fails inside its own atomic block, which spoils the test's transaction.
    with pytest.raises(AppendOnlyError):
        ActivityEvent.objects.bulk_update([event], ["event_type"])


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(days=365), "Expires in 12 months"),
        (timedelta(days=90) - timedelta(seconds=5), "Expires in 90 days"),
        (timedelta(days=1), "Expires in 1 day"),
        (timedelta(hours=23, minutes=59), "Expires in 23 hours"),
        (timedelta(minutes=1), "Expires in 1 minute"),
        (timedelta(seconds=20), "Expires in 1 minute"),
    ],
)
def test_expiry_in_words(left: timedelta, words: str) -> None:
    with time_machine.travel(START, tick=False):
        assert expiry_words(ApiKey(expires_at=START + left)) == words
    assert expiry_words(ApiKey(expires_at=None)) == "No expiration"
