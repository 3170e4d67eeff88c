from __future__ import annotations

from django.contrib import admin

from voice.models import Call, Campaign, Contact, Webhook


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


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "account", "livemode", "created_at"]
    list_filter = ["livemode"]
    search_fields = ["url", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
