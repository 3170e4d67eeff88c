from __future__ import annotations

from django import forms


class AuthenticatorCodeForm(forms.Form):
    """The code an authenticator app shows, confirming that it was set up right.

    Its format is checked by the enrolment service, which holds the rule, so the form only asks
    for something to be there.
    """

    code = forms.CharField(
        label="Enter the 6-digit code",
        max_length=20,
        error_messages={"required": "Enter the 6-digit code your app shows now."},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autocapitalize": "off",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )
