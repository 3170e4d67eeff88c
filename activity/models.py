"""The activity log: what happened in an account, append-only, for people and auditors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account

if TYPE_CHECKING:
    from apikeys.models import ApiKey


class AppendOnlyError(Exception):
    """Activity events are a record: they are written once and never changed or deleted."""


class ActivityEventQuerySet(models.QuerySet["ActivityEvent"]):
    def update(self, **kwargs: object) -> int:
        raise AppendOnlyError("Activity events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Activity events cannot be deleted.")

    def for_key(self, api_key: ApiKey) -> ActivityEventQuerySet:
        # A roll is one event, about both keys.
        return self.filter(Q(api_key=api_key) | Q(related_key=api_key))


class ActivityEvent(models.Model):
    """One action in an account (on a key, a member, ...), written in the action's transaction."""

    class Type(models.TextChoices):
        CREATED = "created", "Created"
        EDITED = "edited", "Edited"
        ROLLED = "rolled", "Rolled"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"
        LEAKED = "leaked", "Leaked"
        MEMBER_ADDED = "member_added", "Member added"
        MEMBER_CHANGED = "member_changed", "Member role changed"
        MEMBER_REMOVED = "member_removed", "Member removed"
        INVITED = "invited", "Member invited"
        INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
        JOINED = "joined", "Member joined"
        LEFT = "left", "Member left"
        # A member's login: recorded in each of their accounts, whose owners should know.
        PASSWORD_RESET = "password_reset", "Password reset"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        STAFF_PASSWORD_SET = "staff_password_set", "Password set by staff"
        EMAIL_CHANGED = "email_changed", "Email changed"
        # Two-factor: a member's factors (in each of their accounts), and the account's policy.
        TWO_FACTOR_ADDED = "2fa_added", "Two-factor method added"
        TWO_FACTOR_REMOVED = "2fa_removed", "Two-factor method removed"
        RECOVERY_CODES_REGENERATED = "recovery_regenerated", "Recovery codes regenerated"
        RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
        TWO_FACTOR_RESET = "2fa_reset", "Two-factor reset by staff"
        TWO_FACTOR_REQUIRED = "2fa_required", "Two-factor required"
        TWO_FACTOR_NOT_REQUIRED = "2fa_not_required", "Two-factor no longer required"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="activity_events")
    # Empty for account events (membership changes, a member's password or email).
    api_key = models.ForeignKey(
        "apikeys.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    # For a roll: the successor the event created.
    related_key = models.ForeignKey(
        "apikeys.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    event_type = models.CharField("event", max_length=20, choices=Type.choices)
    # The actor's email is kept as written: the record outlives the user. Empty: the system.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ActivityEventQuerySet.as_manager()

    class Meta:
        # The table the key feature created: the rows predate the activity app.
        db_table = "apikeys_keyevent"
        ordering = ["-created_at", "-id"]
        # One index per way the log is read, each in its pages' order, so a page deep in a
        # million events is found in the index (activity.paging): the account's log, the log of
        # one kind of event, of a key and of a roll's successor, and the admin's whole log.
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="keyevent_account_time"),
            models.Index(
                fields=["account", "event_type", "-created_at", "-id"], name="keyevent_type_time"
            ),
            models.Index(fields=["api_key", "-created_at"], name="keyevent_key_time"),
            models.Index(
                fields=["related_key", "-created_at", "-id"], name="keyevent_related_key_time"
            ),
            models.Index(fields=["-created_at", "-id"], name="keyevent_time"),
        ]

    def __str__(self) -> str:
        subject = self.api_key.name if self.api_key is not None else self.account.name
        return f"{self.get_event_type_display()}: {subject}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Activity events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Activity events cannot be deleted.")

    @property
    def actor_label(self) -> str:
        return self.actor_email or "system"
