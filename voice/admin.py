from __future__ import annotations

from django.contrib import admin

from voice.models import Call, Campaign, Contact, Webhook


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "email", "account", "created_at"]
    search_fields = ["name", "phone", "email", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "account", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["to_number", "status", "campaign", "account", "created_at"]
    list_filter = ["status"]
    search_fields = ["to_number", "account__name"]
    list_select_related = ["account", "campaign"]
    raw_id_fields = ["account", "contact", "campaign"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "account", "created_at"]
    search_fields = ["url", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
