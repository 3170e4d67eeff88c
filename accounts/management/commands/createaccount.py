"""Create a customer account and email its owner an invitation, so that no operator ever picks
(or sees) a customer's password: the owner sets it when accepting."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from accounts.invitations import invite
from accounts.models import Account, Membership
from accounts.services import MembershipRefused


class Command(BaseCommand):
    help = "Create a customer account and email an owner invitation to EMAIL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The account's name, as its members see it.")
        parser.add_argument("--owner", required=True, metavar="EMAIL", help="Who owns it.")
        parser.add_argument(
            "--limit",
            type=int,
            metavar="N",
            help=f"Active API keys it may hold (default {settings.APIKEY_LIMIT_DEFAULT}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account(name=options["name"])
        if options["limit"] is not None:
            account.api_key_limit = options["limit"]
        try:
            validate_email(options["owner"])
            account.full_clean()
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        try:
            with transaction.atomic():
                account.save()
                sent = invite(
                    account=account,
                    email=options["owner"],
                    role=Membership.Role.OWNER,
                    actor=None,
                    site_url=settings.SITE_URL,
                )
        except MembershipRefused as refusal:
            raise CommandError(refusal.message) from refusal
        invitation = sent.invitation
        self.stdout.write(
            f"Created the account {account.name} (id {account.pk}) and emailed an owner "
            f"invitation to {invitation.email}, valid until {invitation.expires_at:%Y-%m-%d %H:%M} "
            "UTC."
        )
