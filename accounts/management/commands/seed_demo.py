from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.emails import canonical_email
from accounts.models import Account, Membership, User
from apikeys.auth.usage import Batch, ClientSeen, write_batch
from apikeys.expiry import CUSTOM, DEFAULT_EXPIRATION
from apikeys.models import ApiKey
from apikeys.services import create_key, record_expirations, roll_key

DEFAULT_PASSWORD = "voxkeys-demo"
SUPERUSER_EMAIL = "admin@voxkeys.test"
# Admin in two accounts, so the account switcher can be tried.
AGENCY_EMAIL = "agency@voxkeys.test"


USAGE_DAYS = 30


@dataclass(frozen=True)
class DemoUsage:
    """30 days of a key's calls: requests per hour at the busiest hour, how they split between
    scopes, the clients they come from, and a few errors of each code per day."""

    peak_per_hour: int
    scopes: dict[str, float]  # scope -> share of the requests
    clients: list[tuple[str, str]]  # (IP address, user agent)
    errors_per_day: dict[tuple[str, str], float] = field(default_factory=dict)  # (code, scope)


@dataclass(frozen=True)
class DemoKey:
    name: str
    scopes: list[str]
    description: str = ""
    environment: str = ApiKey.Environment.LIVE
    expires_in_days: int | None = None  # a custom expiry date this many days ahead
    rolled: bool = False  # rolled once, the old key in a 24-hour grace period
    expired: bool = False  # its expiry already passed (backdated: demo history)
    age_days: int = 0  # created this many days ago (backdated: demo history)
    usage: DemoUsage | None = None


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
                age_days=60,
                # contacts:read is never used: the list hints it, the key page shows it.
                usage=DemoUsage(
                    peak_per_hour=420,
                    scopes={"calls:read": 0.65, "calls:write": 0.35},
                    clients=[
                        ("203.0.113.10", "voxpria-python/2.4.1 python-requests/2.32.3"),
                        ("203.0.113.11", "voxpria-python/2.4.1 python-requests/2.32.3"),
                        ("198.51.100.23", "curl/8.5.0"),
                    ],
                    errors_per_day={
                        ("insufficient_scope", "campaigns:read"): 0.4,
                        ("ip_not_allowed", "calls:read"): 0.2,
                        ("rate_limited", "calls:write"): 3,
                        ("not_found", "calls:read"): 6,
                        ("internal_error", "calls:write"): 0.1,
                    },
                ),
            ),
            DemoKey(
                "CRM Connector – Salesforce",
                ["calls:write", "contacts:read", "contacts:write"],
                age_days=40,
                usage=DemoUsage(
                    peak_per_hour=90,
                    scopes={"contacts:read": 0.5, "contacts:write": 0.3, "calls:write": 0.2},
                    clients=[("192.0.2.44", "Salesforce-Apex/61.0")],
                    errors_per_day={("validation_error", "contacts:write"): 2},
                ),
            ),
            DemoKey(
                "Marketing Automation",
                ["campaigns:read", "campaigns:write", "webhooks:manage"],
                age_days=45,  # never used: "Unused for 30 days · Revoke?"
            ),
            DemoKey("WordPress Integration", ["contacts:write"], expires_in_days=5),
            DemoKey("Zapier Automation", ["calls:read", "campaigns:read"], rolled=True),
            DemoKey(
                "Development Environment",
                ["calls:read", "calls:write", "contacts:read", "contacts:write"],
                environment=ApiKey.Environment.TEST,
                usage=DemoUsage(
                    peak_per_hour=12,
                    scopes={"calls:read": 0.4, "calls:write": 0.3, "contacts:write": 0.3},
                    clients=[("127.0.0.1", "curl/8.5.0")],
                ),
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
            if demo.age_days:
                # Demo history, like the expired key below: the key and its expiry move back.
                ApiKey.objects.filter(pk=created.api_key.pk).update(
                    created_at=F("created_at") - timedelta(days=demo.age_days),
                    expires_at=F("expires_at") - timedelta(days=demo.age_days),
                )
            if demo.usage is not None:
                seed_usage(created.api_key, demo.usage, timezone.now())
            if demo.rolled:
                roll_key(key=created.api_key, user=owner, grace=timedelta(hours=24))
            if demo.expired:
                # Demo history: no service makes a key that has already expired.
                ended = timezone.now() - timedelta(days=3)
                ApiKey.objects.filter(pk=created.api_key.pk).update(
                    created_at=ended - timedelta(days=90), expires_at=ended
                )
                record_expirations([ApiKey.objects.get(pk=created.api_key.pk)])


def seed_usage(api_key: ApiKey, demo: DemoUsage, now: datetime) -> None:
    """Write 30 days of hourly usage through the same batch writer the API's counters use."""
    # The same numbers on every run: the demo reads the same each time it is set up.
    rng = random.Random(f"{api_key.name}:{demo.peak_per_hour}")
    batch = Batch()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    first_hour = this_hour - timedelta(days=USAGE_DAYS - 1, hours=this_hour.hour)
    hours = int((this_hour - first_hour) / timedelta(hours=1)) + 1
    for offset in range(hours):
        hour = first_hour + timedelta(hours=offset)
        # Busy in working hours (UTC), quieter at night and at weekends.
        daytime = 1.0 if 7 <= hour.hour < 19 else 0.15
        weekday = 1.0 if hour.weekday() < 5 else 0.35
        requests = int(demo.peak_per_hour * daytime * weekday * rng.uniform(0.6, 1.0))
        for scope, share in demo.scopes.items():
            count = round(requests * share)
            if count:
                batch.usage[(api_key.pk, hour, scope, 2, "")] = count
                batch.scopes[(api_key.pk, scope)] = hour + timedelta(minutes=59)
        for (code, scope), per_day in demo.errors_per_day.items():
            if rng.random() < per_day / 24 * (1 + daytime):
                status_class = 5 if code == "internal_error" else 4
                bucket = (api_key.pk, hour, scope, status_class, code)
                batch.usage[bucket] = rng.randint(1, 3)
        batch.requests += requests
    for number, (ip, user_agent) in enumerate(demo.clients):
        last_seen = this_hour - timedelta(minutes=7 * number)
        batch.clients[(api_key.pk, ip)] = ClientSeen(
            first_seen=first_hour + timedelta(hours=number),
            last_seen=last_seen,
            user_agent=user_agent,
            requests=batch.requests // len(demo.clients),
        )
    write_batch(batch)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=this_hour)
