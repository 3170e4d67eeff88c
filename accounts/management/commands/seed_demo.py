from __future__ import annotations

from dataclasses import dataclass, field

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Account, Membership, User
from apikeys.services import create_key

DEFAULT_PASSWORD = "voxkeys-demo"
SUPERUSER_EMAIL = "admin@voxkeys.test"


@dataclass(frozen=True)
class DemoAccount:
    name: str
    status: str
    api_key_limit: int
    credit_balance: int
    members: list[tuple[str, str]]
    keys: list[tuple[str, list[str]]] = field(default_factory=list)


DEMO_ACCOUNTS = [
    DemoAccount(
        "Acme Voice",
        Account.Status.ACTIVE,
        10,
        5000,
        [
            ("owner@acme.test", Membership.Role.OWNER),
            ("admin@acme.test", Membership.Role.ADMIN),
            ("member@acme.test", Membership.Role.MEMBER),
        ],
        [
            ("Production Server – Main App", ["calls:read", "calls:write", "contacts:read"]),
            ("CRM Connector – Salesforce", ["calls:write", "contacts:read", "contacts:write"]),
            ("Marketing Automation", ["campaigns:read", "campaigns:write", "webhooks:manage"]),
        ],
    ),
    DemoAccount("Globex", Account.Status.ACTIVE, 10, 1200, [("owner@globex.test", "owner")]),
    DemoAccount("Initech", Account.Status.SUSPENDED, 10, 0, [("owner@initech.test", "owner")]),
    DemoAccount(
        "Umbrella",
        Account.Status.ACTIVE,
        2,
        800,
        [("owner@umbrella.test", Membership.Role.OWNER)],
        [
            ("Production Server – Main App", ["calls:read", "calls:write"]),
            ("Development Environment", ["calls:read"]),
        ],
    ),
]


class Command(BaseCommand):
    help = "Create (or restore) the demo accounts, members and keys. Safe to run again."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--password", default=DEFAULT_PASSWORD, help="Password for every login."
        )

    @transaction.atomic
    def handle(self, *args: object, password: str, **options: object) -> None:
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
            self._keys(account, owner, demo.keys)
        superuser = self._user(SUPERUSER_EMAIL, password, is_staff=True, is_superuser=True)
        logins.append((superuser.email, "superuser, for /admin/"))

        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in at /login/ with:"))
        for email, what in logins:
            self.stdout.write(f"  {email:<22} {what}")
        self.stdout.write(f"Password for every login: {password}")

    def _user(self, email: str, password: str, **flags: bool) -> User:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password, **flags)
        else:
            user.set_password(password)
            for name, value in flags.items():
                setattr(user, name, value)
            user.save()
        return user

    def _keys(
        self, account: Account, owner: User | None, keys: list[tuple[str, list[str]]]
    ) -> None:
        # Only top up a fresh account, so re-running never piles up keys or revives revoked ones.
        if owner is None or account.api_keys.exists():
            return
        for name, scopes in keys:
            create_key(account=account, user=owner, name=name, scopes=scopes)
