from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "That email and password don't match an account. Check both and try again."
        ),
    }


# Larger ids can't exist, and SQLite can't even compare them: refuse them as input.
MAX_ID = 2**63 - 1


class SwitchAccountForm(forms.Form):
    account = forms.IntegerField(min_value=1, max_value=MAX_ID)
