from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.emails import canonical_email
from accounts.models import Account, Membership, User
from apikeys.expiry import CUSTOM, DEFAULT_EXPIRATION
from apikeys.models import ApiKey
from apikeys.services import create_key, record_expirations, roll_key

DEFAULT_PASSWORD = "voxkeys-demo"
SUPERUSER_EMAIL = "admin@voxkeys.test"
# Admin in two accounts, so the account switcher can be tried.
AGENCY_EMAIL = "agency@voxkeys.test"


@dataclass(frozen=True)
class DemoKey:
    name: str
    scopes: list[str]
    description: str = ""
    environment: str = ApiKey.Environment.LIVE
    expires_in_days: int | None = None  # a custom expiry date this many days ahead
    rolled: bool = False  # rolled once, the old key in a 24-hour grace period
    expired: bool = False  # its expiry already passed (backdated: demo history)


@dataclass(frozen=True)
class DemoAccount:
    name: str
    status: str
    api_key_limit: int
    credit_balance: int
    members: list[tuple[str, str]]
    keys: list[DemoKey] = field(default_factory=list)


DEMO_ACCOUNTS = [
    DemoAccount(
        "Acme Voice",
        Account.Status.ACTIVE,
        25,
        5000,
        [
            ("owner@acme.test", Membership.Role.OWNER),
            ("admin@acme.test", Membership.Role.ADMIN),
            ("member@acme.test", Membership.Role.MEMBER),
            (AGENCY_EMAIL, Membership.Role.ADMIN),
        ],
        [
            DemoKey(
                "Production Server – Main App",
                ["calls:read", "calls:write", "contacts:read"],
                description="api-1 and api-2 in eu-west; owned by the platform team",
            ),
            DemoKey(
                "CRM Connector – Salesforce", ["calls:write", "contacts:read", "contacts:write"]
            ),
            DemoKey(
                "Marketing Automation", ["campaigns:read", "campaigns:write", "webhooks:manage"]
            ),
            DemoKey("WordPress Integration", ["contacts:write"], expires_in_days=5),
            DemoKey("Zapier Automation", ["calls:read", "campaigns:read"], rolled=True),
            DemoKey(
                "Development Environment",
                ["calls:read", "calls:write", "contacts:read", "contacts:write"],
                environment=ApiKey.Environment.TEST,
            ),
            DemoKey("Legacy Dialer", ["calls:write"], expired=True),
        ],
    ),
    DemoAccount(
        "Globex",
        Account.Status.ACTIVE,
        10,
        1200,
        [("owner@globex.test", "owner"), (AGENCY_EMAIL, Membership.Role.ADMIN)],
    ),
    DemoAccount("Initech", Account.Status.SUSPENDED, 10, 0, [("owner@initech.test", "owner")]),
    DemoAccount(
        "Umbrella",
        Account.Status.ACTIVE,
        2,
        800,
        [("owner@umbrella.test", Membership.Role.OWNER)],
        [
            DemoKey("Production Server – Main App", ["calls:read", "calls:write"]),
            DemoKey("Development Environment", ["calls:read"]),
        ],
    ),
]


class Command(BaseCommand):
    help = "Create (or restore) the demo accounts, members and keys. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password", default=DEFAULT_PASSWORD, help="Password for every login."
        )

    def handle(self, *args: object, password: str, **options: object) -> None:
        # The logins print after the commit, below any notification emails the console shows.
        logins = self._seed(password)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in at /login/ with:"))
        for email, what in logins:
            self.stdout.write(f"  {email:<22} {what}")
        self.stdout.write(f"  ({AGENCY_EMAIL} is admin in two accounts: try the account switcher)")
        self.stdout.write(f"Password for every login: {password}")

    @transaction.atomic
    def _seed(self, password: str) -> list[tuple[str, str]]:
        logins = []
        for demo in DEMO_ACCOUNTS:
            account, _ = Account.objects.update_or_create(
                name=demo.name,
                defaults={
                    "status": demo.status,
                    "api_key_limit": demo.api_key_limit,
                    "credit_balance": demo.credit_balance,
                },
            )
            owner = None
            for email, role in demo.members:
                user = self._user(email, password)
                Membership.objects.update_or_create(
                    user=user, account=account, defaults={"role": role}
                )
                owner = owner or user
                logins.append((email, f"{role} of {demo.name}"))
            if owner is not None:
                self._keys(account, owner, demo.keys)
        superuser = self._user(SUPERUSER_EMAIL, password, is_staff=True, is_superuser=True)
        logins.append((superuser.email, "superuser, for /admin/"))
        return logins

    def _user(self, email: str, password: str, **flags: bool) -> User:
        user = User.objects.filter(email=canonical_email(email)).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password, **flags)
        else:
            user.set_password(password)
            for name, value in flags.items():
                setattr(user, name, value)
            user.save()
        return user

    def _keys(self, account: Account, owner: User, keys: list[DemoKey]) -> None:
        # Each demo key is made once, by name: re-running never piles up keys, never revives a
        # key someone revoked, and tops up a database seeded by an older version.
        existing = set(account.api_keys.values_list("name", flat=True))
        today = timezone.localdate()
        for demo in keys:
            if demo.name in existing:
                continue
            expiration, expires_on = DEFAULT_EXPIRATION, None
            if demo.expires_in_days is not None:
                expiration, expires_on = CUSTOM, today + timedelta(days=demo.expires_in_days)
            created = create_key(
                account=account,
                user=owner,
                name=demo.name,
                scopes=demo.scopes,
                description=demo.description,
                environment=demo.environment,
                expiration=expiration,
                expires_on=expires_on,
            )
            if demo.rolled:
                roll_key(key=created.api_key, user=owner, grace=timedelta(hours=24))
            if demo.expired:
                # Demo history: no service makes a key that has already expired.
                ended = timezone.now() - timedelta(days=3)
                ApiKey.objects.filter(pk=created.api_key.pk).update(
                    created_at=ended - timedelta(days=90), expires_at=ended
                )
                record_expirations([ApiKey.objects.get(pk=created.api_key.pk)])
