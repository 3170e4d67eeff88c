from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from voice.models import URL_MAX_LENGTH, Call, Campaign, Contact, Webhook
from voice.validation import FieldError, clean_events, clean_webhook_url


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "email", "account", "livemode", "created_at"]
    list_filter = ["livemode"]
    search_fields = ["name", "phone", "email", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "account", "livemode", "created_at"]
    list_filter = ["livemode", "status"]
    search_fields = ["name", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["to_number", "status", "campaign", "account", "livemode", "created_at"]
    list_filter = ["livemode", "status"]
    search_fields = ["to_number", "account__name"]
    list_select_related = ["account", "campaign"]
    raw_id_fields = ["account", "contact", "campaign"]


class WebhookForm(forms.ModelForm):
    """The API's own rules for a webhook (https only, public addresses, known events)."""

    url = forms.CharField(label="URL", max_length=URL_MAX_LENGTH, widget=forms.URLInput)

    class Meta:
        model = Webhook
        fields = ["account", "livemode", "url", "events"]

    def clean_url(self) -> str:
        url: str = self._apply(clean_webhook_url, self.cleaned_data["url"])
        return url

    def clean_events(self) -> Any:
        return self._apply(clean_events, self.cleaned_data["events"])

    @staticmethod
    def _apply(rule: Any, value: Any) -> Any:
        try:
            return rule(value)
        except FieldError as error:
            raise forms.ValidationError(str(error)) from error


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["url", "account", "livemode", "created_at"]
    list_filter = ["livemode"]
    search_fields = ["url", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
