from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.forms import MAX_ID
from accounts.models import Account
from activity.models import ActivityEvent
from apikeys.models import ApiKey

KEY_SUGGESTIONS = 10


def find_key(account: Account, text: str) -> ApiKey | None:
    """Return the account's key that `text` names: its id (the key page's link), its masked
    form, or its name (the newest key of that name); None if it names none."""
    keys = account.api_keys.order_by("-created_at", "-id")
    if text.isdigit():
        return keys.filter(pk=int(text)).first() if int(text) <= MAX_ID else None
    return keys.filter(masked_key=text).first() or keys.filter(name=text).first()


def key_suggestions(account: Account, text: str) -> list[ApiKey]:
    """A few of the account's keys whose name or masked form starts with `text`."""
    keys = account.api_keys.order_by("name", "-created_at", "-id")
    if text:
        keys = keys.filter(name__istartswith=text) | keys.filter(masked_key__startswith=text)
    return list(keys[:KEY_SUGGESTIONS])


class ActivityFilterForm(forms.Form):
    # A search, not a list of every key: a name or a masked key, suggested as one types.
    key = forms.CharField(label="Key", required=False, max_length=100, strip=True)
    event = forms.ChoiceField(
        label="Event",
        required=False,
        choices=[("", "All events"), *ActivityEvent.Type.choices],
    )
    # The page's place: older than event `before`, or newer than event `after`.
    before = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    after = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_key(self) -> ApiKey | None:
        text = self.cleaned_data["key"]
        if not text:
            return None
        api_key = find_key(self.account, text)
        if api_key is None:
            raise ValidationError("That key is not one of this account's keys.", code="unknown")
        return api_key

    def clean_before(self) -> ActivityEvent | None:
        return self._place(self.cleaned_data["before"])

    def clean_after(self) -> ActivityEvent | None:
        return self._place(self.cleaned_data["after"])

    def _place(self, event_id: int | None) -> ActivityEvent | None:
        if event_id is None:
            return None
        event = self.account.activity_events.filter(pk=event_id).first()
        if event is None:
            raise ValidationError("That page of events is not there.", code="unknown")
        return event
