"""The Settings -> Webhooks forms: the API's own rules (voice.validation) for a URL and its
events, each refusal shown beside its field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from voice.models import URL_MAX_LENGTH, WEBHOOK_EVENTS
from voice.validation import FieldError, clean_events, clean_webhook_url


def apply_rule(rule: Callable[[Any], Any], value: Any) -> Any:
    try:
        return rule(value)
    except FieldError as error:
        raise forms.ValidationError(str(error)) from error


class WebhookForm(forms.Form):
    """An endpoint's URL and events, as Edit changes them."""

    url = forms.CharField(
        label="Endpoint URL",
        max_length=URL_MAX_LENGTH,
        # The whole value, as typed: a space or backslash is refused, not quietly removed.
        strip=False,
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(event, event) for event in WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event to send to this endpoint."},
    )

    def clean_url(self) -> str:
        url: str = apply_rule(clean_webhook_url, self.cleaned_data["url"])
        return url

    def clean_events(self) -> list[str]:
        events: list[str] = apply_rule(clean_events, self.cleaned_data["events"])
        return events


class NewWebhookForm(WebhookForm):
    """A new endpoint: also its mode, which it keeps (live events, or test-key events)."""

    LIVE = "live"
    TEST = "test"

    mode = forms.ChoiceField(
        label="Mode",
        choices=[(LIVE, "Live"), (TEST, "Test")],
        initial=LIVE,
        widget=forms.RadioSelect,
    )

    @property
    def livemode(self) -> bool:
        return bool(self.cleaned_data["mode"] == self.LIVE)
