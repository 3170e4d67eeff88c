"""What the two-factor policy tests share: a member given a factor without the enrolment pages
(owned by their own tests), a session past its second step, and an account's requirement
turned on through the service."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Passkey, User
from accounts.twofactor.factors import issue_recovery_codes
from accounts.twofactor.policy import set_two_factor_requirement
from accounts.twofactor.state import METHOD_SESSION_KEY, PENDING_SESSION_KEY, VERIFIED_SESSION_KEY


def give_authenticator_app(user: User) -> TOTPDevice:
    device: TOTPDevice = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    issue_recovery_codes(user)
    return device


def give_passkey(user: User, name: str = "Laptop") -> Passkey:
    return Passkey.objects.create(
        user=user, name=name, credential_id=f"credential-{user.pk}-{name}", public_key=b"key"
    )


def require_two_factor(owner: Membership) -> None:
    set_two_factor_requirement(
        account=owner.account, actor=owner.user, required=True, site_url="http://testserver"
    )


def past_second_factor(client: Client) -> Client:
    """The signed-in `client`'s session as if its second factor had just been given.

    A login whose user has a factor starts pending (accounts.signals); these tests are about
    what comes after the second step, which has tests of its own.
    """
    session = client.session
    session.pop(PENDING_SESSION_KEY, None)
    session[VERIFIED_SESSION_KEY] = timezone.now().timestamp()
    session[METHOD_SESSION_KEY] = "totp"
    session.save()
    return client
