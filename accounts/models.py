from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.emails import canonical_email
from voxkeys.safetext import SafeTextValidator


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        return canonical_email(email or "")

    def get_by_natural_key(self, username: str | None) -> User:
        # Exact on the canonical form: the database's own case folding (iexact, UPPER()) joins
        # addresses that canonical_email keeps apart, and the lockout counts canonical ones.
        return self.get(email=canonical_email(username or ""))

    def _create_user(self, email: str, password: str | None, **extra_fields: object) -> User:
        if not email:
            raise ValueError("Users must have an email address.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: object) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(
        self, email: str, password: str | None = None, **extra_fields: object
    ) -> User:
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True, validators=[SafeTextValidator("name")])
    is_staff = models.BooleanField(
        "staff status", default=False, help_text="Can log in to the Django admin."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_unique_ci",
                violation_error_message="A user with this email address already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = canonical_email(self.email)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Whatever path wrote it (a form, the admin, a command, a test), one stored form.
        self.email = canonical_email(self.email)
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


def default_api_key_limit() -> int:
    return settings.APIKEY_LIMIT_DEFAULT


def default_api_rate_limit() -> int:
    return settings.API_RATE_LIMIT_DEFAULT


class Account(models.Model):
    """A customer workspace: its members share its keys, credits and resources."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=120, validators=[SafeTextValidator("name")])
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    api_key_limit = models.PositiveIntegerField(
        "API key limit",
        default=default_api_key_limit,
        help_text="How many active API keys this account may hold at once.",
    )
    credit_balance = models.IntegerField(default=0, help_text="Calling credits left.")
    api_rate_limit = models.PositiveIntegerField(
        "API rate limit (requests per second)",
        default=default_api_rate_limit,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="How many requests per second each of the account's keys may make.",
    )
    require_two_factor = models.BooleanField(
        "require two-factor authentication",
        default=False,
        help_text="Members without a second factor can only enrol one until they do.",
    )
    max_key_lifetime_days = models.PositiveIntegerField(
        "maximum key lifetime (days)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="New and rolled keys must expire within this many days. Empty: no maximum.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def in_good_standing(self) -> bool:
        return self.status == self.Status.ACTIVE


class MembershipQuerySet(models.QuerySet["Membership"]):
    def for_user(self, user: User) -> MembershipQuerySet:
        return self.filter(user=user).select_related("account").order_by("account__name")


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["account__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="membership_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.account} ({self.get_role_display()})"

    @property
    def can_manage_keys(self) -> bool:
        return self.role in {self.Role.OWNER, self.Role.ADMIN}


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self, now: datetime | None = None) -> InvitationQuerySet:
        """Invitations whose link still works: neither accepted, revoked nor expired."""
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now or timezone.now()
        )


class Invitation(models.Model):
    """An offer to join an account with a role, sent to an email address as a signed link.

    Only the SHA-256 digest of the link's token is stored (like an API key's): the link works
    once, until `expires_at`, unless revoked. Resending replaces the token, so an older email's
    link stops working.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    # In its canonical form (accounts.emails.canonical_email).
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=20, choices=Membership.Role.choices)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    # Empty: the system (the createaccount command), or a user since deleted.
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.account} ({self.get_role_display()})"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())


class Passkey(models.Model):
    """A WebAuthn credential (passkey or security key): a second factor, and a way to sign in."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=100, validators=[SafeTextValidator("name")])
    # base64url, as browsers send it in `rawId`; the spec allows up to 1,023 bytes.
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


class RecoveryCode(models.Model):
    """One of a user's single-use recovery codes, kept only as its SHA-256 digest."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "digest"], name="recoverycode_unique_digest")
        ]

    def __str__(self) -> str:
        return f"Recovery code of {self.user}"


class SecondFactorAttempts(models.Model):
    """Wrong second-factor codes from one address for one user, counted before each check."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    ip_address = models.GenericIPAddressField()
    failures = models.PositiveIntegerField(default=0)
    latest_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "ip_address"], name="secondfactor_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.failures} second-factor failures of {self.user} from {self.ip_address}"


class UserSession(models.Model):
    """A signed-in session, so its person can see it and end it (Settings -> Security)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signed_in_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        indexes = [models.Index(fields=["user", "expires_at"], name="usersession_user_expiry")]

    def __str__(self) -> str:
        return f"Session of {self.user} from {self.ip_address or 'an unknown address'}"


class KnownBrowser(models.Model):
    """A browser a user has signed in from (a long-lived signed cookie's token, as a digest)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="known_browsers")
    token_digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "token_digest"], name="knownbrowser_unique")
        ]

    def __str__(self) -> str:
        return f"Browser of {self.user}"
