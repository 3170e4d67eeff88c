from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.http import HttpRequest
from django.template.loader import render_to_string

from accounts.credentials import reset_password
from accounts.emails import canonical_email
from accounts.lockout import clear_failures
from accounts.models import User
from accounts.notifications import send_to_each
from accounts.requests import AccountRequest
from activity.events import RequestContext

if TYPE_CHECKING:
    UserSetPasswordForm = SetPasswordForm[User]
else:  # django-stubs makes the form generic; Django's class takes no parameters
    UserSetPasswordForm = SetPasswordForm


class CanonicalEmailField(forms.EmailField):
    """An email field whose value is the address in its canonical form (accounts.emails), so a
    fullwidth or `ſ` spelling is checked, looked up and counted as the address it stands for."""

    def to_python(self, value: Any) -> str:
        return canonical_email(super().to_python(value) or "")


class EmailAuthenticationForm(AuthenticationForm):
    username = CanonicalEmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "That email and password don't match an account. Check both and try again."
        ),
    }


def confirm_own_password(request: HttpRequest, password: str) -> None:
    """Raise a form error unless `password` is the signed-in login's.

    Through authenticate(), with the request: the attempt counts towards the sign-in lockout,
    and a locked login's password is not even checked.
    """
    username = request.user.get_username()
    user = authenticate(request, username=username, password=password)
    if user is None or user.pk != request.user.pk:
        raise forms.ValidationError("Wrong password. Try again.", code="invalid")
    # Signing in clears the failures counted so far; confirming the password does too.
    clear_failures(request, username)


class PasswordConfirmForm(forms.Form):
    """The signed-in member's password, asked again before a sensitive action (sudo mode)."""

    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "current-password", "autofocus": True, "data-autofocus": True}
        ),
    )

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        confirm_own_password(self.request, password)
        return password


class PasswordResetRequestForm(PasswordResetForm):
    """Django's "forgot password" form, finding the login as signing in does."""

    email = CanonicalEmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def get_users(self, email: str) -> Iterator[User]:
        # Exact on the canonical form: Django's own lookup folds case in the database, which
        # joins addresses canonical_email keeps apart.
        for user in User.objects.filter(email=canonical_email(email), is_active=True):
            if user.has_usable_password():
                yield user

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        # Rendered as Django's form renders it, sent by a worker (the link is in the job's
        # arguments until it is sent; it works once, for PASSWORD_RESET_TIMEOUT).
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        send_to_each(subject, render_to_string(email_template_name, context), [to_email])


class ResetPasswordForm(UserSetPasswordForm):
    """The new password chosen through a reset link, saved by accounts.credentials."""

    def __init__(self, user: User, *args: Any, context: RequestContext, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.context = context

    def save(self, commit: bool = True) -> User:
        user: User = self.user
        reset_password(user=user, password=self.cleaned_data["new_password1"], context=self.context)
        return user


class ProfileNameForm(forms.Form):
    full_name = forms.CharField(
        label="Name",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )


class EmailChangeForm(forms.Form):
    email = CanonicalEmailField(
        label="New email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class ProfilePasswordForm(UserSetPasswordForm):
    """The signed-in login's new password, with its current one (counted by the lockout)."""

    current_password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["current_password", "new_password1", "new_password2"]

    def __init__(self, request: AccountRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(request.user, *args, **kwargs)
        self.request = request

    def clean_current_password(self) -> str:
        password: str = self.cleaned_data["current_password"]
        confirm_own_password(self.request, password)
        return password


# Larger ids can't exist, and SQLite can't even compare them: refuse them as input.
MAX_ID = 2**63 - 1


class SwitchAccountForm(forms.Form):
    account = forms.IntegerField(min_value=1, max_value=MAX_ID)
