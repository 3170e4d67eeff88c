"""A superuser resets someone's two-factor in the Django admin, with a reason; nobody else can."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Passkey, RecoveryCode, User
from accounts.twofactor.factors import has_two_factor
from accounts.twofactor.policy import ResetRefused, reset_two_factor
from activity.models import ActivityEvent
from activity.summaries import event_summary
from tests.factories import AccountFactory, MembershipFactory
from tests.support.admin import logged_in, new_superuser, staff_with
from tests.support.twofactor import give_authenticator_app, give_passkey, past_second_factor

pytestmark = pytest.mark.django_db

REASON = "Lost their phone; identity checked on a video call, ticket 4711"


@pytest.fixture
def staff_client() -> Client:
    """A superuser past the admin's second factor (ADMIN_REQUIRE_2FA)."""
    superuser = new_superuser(email="staff@voxkeys.test")
    give_authenticator_app(superuser)
    return past_second_factor(logged_in(superuser))


@pytest.fixture
def enrolled(member: Membership) -> User:
    give_authenticator_app(member.user)
    give_passkey(member.user)
    return member.user


def reset_url(user: User) -> str:
    return f"/admin/accounts/user/{user.pk}/reset-two-factor/"


def test_a_superuser_resets_with_a_reason_and_every_factor_is_gone(
    staff_client: Client,
    enrolled: User,
    owner: Membership,
    admin_member: Membership,
    django_capture_on_commit_callbacks,  # noqa: ANN001
) -> None:
    second = MembershipFactory(
        user=enrolled, account=AccountFactory(name="Zeta"), role=Membership.Role.MEMBER
    )
    zeta_owner = MembershipFactory(account=second.account, user__email="boss@zeta.test")
    page = staff_client.get(reset_url(enrolled))
    assert page.status_code == 200 and "has 2 second factors" in page.text
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reset_url(enrolled), {"reason": REASON})
    assert response.status_code == 302
    assert response["Location"] == f"/admin/accounts/user/{enrolled.pk}/change/"
    assert not has_two_factor(enrolled)
    assert not TOTPDevice.objects.filter(user=enrolled).exists()
    assert not Passkey.objects.filter(user=enrolled).exists()
    assert not RecoveryCode.objects.filter(user=enrolled).exists()

    events = ActivityEvent.objects.filter(event_type=ActivityEvent.Type.TWO_FACTOR_RESET)
    assert {event.account.name for event in events} == {"Acme Voice", "Zeta"}
    for event in events:
        assert event.actor_email == "staff@voxkeys.test"
        assert event.details == {"member": "member@acme.test", "reason": REASON}
        assert event_summary(event) == (
            "VoxPria staff reset the two-factor authentication of member@acme.test"
        )
    sent = [m for m in mail.outbox if m.subject.endswith("two-factor authentication was reset")]
    assert {m.subject for m in sent} == {"[VoxPria] Your two-factor authentication was reset"}
    assert all(REASON in m.body for m in sent)
    # The person and the owners of both their accounts, not the admin.
    assert sorted(address for m in sent for address in m.to) == sorted(
        ["member@acme.test", "owner@acme.test", zeta_owner.user.email]
    )
    assert "Reset the two-factor authentication of member@acme.test" in (
        staff_client.get(response["Location"]).text
    )


@pytest.mark.parametrize("reason", ["", "   ", "why\u202enot"])
def test_a_reset_needs_a_safe_reason(staff_client: Client, enrolled: User, reason: str) -> None:
    response = staff_client.post(reset_url(enrolled), {"reason": reason})
    assert response.status_code == 422
    assert has_two_factor(enrolled)
    assert not ActivityEvent.objects.exists()


def test_the_user_page_offers_the_reset_to_superusers(staff_client: Client, enrolled: User) -> None:
    page = staff_client.get(f"/admin/accounts/user/{enrolled.pk}/change/").text
    assert reset_url(enrolled) in page


def test_a_staff_user_who_is_not_a_superuser_cannot_reset(enrolled: User) -> None:
    staff = staff_with("accounts.view_user", "accounts.change_user")
    client = logged_in(staff)
    page = client.get(f"/admin/accounts/user/{enrolled.pk}/change/")
    assert page.status_code == 200
    assert "reset-two-factor" not in page.text
    assert client.get(reset_url(enrolled)).status_code == 403
    assert client.post(reset_url(enrolled), {"reason": REASON}).status_code == 403
    assert has_two_factor(enrolled)
    with pytest.raises(ResetRefused, match="Only a superuser"):
        reset_two_factor(user=enrolled, staff=staff, reason=REASON)
    assert has_two_factor(enrolled)
    assert not ActivityEvent.objects.exists()


def test_a_customer_cannot_reach_the_reset(owner: Membership, enrolled: User) -> None:
    response = logged_in(owner.user).post(reset_url(enrolled), {"reason": REASON})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert has_two_factor(enrolled)


def test_an_inactive_superuser_cannot_reset(enrolled: User) -> None:
    former = new_superuser()
    former.is_active = False
    with pytest.raises(ResetRefused):
        reset_two_factor(user=enrolled, staff=former, reason=REASON)


def test_a_reset_of_an_unknown_user_is_a_404(staff_client: Client) -> None:
    assert staff_client.get("/admin/accounts/user/999999/reset-two-factor/").status_code == 404


def test_the_reset_leaves_the_persons_sessions_signed_in(
    enrolled: User, member: Membership
) -> None:
    person = past_second_factor(logged_in(enrolled))
    assert person.get("/settings/security/").status_code == 200
    reset_two_factor(user=enrolled, staff=new_superuser(), reason=REASON)
    assert person.get("/settings/security/").status_code == 200


def test_no_admin_shows_or_edits_second_factors() -> None:
    for model in (TOTPDevice, Passkey, RecoveryCode):
        assert not admin.site.is_registered(model)
