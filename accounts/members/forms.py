"""The Members page's forms: invite, change a role, and the invited person's new login."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation

from accounts.models import Membership, User
from accounts.services import MembershipRefused
from voxkeys.safetext import SafeTextValidator


def role_choices(actor: Membership) -> list[tuple[str, str]]:
    """The roles `actor` may give: an admin does not see owner (a posted one is still refused)."""
    return [
        (value, label)
        for value, label in Membership.Role.choices
        if actor.role == Membership.Role.OWNER or value != Membership.Role.OWNER
    ]


class RefusalErrorsMixin(forms.Form):
    def add_refusal(self, refusal: MembershipRefused) -> None:
        """Show a service's refusal next to its field (or above the form)."""
        self.add_error(refusal.field if refusal.field in self.fields else None, refusal.message)


def role_field() -> forms.ChoiceField:
    # All roles are valid input: the service, not the widget, says why a role is refused.
    return forms.ChoiceField(
        label="Role",
        choices=Membership.Role.choices,
        error_messages={"invalid_choice": "Choose a role."},
    )


class InviteForm(RefusalErrorsMixin):
    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    role = role_field()

    def __init__(self, *args: Any, actor: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].widget.choices = role_choices(actor)
        self.fields["role"].initial = Membership.Role.MEMBER


class RoleForm(RefusalErrorsMixin):
    role = role_field()

    def __init__(self, *args: Any, actor: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].widget.choices = role_choices(actor)


class TwoFactorRequirementForm(forms.Form):
    """Turn the account's "Require two-factor authentication" on ("1") or off ("0")."""

    required = forms.TypedChoiceField(
        choices=[("1", "Required"), ("0", "Not required")],
        coerce=lambda value: value == "1",
        widget=forms.HiddenInput,
    )


class NewMemberForm(RefusalErrorsMixin):
    """The invited person's name and password (Django's password validators)."""

    full_name = forms.CharField(
        label="Your name",
        max_length=150,
        validators=[SafeTextValidator("name")],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        password = cleaned.get("password1")
        if password and cleaned.get("password2") and password != cleaned["password2"]:
            self.add_error("password2", "The two passwords differ. Type the same one twice.")
        elif password:
            user = User(email=self.email, full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned
