from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Sequence

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import connection, transaction
from django_tasks import TaskResultStatus

from accounts.models import Account, Membership
from activity.events import RequestContext
from activity.models import ActivityEvent
from apikeys import notifications
from apikeys.keys import LIVE_PREFIX, MASK_CHARS, RANDOM_LENGTH
from apikeys.models import ApiKey, ExpiryNotice
from apikeys.notifications import NoticeRun, send_expiry_notice, send_expiry_notices
from apikeys.services import (
    CreatedKey,
    InvalidKeyInput,
    KeyActionRefused,
    create_key,
    end_grace,
    revoke_key,
    roll_key,
)
from tests.factories import MembershipFactory
from tests.support.jobs import jobs, run_jobs, waiting_jobs
from voxkeys.safetext import unsafe_character

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
EXPIRES = START + dt.timedelta(days=30)  # Tuesday 31 March 2026, 12:00 UTC
MANAGERS = [["admin@acme.test"], ["owner@acme.test"]]
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
BROKEN = "tests.test_notifications.BrokenBackend"
OFFICE = RequestContext(ip_address="203.0.113.7", user_agent="Mozilla/5.0")


class BrokenBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise ConnectionRefusedError("mail server down")


@pytest.fixture
def inactive_admin(account: Account) -> Membership:
    return MembershipFactory(
        account=account,
        role=Membership.Role.ADMIN,
        user__email="former-admin@acme.test",
        user__is_active=False,
    )


@pytest.fixture
def cast(
    owner: Membership, admin_member: Membership, member: Membership, inactive_admin: Membership
) -> Membership:
    """Everyone who might get mail; returns the owner, who acts."""
    return owner


def create(membership: Membership, name: str = "Production Server", **kwargs) -> CreatedKey:  # noqa: ANN003
    kwargs.setdefault("scopes", ["calls:read", "calls:write"])
    return create_key(account=membership.account, user=membership.user, name=name, **kwargs)


def create_at_start(membership: Membership, name: str = "Production Server") -> ApiKey:
    """A key created at START that expires 30 days later, at EXPIRES."""
    with time_machine.travel(START, tick=False):
        return create(membership, name=name, expiration="30").api_key


def recipients(messages: list[EmailMessage]) -> list[list[str]]:
    return sorted(message.to for message in messages)


def assert_only_masked(message: EmailMessage, secret: str) -> None:
    text = message.subject + message.body + message.message().as_string()
    random_part = secret[len(LIVE_PREFIX) : len(LIVE_PREFIX) + RANDOM_LENGTH]
    assert secret not in text
    assert random_part not in text
    assert random_part[MASK_CHARS:-MASK_CHARS] not in text


def run_notices() -> str:
    out = io.StringIO()
    call_command("send_key_expiry_notices", stdout=out)
    return out.getvalue()


# Key activity emails


def test_ending_an_old_secret_early_emails_owners_and_admins_as_a_revoke(
    cast: Membership, mailoutbox: list, django_capture_on_commit_callbacks: Callable
) -> None:
    created = create(cast)
    rolled = roll_key(key=created.api_key, user=cast.user, grace=dt.timedelta(days=1))
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        end_grace(key=created.api_key, user=cast.user, context=OFFICE)
    assert recipients(mailoutbox) == MANAGERS
    for message in mailoutbox:
        assert message.subject == "[VoxPria] API key “Production Server” revoked in Acme Voice"
        assert created.api_key.masked_key in message.body
        assert_only_masked(message, created.secret)
        assert_only_masked(message, rolled.secret)


def test_create_emails_each_active_owner_and_admin_separately(
    cast: Membership, mailoutbox: list, django_capture_on_commit_callbacks: Callable
) -> None:
    with (
        time_machine.travel(START, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        created = create(cast, context=OFFICE)
    assert recipients(mailoutbox) == MANAGERS
    for message in mailoutbox:
        assert message.subject == "[VoxPria] API key “Production Server” created in Acme Voice"
        assert "A new API key was created in Acme Voice." in message.body
        assert f"Key:          {created.api_key.masked_key}\n" in message.body
        assert "Environment:  Live\n" in message.body
        assert "Scopes:       calls:read, calls:write\n" in message.body
        assert "By:           owner@acme.test\n" in message.body
        assert "From IP:      203.0.113.7\n" in message.body
        assert "When:         1 March 2026, 12:00:00 UTC\n" in message.body
        assert_only_masked(message, created.secret)


def test_roll_emails_the_new_masked_key_and_when_the_old_one_stops(
    cast: Membership, mailoutbox: list, django_capture_on_commit_callbacks: Callable
) -> None:
    old = create_at_start(cast)
    mailoutbox.clear()  # the creation's
    with (
        time_machine.travel(START + dt.timedelta(hours=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        new = roll_key(key=old, user=cast.user, grace=dt.timedelta(days=1), context=OFFICE)
    assert recipients(mailoutbox) == MANAGERS
    message = mailoutbox[0]
    assert message.subject == "[VoxPria] API key “Production Server” rolled in Acme Voice"
    assert f"Key:          {old.masked_key}\n" in message.body
    assert f"New key:      {new.api_key.masked_key}\n" in message.body
    assert "Old key:      keeps working until 2 March 2026, 13:00 UTC\n" in message.body
    assert "When:         1 March 2026, 13:00:00 UTC\n" in message.body
    assert_only_masked(message, new.secret)


def test_roll_without_grace_says_the_old_key_stopped_at_once(
    owner: Membership, mailoutbox: list, django_capture_on_commit_callbacks: Callable
) -> None:
    old = create_at_start(owner)
    mailoutbox.clear()  # the creation's
    with (
        time_machine.travel(START + dt.timedelta(hours=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        roll_key(key=old, user=owner.user, grace=dt.timedelta(0))
    assert "Old key:      stopped working at once\n" in mailoutbox[0].body


def test_revoke_emails_each_active_owner_and_admin(
    cast: Membership, mailoutbox: list, django_capture_on_commit_callbacks: Callable
) -> None:
    created = create(cast)
    mailoutbox.clear()  # the creation's
    with django_capture_on_commit_callbacks(execute=True):
        revoke_key(key=created.api_key, user=cast.user)
    assert recipients(mailoutbox) == MANAGERS
    message = mailoutbox[0]
    assert message.subject == "[VoxPria] API key “Production Server” revoked in Acme Voice"
    assert "refused from now on" in message.body
    assert "From IP:      unknown\n" in message.body
    assert_only_masked(message, created.secret)


def test_a_key_name_cannot_break_the_subject_header(
    owner: Membership, mailoutbox: list, django_capture_on_commit_callbacks: Callable
) -> None:
    created = create(owner)
    mailoutbox.clear()  # the creation's
    ApiKey.objects.filter(pk=created.api_key.pk).update(name="Evil\nBcc: attacker@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        revoke_key(key=created.api_key, user=owner.user)
    assert mailoutbox[0].subject == (
        "[VoxPria] API key “Evil Bcc: attacker@example.test” revoked in Acme Voice"
    )
    assert mailoutbox[0].recipients() == ["owner@acme.test"]


@pytest.mark.parametrize("char", ["\u2028", "\u202e", "\u200b", "\x1b", "\U000e0041"])
def test_an_email_never_carries_a_refused_character_even_from_an_old_row(
    owner: Membership, mailoutbox: list, django_capture_on_commit_callbacks: Callable, char: str
) -> None:
    created = create(owner)
    mailoutbox.clear()  # the creation's
    # Written past the rule, as a row from before it (or raw SQL) would be.
    ApiKey.objects.filter(pk=created.api_key.pk).update(name=f"Prod{char}Server")
    Account.objects.filter(pk=owner.account_id).update(name=f"Acme{char}Voice")
    with django_capture_on_commit_callbacks(execute=True):
        revoke_key(key=created.api_key, user=owner.user)
    message = mailoutbox[0]
    for text in (message.subject, message.body):
        assert unsafe_character(text.replace("\n", "")) is None
    assert "Prod\ufffdServer" in message.body and "Acme\ufffdVoice" in message.body


def test_refused_or_invalid_actions_send_nothing(
    cast: Membership,
    member: Membership,
    mailoutbox: list,
    django_capture_on_commit_callbacks: Callable,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(InvalidKeyInput):
            create(cast, name="")
        with pytest.raises(KeyActionRefused):
            create(member)
    assert callbacks == []
    assert mailoutbox == []


def test_an_action_rolled_back_after_its_event_sends_nothing(
    cast: Membership, mailoutbox: list, django_capture_on_commit_callbacks: Callable
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        create(cast)
        assert ActivityEvent.objects.filter(event_type=ActivityEvent.Type.CREATED).exists()
        raise RuntimeError("a later step failed")
    assert callbacks == []
    assert jobs() == []
    assert mailoutbox == []
    assert not ApiKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_email_goes_out_when_the_action_really_commits(cast: Membership) -> None:
    create(cast)
    assert recipients(mail.outbox) == MANAGERS


def test_a_broken_mail_server_does_not_break_create_key_and_its_mail_waits_for_a_retry(
    owner: Membership,
    settings,  # noqa: ANN001
    mailoutbox: list,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.EMAIL_BACKEND = BROKEN
    created = create(owner)
    assert ApiKey.objects.get() == created.api_key
    assert caplog.records == []  # the action itself logs nothing: it sent nothing
    assert mailoutbox == []
    [retry] = waiting_jobs()
    assert retry.task_path == "accounts.notifications.send_email"
    assert retry.args_kwargs["kwargs"] == {"attempt": 2}
    assert retry.args_kwargs["args"][2] == "owner@acme.test"
    assert not [r for r in caplog.records if r.exc_info]


# Expiry notices and the expired event


def test_expiry_notices_at_exact_boundaries_each_once(
    cast: Membership,
    mailoutbox: list,
    settings,  # noqa: ANN001
) -> None:
    settings.KEY_EXPIRY_NOTICE_DAYS = [7, 1]
    key = create_at_start(cast)
    mailoutbox.clear()  # the creation's
    with time_machine.travel(EXPIRES - dt.timedelta(days=7, seconds=1), tick=False) as clock:
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 0.\n"
        assert mailoutbox == []

        clock.move_to(EXPIRES - dt.timedelta(days=7))
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 1.\n"
        assert recipients(mailoutbox) == MANAGERS
        message = mailoutbox[0]
        assert message.subject == (
            "[VoxPria] API key “Production Server” in Acme Voice expires on 31 March 2026"
        )
        assert message.body.startswith(
            "The API key “Production Server” in Acme Voice expires in 1\xa0week, "
            "on Tuesday 31 March 2026 at 12:00 UTC."
        )
        assert f"Key:          {key.masked_key}\n" in message.body
        assert f"roll it: http://127.0.0.1:8000/settings/api-keys/{key.pk}/\n" in message.body
        assert list(key.expiry_notices.values_list("kind", "expires_at")) == [("7d", EXPIRES)]

        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 0.\n"
        clock.move_to(EXPIRES - dt.timedelta(days=1, seconds=1))
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 0.\n"
        assert len(mailoutbox) == 2

        clock.move_to(EXPIRES - dt.timedelta(days=1))
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 1.\n"
        assert recipients(mailoutbox[2:]) == MANAGERS
        assert "expires in 1\xa0day, on Tuesday 31 March 2026 at 12:00 UTC" in mailoutbox[2].body
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 0.\n"
        assert len(mailoutbox) == 4
    assert sorted(key.expiry_notices.values_list("kind", flat=True)) == ["1d", "7d"]


def test_a_key_first_seen_inside_its_last_day_gets_only_the_one_day_notice(
    owner: Membership, mailoutbox: list
) -> None:
    key = create_at_start(owner)
    mailoutbox.clear()  # the creation's
    with time_machine.travel(EXPIRES - dt.timedelta(hours=12), tick=False):
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 1.\n"
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 0.\n"
    assert list(key.expiry_notices.values_list("kind", flat=True)) == ["1d"]
    assert "expires in 12\xa0hours" in mailoutbox[0].body


def test_rolled_revoked_and_suspended_keys_get_no_notice(
    owner: Membership,
    other_owner: Membership,
    mailoutbox: list,
    settings,  # noqa: ANN001
) -> None:
    settings.KEY_EXPIRY_NOTICE_DAYS = [7, 1]  # the successor is 30 days from its expiry
    rolled = create_at_start(owner, name="Rolled")
    revoked = create_at_start(owner, name="Revoked")
    create_at_start(other_owner, name="Suspended")
    with time_machine.travel(EXPIRES - dt.timedelta(days=3), tick=False) as clock:
        # The old key now stops in 1 day; its successor expires in 30.
        roll_key(key=rolled, user=owner.user, grace=dt.timedelta(days=1))
        revoke_key(key=revoked, user=owner.user)
        Account.objects.filter(pk=other_owner.account_id).update(status=Account.Status.SUSPENDED)
        mailoutbox.clear()  # the creation's, the roll's and the revoke's
        clock.move_to(EXPIRES - dt.timedelta(days=2, hours=1))
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 0.\n"
    assert mailoutbox == []
    assert not ExpiryNotice.objects.exists()


def test_an_expired_key_gets_its_expired_event_exactly_once(owner: Membership) -> None:
    key = create_at_start(owner)
    with time_machine.travel(EXPIRES - dt.timedelta(seconds=1), tick=False) as clock:
        assert run_notices().startswith("Expired keys recorded: 0.")
        clock.move_to(EXPIRES)
        assert run_notices().startswith("Expired keys recorded: 1.")
        assert run_notices().startswith("Expired keys recorded: 0.")
    expired = ActivityEvent.objects.filter(api_key=key, event_type=ActivityEvent.Type.EXPIRED)
    assert expired.count() == 1
    assert expired.get().actor_label == "system"


def test_a_notice_whose_mail_fails_is_retried_by_the_queue_not_sent_again_by_the_next_run(
    owner: Membership,
    settings,  # noqa: ANN001
    mailoutbox: list,
) -> None:
    key = create_at_start(owner)
    mailoutbox.clear()  # the creation's
    with time_machine.travel(EXPIRES - dt.timedelta(days=5), tick=False) as clock:
        settings.EMAIL_BACKEND = BROKEN
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 1.\n"
        run_jobs()
        assert list(key.expiry_notices.values_list("kind", flat=True)) == ["7d"]
        [retry] = waiting_jobs()

        settings.EMAIL_BACKEND = LOCMEM
        assert run_notices() == "Expired keys recorded: 0. Expiry notices sent: 0.\n"
        assert mailoutbox == []
        clock.move_to(retry.run_after)
        assert recipients(mailoutbox) == [["owner@acme.test"]]
    assert "expires on 31 March 2026" in mailoutbox[0].subject


def test_the_default_notices_go_out_30_7_and_1_days_before_each_once(
    owner: Membership, mailoutbox: list
) -> None:
    with time_machine.travel(START, tick=False):
        key = create(owner, expiration="60").api_key
    expires = START + dt.timedelta(days=60)
    mailoutbox.clear()  # the creation's
    sent = []
    with time_machine.travel(expires - dt.timedelta(days=30, seconds=1), tick=False) as clock:
        assert run_notices().endswith("Expiry notices sent: 0.\n")
        for days in (30, 7, 1):
            clock.move_to(expires - dt.timedelta(days=days))
            assert run_notices().endswith("Expiry notices sent: 1.\n")
            assert run_notices().endswith("Expiry notices sent: 0.\n")
            sent += [message.body for message in mailoutbox]
            mailoutbox.clear()
    assert sorted(key.expiry_notices.values_list("kind", flat=True)) == ["1d", "30d", "7d"]
    assert len(sent) == 3
    assert "expires in 4\xa0weeks, 2\xa0days, on Thursday 30 April 2026" in sent[0]
    assert "expires in 1\xa0week, on" in sent[1]
    assert "expires in 1\xa0day, on" in sent[2]
    for body in sent:
        assert f"Key:          {key.masked_key}\n" in body
        assert f"roll it: http://127.0.0.1:8000/settings/api-keys/{key.pk}/\n" in body


def test_a_notice_another_machine_already_sent_is_skipped(
    owner: Membership, mailoutbox: list
) -> None:
    key = create_at_start(owner)
    now = EXPIRES - dt.timedelta(days=5)
    mailoutbox.clear()  # the creation's
    ExpiryNotice.objects.create(api_key=key, kind="7d", expires_at=EXPIRES)
    assert send_expiry_notice(key=key, days=7, now=now) is False
    assert jobs(TaskResultStatus.READY) == []
    assert key.expiry_notices.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_machines_running_at_once_send_each_notice_once(
    owner: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_at_start(owner)
    # Both machines find the key due before either has inserted its notice.
    barrier = threading.Barrier(2)
    scan = notifications.keys_due_for_notice

    def scan_then_wait(now: dt.datetime) -> list:
        due = scan(now)
        barrier.wait(timeout=30)
        return due

    monkeypatch.setattr(notifications, "keys_due_for_notice", scan_then_wait)
    runs: list[NoticeRun] = []

    def machine() -> None:
        try:
            runs.append(send_expiry_notices(now=EXPIRES - dt.timedelta(days=5)))
        finally:
            connection.close()

    machines = [threading.Thread(target=machine) for _ in range(2)]
    for thread in machines:
        thread.start()
    for thread in machines:
        thread.join()

    assert sorted((run.sent, run.failed) for run in runs) == [(0, 0), (1, 0)]
    assert [m.subject for m in mail.outbox if "expires on" in m.subject] == [
        "[VoxPria] API key “Production Server” in Acme Voice expires on 31 March 2026"
    ]
    assert ExpiryNotice.objects.count() == 1
