from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.models import Account
from activity.models import ActivityEvent


class ActivityFilterForm(forms.Form):
    key = forms.TypedChoiceField(label="Key", required=False, coerce=int, empty_value=None)
    event = forms.ChoiceField(
        label="Event",
        required=False,
        choices=[("", "All events"), *ActivityEvent.Type.choices],
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keys = account.api_keys.order_by("name", "-created_at")
        key_field = cast(forms.TypedChoiceField, self.fields["key"])
        key_field.choices = [("", "All keys")] + [
            (key.pk, f"{key.name} ({key.masked_key})") for key in keys
        ]
