"""What the two-factor policy tests share: a member given a factor without the enrolment pages
(owned by their own tests), and an account's requirement turned on through the service."""

from __future__ import annotations

from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Passkey, User
from accounts.twofactor.factors import issue_recovery_codes
from accounts.twofactor.policy import set_two_factor_requirement


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
