"""Recovery codes: ten with the first factor, stored as digests, each good once, regenerated."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership, RecoveryCode
from accounts.twofactor.codes import use_recovery_code
from accounts.twofactor.enrolment import (
    TwoFactorChangeRefused,
    regenerate_recovery_codes,
    remove_authenticator,
)
from accounts.twofactor.factors import recovery_code_digest, recovery_codes_left
from activity.events import RequestContext
from activity.models import ActivityEvent
from activity.summaries import event_summary
from tests.support.twofactor import at_once, enrol_authenticator

START = datetime(2026, 12, 7, 9, 0, 5, tzinfo=UTC)
CONTEXT = RequestContext(ip_address="203.0.113.9", user_agent="Firefox")
CODE_FORMAT = re.compile(r"[a-hj-km-np-z2-9]{5}-[a-hj-km-np-z2-9]{5}")


@pytest.fixture
def codes(owner: Membership) -> Iterator[list[str]]:
    """The owner's recovery codes, from enrolling an authenticator app."""
    with time_machine.travel(START, tick=False):
        _, issued = enrol_authenticator(owner.user)
        mail.outbox.clear()
        yield issued


pytestmark = pytest.mark.django_db


def test_the_first_factor_brings_ten_distinct_codes_stored_only_as_digests(
    owner: Membership, codes: list[str]
) -> None:
    assert len(codes) == len(set(codes)) == 10
    assert all(CODE_FORMAT.fullmatch(code) for code in codes), codes
    stored = list(RecoveryCode.objects.filter(user=owner.user).values_list("digest", flat=True))
    assert sorted(stored) == sorted(recovery_code_digest(code) for code in codes)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_recoverycode")
        table = repr(cursor.fetchall())
    for code in codes:
        assert code not in table
        assert code.replace("-", "") not in table


def test_each_code_works_once(owner: Membership, codes: list[str]) -> None:
    assert use_recovery_code(user=owner.user, code=codes[0], context=CONTEXT) == 9

    assert use_recovery_code(user=owner.user, code=codes[0], context=CONTEXT) is None
    assert use_recovery_code(user=owner.user, code=codes[1], context=CONTEXT) == 8
    assert recovery_codes_left(owner.user) == 8


def test_a_code_may_be_typed_in_capitals_with_spaces_and_without_its_dash(
    owner: Membership, codes: list[str]
) -> None:
    typed = (
        " " + codes[0].replace("-", "").upper()[:4] + " " + codes[0][4:].upper().replace("-", "")
    )

    assert use_recovery_code(user=owner.user, code=typed, context=None) == 9


def test_another_users_code_is_refused_and_spends_nothing(
    owner: Membership, member: Membership, codes: list[str]
) -> None:
    _, theirs = enrol_authenticator(member.user)

    assert use_recovery_code(user=owner.user, code=theirs[0], context=CONTEXT) is None

    assert recovery_codes_left(owner.user) == 10
    assert recovery_codes_left(member.user) == 10
    assert use_recovery_code(user=member.user, code=theirs[0], context=CONTEXT) == 9


@pytest.mark.parametrize(
    "code", ["", "abcde", "abcde-fghjk-mn", "abcde-fghj0", "abcde-fghjl", "ääääää-ääää", "x" * 500]
)
def test_a_malformed_code_is_refused_before_the_codes_are_looked_up(
    owner: Membership, codes: list[str], code: str
) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert use_recovery_code(user=owner.user, code=code, context=None) is None

    assert not [query for query in queries if "recoverycode" in query["sql"]]
    assert recovery_codes_left(owner.user) == 10


def test_a_code_used_is_recorded_and_emailed_with_how_many_are_left(
    owner: Membership, codes: list[str], on_commit_at_once: None
) -> None:
    use_recovery_code(user=owner.user, code=codes[0], context=CONTEXT)

    [event] = ActivityEvent.objects.filter(
        account=owner.account, event_type=ActivityEvent.Type.RECOVERY_CODE_USED
    )
    assert event_summary(event) == "owner@acme.test signed in with a recovery code (9 left)"
    [email] = mail.outbox
    assert email.to == ["owner@acme.test"]
    assert email.subject == "[VoxPria] A recovery code was used to sign in"
    assert "9 recovery codes left." in email.body
    assert "Generate new ones" not in email.body
    assert "203.0.113.9" in email.body


def test_with_few_codes_left_the_email_advises_new_ones(
    owner: Membership, codes: list[str], on_commit_at_once: None
) -> None:
    for code in codes[:9]:
        use_recovery_code(user=owner.user, code=code, context=None)

    assert "1 recovery code left." in mail.outbox[-1].body
    assert "Generate new ones under Settings -> Security" in mail.outbox[-1].body
    assert "Generate new ones" in mail.outbox[-3].body  # 3 left
    assert "Generate new ones" not in mail.outbox[-4].body  # 4 left


def test_the_last_code_leaves_none(owner: Membership, codes: list[str]) -> None:
    for code in codes[:9]:
        use_recovery_code(user=owner.user, code=code, context=None)

    assert use_recovery_code(user=owner.user, code=codes[9], context=None) == 0
    assert use_recovery_code(user=owner.user, code=codes[9], context=None) is None


def test_regenerating_invalidates_the_old_codes(
    owner: Membership, codes: list[str], on_commit_at_once: None
) -> None:
    use_recovery_code(user=owner.user, code=codes[0], context=None)
    mail.outbox.clear()

    new = regenerate_recovery_codes(user=owner.user, context=CONTEXT)

    assert len(new) == 10 and not set(new) & set(codes)
    assert recovery_codes_left(owner.user) == 10
    assert all(use_recovery_code(user=owner.user, code=old, context=None) is None for old in codes)
    assert use_recovery_code(user=owner.user, code=new[0], context=None) == 9
    [event] = ActivityEvent.objects.filter(
        account=owner.account, event_type=ActivityEvent.Type.RECOVERY_CODES_REGENERATED
    )
    assert event_summary(event) == (
        "owner@acme.test generated new recovery codes; the old ones stopped working"
    )
    email = mail.outbox[0]
    assert email.subject == "[VoxPria] New recovery codes for your login"
    assert "The previous codes no longer work." in email.body


def test_without_a_factor_there_are_no_codes_to_regenerate(owner: Membership) -> None:
    with pytest.raises(TwoFactorChangeRefused):
        regenerate_recovery_codes(user=owner.user, context=None)

    assert not RecoveryCode.objects.filter(user=owner.user).exists()


def test_codes_go_with_the_last_factor(owner: Membership, codes: list[str]) -> None:
    remove_authenticator(user=owner.user, context=None)

    assert use_recovery_code(user=owner.user, code=codes[0], context=None) is None


@pytest.mark.django_db(transaction=True)
def test_the_same_code_sent_at_once_works_exactly_once(owner: Membership) -> None:
    with time_machine.travel(START, tick=False):
        _, codes = enrol_authenticator(owner.user)

    results = at_once(
        6, lambda number: use_recovery_code(user=owner.user, code=codes[0], context=None)
    )

    assert sorted(results, key=str) == [9, None, None, None, None, None], results
    assert recovery_codes_left(owner.user) == 9
