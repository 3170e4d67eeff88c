from __future__ import annotations

import uuid

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Account
from apikeys.scopes import SCOPE_CHOICES
from apikeys.services import NAME_MAX_LENGTH, InvalidKeyInput

NAME_EXAMPLES = (
    "Production Server – Main App",
    "Development Environment",
    "WordPress Integration",
    "CRM Connector – Salesforce",
    "Marketing Automation",
)


class ApiKeyForm(forms.Form):
    """Parses the create form; the rules themselves live in apikeys.services.create_key."""

    name = forms.CharField(
        label="Key Name",
        # Not required here: the service checks the name, so the message is the same everywhere.
        required=False,
        help_text="Good examples: " + ", ".join(f"“{example}”" for example in NAME_EXAMPLES) + ".",
        widget=forms.TextInput(
            attrs={
                "maxlength": NAME_MAX_LENGTH,
                "required": True,
                "autocomplete": "off",
                "data-autofocus": True,
            }
        ),
    )
    scopes = forms.MultipleChoiceField(
        label="Permission Scopes", required=False, choices=SCOPE_CHOICES
    )
    # One token per rendered form: create_key makes one key per token, however often it arrives.
    creation_token = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "This form is out of date. Close it and open it again.",
            "invalid": "This form is out of date. Close it and open it again.",
        },
    )

    # The account the form was opened in: switching account in another tab must not silently
    # create the key somewhere else.
    account = forms.IntegerField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "This form is out of date. Close it and open it again.",
            "invalid": "This form is out of date. Close it and open it again.",
        },
    )

    def __init__(self, *args: object, account: Account, **kwargs: object) -> None:
        kwargs.setdefault("initial", {"creation_token": uuid.uuid4(), "account": account.pk})
        super().__init__(*args, **kwargs)
        self.current_account = account

    def clean_account(self) -> int:
        if self.cleaned_data["account"] != self.current_account.pk:
            raise ValidationError(
                f"You switched to {self.current_account.name} since opening this form. "
                "Close it and open it again to create a key in this account."
            )
        return self.cleaned_data["account"]

    def add_service_errors(self, error: InvalidKeyInput) -> None:
        """Show the service's messages next to the fields they are about."""
        for field, messages in error.errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)

    @property
    def selected_scopes(self) -> list[str]:
        return list(self["scopes"].value() or [])
