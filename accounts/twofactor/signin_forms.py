"""The code fields of the second sign-in step and of sudo mode: the format is checked here,
before anything is counted or looked up."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from accounts.twofactor.factors import RECOVERY_CODE_ALPHABET, RECOVERY_CODE_LENGTH
from accounts.twofactor.verification import CodeKind

TOTP_CODE = re.compile(r"[0-9]{6}")
RECOVERY_CODE = re.compile(f"[{RECOVERY_CODE_ALPHABET}]{{{RECOVERY_CODE_LENGTH}}}")


class AuthenticatorCodeForm(forms.Form):
    """The 6-digit code of the user's authenticator app (spaces ignored: "123 456")."""

    kind = CodeKind.TOTP
    prefix = "totp"
    code = forms.CharField(
        label="6-digit code",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, autofocus: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Where the code is the first thing asked (not beside a password field).
        if autofocus:
            self.fields["code"].widget.attrs.update({"autofocus": True, "data-autofocus": True})

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not TOTP_CODE.fullmatch(code):
            raise forms.ValidationError(
                "Enter the 6-digit code from your authenticator app.", code="malformed"
            )
        return code


class RecoveryCodeForm(forms.Form):
    """One of the user's recovery codes, as printed ("abcde-23456"), any case."""

    kind = CodeKind.RECOVERY_CODE
    prefix = "recovery"
    code = forms.CharField(
        label="Recovery code",
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split()).replace("-", "").lower()
        if not RECOVERY_CODE.fullmatch(code):
            raise forms.ValidationError(
                "Enter one of your recovery codes: ten letters and digits, like abcde-23456.",
                code="malformed",
            )
        return code


WRONG_CODE = {
    CodeKind.TOTP: "That code is not right, or was already used. Wait for the next code and "
    "try again.",
    CodeKind.RECOVERY_CODE: "That recovery code is not one of yours, or was already used.",
}


def submitted_code_form(data: Any) -> AuthenticatorCodeForm | RecoveryCodeForm:
    """The form a POST filled in, by its `method` (an authenticator code unless it says so)."""
    if data.get("method") == CodeKind.RECOVERY_CODE:
        return RecoveryCodeForm(data)
    return AuthenticatorCodeForm(data)
