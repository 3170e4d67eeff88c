from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest

from accounts.emails import canonical_email
from accounts.lockout import clear_failures


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
        # Through authenticate(), with the request: the attempt counts towards the sign-in
        # lockout, and a locked member's password is not even checked.
        username = self.request.user.get_username()
        user = authenticate(self.request, username=username, password=password)
        if user is None or user.pk != self.request.user.pk:
            raise forms.ValidationError("Wrong password. Try again.", code="invalid")
        # Signing in clears the failures counted so far; confirming the password does too.
        clear_failures(self.request, username)
        return password


# Larger ids can't exist, and SQLite can't even compare them: refuse them as input.
MAX_ID = 2**63 - 1


class SwitchAccountForm(forms.Form):
    account = forms.IntegerField(min_value=1, max_value=MAX_ID)
