"""The authenticator app (TOTP, RFC 6238): enrolment, the codes it accepts, replace, remove."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Account, Membership, Passkey, RecoveryCode
from accounts.twofactor.codes import verify_totp_code
from accounts.twofactor.enrolment import (
    MALFORMED_CODE,
    SET_UP_GONE,
    WRONG_CODE,
    TwoFactorChangeRefused,
    confirm_authenticator,
    remove_authenticator,
    start_authenticator,
)
from accounts.twofactor.factors import has_two_factor, recovery_codes_left
from activity.events import RequestContext
from activity.models import ActivityEvent
from activity.summaries import event_summary
from tests.factories import MembershipFactory
from tests.support.twofactor import at_once, enrol_authenticator, totp_code

START = datetime(2026, 12, 7, 9, 0, 5, tzinfo=UTC)  # 5 s into a 30-second step
CONTEXT = RequestContext(ip_address="203.0.113.9", user_agent="Firefox")


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def enrolled(owner: Membership, clock: time_machine.Coordinates) -> TOTPDevice:
    """The owner's app, confirmed at START; the test starts five minutes later."""
    device, _ = enrol_authenticator(owner.user)
    clock.shift(timedelta(minutes=5))
    mail.outbox.clear()
    return device


def _events(account: Account, event_type: ActivityEvent.Type) -> list[ActivityEvent]:
    return list(ActivityEvent.objects.filter(account=account, event_type=event_type).order_by("pk"))


@pytest.mark.django_db
class TestCodes:
    @pytest.mark.parametrize("steps", [-1, 0, 1])
    def test_the_code_of_the_current_previous_and_next_step_is_accepted(
        self, owner: Membership, enrolled: TOTPDevice, steps: int
    ) -> None:
        assert verify_totp_code(user=owner.user, code=totp_code(enrolled, steps)) is True

    @pytest.mark.parametrize("steps", [-3, -2, 2, 3])
    def test_a_code_two_or_more_steps_away_is_refused(
        self, owner: Membership, enrolled: TOTPDevice, steps: int
    ) -> None:
        assert verify_totp_code(user=owner.user, code=totp_code(enrolled, steps)) is False

    def test_a_code_used_once_is_refused_later_in_the_same_window(
        self, owner: Membership, enrolled: TOTPDevice, clock: time_machine.Coordinates
    ) -> None:
        code = totp_code(enrolled)
        assert verify_totp_code(user=owner.user, code=code) is True

        assert verify_totp_code(user=owner.user, code=code) is False
        clock.shift(timedelta(seconds=20))
        assert verify_totp_code(user=owner.user, code=code) is False

    def test_after_a_code_is_used_the_previous_steps_code_is_refused_too(
        self, owner: Membership, enrolled: TOTPDevice
    ) -> None:
        assert verify_totp_code(user=owner.user, code=totp_code(enrolled)) is True

        assert verify_totp_code(user=owner.user, code=totp_code(enrolled, -1)) is False
        assert verify_totp_code(user=owner.user, code=totp_code(enrolled, 1)) is True

    def test_the_code_that_confirmed_the_app_does_not_sign_in(
        self, owner: Membership, clock: time_machine.Coordinates
    ) -> None:
        device = start_authenticator(user=owner.user)
        code = totp_code(device)
        confirm_authenticator(user=owner.user, device=device, code=code, context=None)

        assert verify_totp_code(user=owner.user, code=code) is False

    @pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", "12 34 5"])
    def test_a_malformed_code_is_refused(
        self, owner: Membership, enrolled: TOTPDevice, code: str
    ) -> None:
        assert verify_totp_code(user=owner.user, code=code) is False

    def test_a_code_typed_with_spaces_is_accepted(
        self, owner: Membership, enrolled: TOTPDevice
    ) -> None:
        code = totp_code(enrolled)
        assert verify_totp_code(user=owner.user, code=f" {code[:3]} {code[3:]} ") is True

    def test_a_user_without_an_app_has_no_code_that_works(
        self, owner: Membership, clock: time_machine.Coordinates
    ) -> None:
        device = start_authenticator(user=owner.user)  # started, never confirmed

        assert verify_totp_code(user=owner.user, code=totp_code(device)) is False

    def test_another_users_code_is_refused(
        self, owner: Membership, member: Membership, enrolled: TOTPDevice
    ) -> None:
        enrol_authenticator(member.user)

        assert verify_totp_code(user=member.user, code=totp_code(enrolled, 1)) is False


@pytest.mark.django_db
class TestEnrolment:
    def test_a_started_app_is_no_factor_until_a_code_confirms_it(
        self, owner: Membership, clock: time_machine.Coordinates
    ) -> None:
        device = start_authenticator(user=owner.user)

        assert (device.confirmed, device.digits, device.step, device.tolerance) == (
            False,
            6,
            30,
            1,
        )
        assert device.name == "Authenticator app"
        assert has_two_factor(owner.user) is False
        assert "issuer=VoxPria" in device.config_url
        assert "VoxPria%3Aowner%40acme.test" in device.config_url

    def test_the_first_app_brings_ten_recovery_codes_an_event_and_an_email(
        self, owner: Membership, clock: time_machine.Coordinates, on_commit_at_once: None
    ) -> None:
        device = start_authenticator(user=owner.user)

        codes = confirm_authenticator(
            user=owner.user, device=device, code=totp_code(device), context=CONTEXT
        )

        assert codes is not None and len(codes) == 10
        assert has_two_factor(owner.user) is True
        [event] = _events(owner.account, ActivityEvent.Type.TWO_FACTOR_ADDED)
        assert event.details["method"] == "authenticator app"
        assert event_summary(event) == "owner@acme.test added an authenticator app"
        [email] = mail.outbox
        assert email.to == ["owner@acme.test"]
        assert email.subject == "[VoxPria] An authenticator app was added to your login"
        assert "An authenticator app was added to your VoxPria login" in email.body
        assert "ten recovery codes" in email.body
        assert "203.0.113.9" in email.body

    @pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567", "12-34-56"])
    def test_a_malformed_code_is_refused_and_changes_nothing(
        self, owner: Membership, clock: time_machine.Coordinates, on_commit_at_once: None, code: str
    ) -> None:
        device = start_authenticator(user=owner.user)

        with pytest.raises(TwoFactorChangeRefused) as refused:
            confirm_authenticator(user=owner.user, device=device, code=code, context=CONTEXT)

        assert (refused.value.message, refused.value.field) == (MALFORMED_CODE, "code")
        self._assert_nothing_changed(owner, device)

    @pytest.mark.parametrize("steps", [-2, 2, 10])
    def test_a_wrong_code_is_refused_and_changes_nothing(
        self,
        owner: Membership,
        clock: time_machine.Coordinates,
        on_commit_at_once: None,
        steps: int,
    ) -> None:
        device = start_authenticator(user=owner.user)

        with pytest.raises(TwoFactorChangeRefused) as refused:
            confirm_authenticator(
                user=owner.user, device=device, code=totp_code(device, steps), context=CONTEXT
            )

        assert (refused.value.message, refused.value.field) == (WRONG_CODE, "code")
        self._assert_nothing_changed(owner, device)
        # …and the right code still works afterwards.
        assert confirm_authenticator(
            user=owner.user, device=device, code=totp_code(device), context=CONTEXT
        )

    def _assert_nothing_changed(self, owner: Membership, device: TOTPDevice) -> None:
        device.refresh_from_db()
        assert device.confirmed is False
        assert device.last_t == -1
        assert device.throttling_failure_count == 0
        assert has_two_factor(owner.user) is False
        assert not RecoveryCode.objects.filter(user=owner.user).exists()
        assert not ActivityEvent.objects.filter(account=owner.account).exists()
        assert mail.outbox == []

    def test_another_users_set_up_cannot_be_confirmed_as_mine(
        self, owner: Membership, member: Membership, clock: time_machine.Coordinates
    ) -> None:
        theirs = start_authenticator(user=member.user)

        with pytest.raises(TwoFactorChangeRefused) as refused:
            confirm_authenticator(
                user=owner.user, device=theirs, code=totp_code(theirs), context=None
            )

        assert refused.value.message == SET_UP_GONE
        theirs.refresh_from_db()
        assert theirs.confirmed is False
        assert has_two_factor(owner.user) is False

    def test_starting_again_replaces_an_unfinished_set_up(
        self, owner: Membership, clock: time_machine.Coordinates
    ) -> None:
        first = start_authenticator(user=owner.user)
        second = start_authenticator(user=owner.user)

        assert list(TOTPDevice.objects.filter(user=owner.user)) == [second]
        with pytest.raises(TwoFactorChangeRefused):
            confirm_authenticator(
                user=owner.user, device=first, code=totp_code(first), context=None
            )

    def test_replacing_keeps_the_old_app_working_until_the_new_one_is_confirmed(
        self,
        owner: Membership,
        enrolled: TOTPDevice,
        clock: time_machine.Coordinates,
        on_commit_at_once: None,
    ) -> None:
        codes_before = set(RecoveryCode.objects.filter(user=owner.user).values_list("digest"))
        new = start_authenticator(user=owner.user)

        assert verify_totp_code(user=owner.user, code=totp_code(new)) is False
        assert verify_totp_code(user=owner.user, code=totp_code(enrolled)) is True
        clock.shift(timedelta(seconds=30))

        assert (
            confirm_authenticator(user=owner.user, device=new, code=totp_code(new), context=None)
            is None
        )

        assert list(TOTPDevice.objects.filter(user=owner.user)) == [new]
        clock.shift(timedelta(seconds=30))
        assert verify_totp_code(user=owner.user, code=totp_code(enrolled)) is False
        assert verify_totp_code(user=owner.user, code=totp_code(new)) is True
        assert set(RecoveryCode.objects.filter(user=owner.user).values_list("digest")) == (
            codes_before
        )
        event = _events(owner.account, ActivityEvent.Type.TWO_FACTOR_ADDED)[-1]
        assert event_summary(event) == (
            "owner@acme.test added an authenticator app in place of the previous one"
        )
        [email] = mail.outbox
        assert "A new authenticator app replaced the previous one" in email.body


@pytest.mark.django_db
class TestRemoval:
    def test_removing_the_only_factor_turns_two_factor_off_and_deletes_the_codes(
        self, owner: Membership, enrolled: TOTPDevice, on_commit_at_once: None
    ) -> None:
        remove_authenticator(user=owner.user, context=CONTEXT)

        assert not TOTPDevice.objects.filter(user=owner.user).exists()
        assert has_two_factor(owner.user) is False
        assert not RecoveryCode.objects.filter(user=owner.user).exists()
        [event] = _events(owner.account, ActivityEvent.Type.TWO_FACTOR_REMOVED)
        assert event_summary(event) == (
            "owner@acme.test removed an authenticator app; two-factor sign-in is now off"
        )
        [email] = mail.outbox
        assert email.subject == "[VoxPria] Two-factor sign-in was turned off for your login"
        assert "Two-factor sign-in is now OFF" in email.body

    def test_removing_the_last_factor_is_refused_while_an_account_requires_two_factor(
        self, owner: Membership, enrolled: TOTPDevice, on_commit_at_once: None
    ) -> None:
        owner.account.require_two_factor = True
        owner.account.save()

        with pytest.raises(TwoFactorChangeRefused) as refused:
            remove_authenticator(user=owner.user, context=CONTEXT)

        assert "Acme Voice requires two-factor authentication" in refused.value.message
        assert TOTPDevice.objects.filter(user=owner.user, confirmed=True).exists()
        assert recovery_codes_left(owner.user) == 10
        assert not _events(owner.account, ActivityEvent.Type.TWO_FACTOR_REMOVED)
        assert mail.outbox == []

    def test_with_a_passkey_left_the_app_may_go_and_the_recovery_codes_stay(
        self, owner: Membership, enrolled: TOTPDevice, on_commit_at_once: None
    ) -> None:
        owner.account.require_two_factor = True
        owner.account.save()
        Passkey.objects.create(user=owner.user, name="YubiKey", credential_id="abc", public_key=b"")

        remove_authenticator(user=owner.user, context=CONTEXT)

        assert has_two_factor(owner.user) is True
        assert recovery_codes_left(owner.user) == 10
        [event] = _events(owner.account, ActivityEvent.Type.TWO_FACTOR_REMOVED)
        assert event_summary(event) == "owner@acme.test removed an authenticator app"
        [email] = mail.outbox
        assert email.subject == "[VoxPria] An authenticator app was removed from your login"
        assert "OFF" not in email.body

    def test_removing_is_recorded_in_every_account_of_the_user(
        self, owner: Membership, enrolled: TOTPDevice
    ) -> None:
        other = MembershipFactory(user=owner.user, role=Membership.Role.MEMBER)

        remove_authenticator(user=owner.user, context=None)

        for account in (owner.account, other.account):
            assert _events(account, ActivityEvent.Type.TWO_FACTOR_REMOVED)

    def test_removing_an_app_that_is_not_there_is_refused(
        self, owner: Membership, clock: time_machine.Coordinates
    ) -> None:
        start_authenticator(user=owner.user)  # unfinished: not an app yet

        with pytest.raises(TwoFactorChangeRefused):
            remove_authenticator(user=owner.user, context=None)


def test_passkey_events_read_with_their_name() -> None:
    added = ActivityEvent(
        event_type=ActivityEvent.Type.TWO_FACTOR_ADDED,
        details={"member": "a@b.test", "method": "passkey", "name": "YubiKey 5"},
    )
    removed = ActivityEvent(
        event_type=ActivityEvent.Type.TWO_FACTOR_REMOVED,
        details={"member": "a@b.test", "method": "passkey", "two_factor_off": True},
    )

    assert event_summary(added) == "a@b.test added a passkey “YubiKey 5”"
    assert event_summary(removed) == ("a@b.test removed a passkey; two-factor sign-in is now off")


@pytest.mark.django_db(transaction=True)
def test_the_same_code_sent_four_times_at_once_is_accepted_once(owner: Membership) -> None:
    with time_machine.travel(START, tick=False) as clock:
        device, _ = enrol_authenticator(owner.user)
        clock.shift(timedelta(minutes=5))
        code = totp_code(device)

        results = at_once(4, lambda number: verify_totp_code(user=owner.user, code=code))

    assert sorted(results, key=str) == [False, False, False, True], results
