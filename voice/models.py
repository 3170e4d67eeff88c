"""The resources the API's scopes guard. Every row belongs to one account and one mode.

`livemode` is False for rows made with a test key (vxp_test_): test mode is a separate world in
the same tables, which live keys never see and test keys never leave (voice/views.py).
"""

from __future__ import annotations

from django.db import models

from accounts.models import Account
from voxkeys.safetext import SafeTextValidator

# E.164: a plus sign, then up to 15 digits, the first not zero.
PHONE_MAX_LENGTH = 16
NAME_MAX_LENGTH = 200
URL_MAX_LENGTH = 2000
LIVEMODE_HELP = "Unticked: made with a test key, and seen only by test keys."

# The events a webhook can subscribe to; the API rejects any other name.
WEBHOOK_EVENTS: tuple[str, ...] = (
    "call.queued",
    "call.completed",
    "call.failed",
    "campaign.created",
    "campaign.updated",
    "contact.created",
    "contact.updated",
    "contact.deleted",
)


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    livemode = models.BooleanField(default=True, help_text=LIVEMODE_HELP)
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[SafeTextValidator("name")])
    phone = models.CharField(max_length=PHONE_MAX_LENGTH, help_text="E.164, e.g. +14155550100.")
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        # Lists page by id within one account's live or test rows.
        indexes = [
            models.Index(fields=["account", "livemode", "id"], name="contact_account_livemode_id")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone})"


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="campaigns")
    livemode = models.BooleanField(default=True, help_text=LIVEMODE_HELP)
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[SafeTextValidator("name")])
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "livemode", "id"], name="campaign_account_livemode_id")
        ]

    def __str__(self) -> str:
        return self.name


class Call(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        # Made with a test key: nobody is dialled and no credits are spent.
        SIMULATED = "simulated", "Simulated"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="calls")
    livemode = models.BooleanField(default=True, help_text=LIVEMODE_HELP)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    # Kept on the call itself: the history must survive the contact being changed or deleted.
    to_number = models.CharField(max_length=PHONE_MAX_LENGTH)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "livemode", "id"], name="call_account_livemode_id")
        ]

    def __str__(self) -> str:
        return f"Call to {self.to_number} ({self.status})"


class Webhook(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    livemode = models.BooleanField(default=True, help_text=LIVEMODE_HELP)
    url = models.URLField(max_length=URL_MAX_LENGTH)
    events = models.JSONField(default=list, help_text="Event names from the catalogue.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "livemode", "id"], name="webhook_account_livemode_id")
        ]

    def __str__(self) -> str:
        return self.url
