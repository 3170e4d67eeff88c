from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Account
from apikeys.expiry import (
    CUSTOM,
    NEVER,
    PRESET_DAYS,
    custom_date_range,
    default_expiration,
    expiration_choices,
)
from apikeys.models import ApiKey
from apikeys.scopes import SCOPE_CHOICES
from apikeys.services import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, InvalidKeyInput

NAME_EXAMPLES = (
    "Production Server – Main App",
    "Development Environment",
    "WordPress Integration",
    "CRM Connector – Salesforce",
    "Marketing Automation",
)
OUT_OF_DATE = "This form is out of date. Close it and open it again."

# "Old key stops working": the roll dialog's choices, in order.
GRACE_CHOICES: list[tuple[str, str]] = [
    ("now", "Now"),
    ("1h", "In 1 hour"),
    ("24h", "In 24 hours"),
    ("3d", "In 3 days"),
    ("7d", "In 7 days"),
]
GRACE_PERIODS: dict[str, timedelta] = {
    "now": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
}
DEFAULT_GRACE = "24h"


class KeyFieldsForm(forms.Form):
    """Name, description and scopes: what create and edit share. The rules live in services."""

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
    description = forms.CharField(
        label="Description",
        required=False,
        # One line: line breaks are refused (apikeys.services.validate_key_input).
        widget=forms.TextInput(attrs={"maxlength": DESCRIPTION_MAX_LENGTH, "autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        label="Permission Scopes", required=False, choices=SCOPE_CHOICES
    )
    allowed_ips = forms.CharField(
        label="Allowed IP addresses",
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "203.0.113.7\n198.51.100.0/24",
            }
        ),
    )

    def add_service_errors(self, error: InvalidKeyInput) -> None:
        """Show the service's messages next to the fields they are about."""
        for field, messages in error.errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)

    @property
    def selected_scopes(self) -> list[str]:
        return list(self["scopes"].value() or [])


class ApiKeyForm(KeyFieldsForm):
    """Parses the create form; the rules themselves live in apikeys.services.create_key."""

    # The page's order, which the error summary follows.
    field_order = [
        "name",
        "description",
        "environment",
        "expiration",
        "expires_on",
        "scopes",
        "allowed_ips",
    ]

    environment = forms.ChoiceField(
        label="Environment",
        required=False,  # absent means Live, the default
        choices=ApiKey.Environment.choices,
        initial=ApiKey.Environment.LIVE,
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": "Choose Live or Test.",
            "required": "Choose Live or Test.",
        },
    )
    # Free text, not a ChoiceField: the service says why a choice is not allowed (the account's
    # maximum lifetime), which is more useful than "not one of the available choices".
    expiration = forms.CharField(label="Expiration", required=False)
    expires_on = forms.DateField(
        label="Expiry date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
    )
    # One token per rendered form: create_key makes one key per token, however often it arrives.
    creation_token = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={"required": OUT_OF_DATE, "invalid": OUT_OF_DATE},
    )
    # The account the form was opened in: switching account in another tab must not silently
    # create the key somewhere else.
    account = forms.IntegerField(
        widget=forms.HiddenInput,
        error_messages={"required": OUT_OF_DATE, "invalid": OUT_OF_DATE},
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "creation_token": uuid.uuid4(),
                "account": account.pk,
                "environment": ApiKey.Environment.LIVE,
                "expiration": default_expiration(account),
            },
        )
        super().__init__(*args, **kwargs)
        self.current_account = account
        self.expiration_choices = expiration_choices(account)
        first, last = custom_date_range(account)
        self.fields["expires_on"].widget.attrs.update(
            {"min": first.isoformat(), "max": last.isoformat()}
        )

    @classmethod
    def like(cls, api_key: ApiKey, *, account: Account) -> ApiKeyForm:
        """A new form filled in as `api_key` was: "Create a key like this" on a key that ended."""
        form = cls(account=account)
        form.initial.update(
            {
                "name": api_key.name,
                "description": api_key.description,
                "scopes": api_key.scope_list,
                "environment": api_key.environment,
                "allowed_ips": "\n".join(api_key.allowed_ip_list),
                **form.expiry_like(api_key),
            }
        )
        return form

    def expiry_like(self, api_key: ApiKey) -> dict[str, object]:
        """The expiration choice (and custom date) that gives a new key `api_key`'s lifetime,
        or nothing (the default) when the account's policy no longer offers it."""
        allowed = {choice.value for choice in self.expiration_choices}
        if api_key.lifetime is None:
            return {"expiration": NEVER} if NEVER in allowed else {}
        for value, days in PRESET_DAYS.items():
            if api_key.lifetime == timedelta(days=days):
                return {"expiration": value} if value in allowed else {}
        expires_on = timezone.localdate(timezone.now() + api_key.lifetime)
        first, last = custom_date_range(self.current_account)
        if CUSTOM not in allowed or not first <= expires_on <= last:
            return {}
        return {"expiration": CUSTOM, "expires_on": expires_on}

    def clean_account(self) -> int:
        account_id: int = self.cleaned_data["account"]
        if account_id != self.current_account.pk:
            raise ValidationError(
                f"You switched to {self.current_account.name} since opening this form. "
                "Close it and open it again to create a key in this account."
            )
        return account_id

    def clean_environment(self) -> str:
        return self.cleaned_data["environment"] or ApiKey.Environment.LIVE

    def clean_expiration(self) -> str:
        return self.cleaned_data["expiration"] or default_expiration(self.current_account)

    @property
    def selected_expiration(self) -> str:
        return str(self["expiration"].value() or default_expiration(self.current_account))


class EditKeyForm(KeyFieldsForm):
    """Parses the edit form; apikeys.services.edit_key holds the rules."""

    @classmethod
    def for_key(cls, api_key: ApiKey) -> EditKeyForm:
        return cls(
            initial={
                "name": api_key.name,
                "description": api_key.description,
                "scopes": api_key.scope_list,
                "allowed_ips": "\n".join(api_key.allowed_ip_list),
            }
        )


class RollKeyForm(forms.Form):
    grace = forms.ChoiceField(
        label="Old key stops working",
        choices=GRACE_CHOICES,
        initial=DEFAULT_GRACE,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose when the old key stops working.",
            "invalid_choice": "Choose when the old key stops working.",
        },
    )

    @property
    def grace_period(self) -> timedelta:
        return GRACE_PERIODS[self.cleaned_data["grace"]]
