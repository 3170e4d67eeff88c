from __future__ import annotations

import os

import pytest
from django.test import Client

from accounts.models import Account, Membership
from tests.factories import AccountFactory, MembershipFactory

# Playwright's sync API keeps an event loop running in the main thread; Django's ORM refuses
# to run there unless told it is safe (it is: the loop is idle while Django runs).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def account() -> Account:
    return AccountFactory(name="Acme Voice")


@pytest.fixture
def owner(account: Account) -> Membership:
    return MembershipFactory(
        account=account, role=Membership.Role.OWNER, user__email="owner@acme.test"
    )


@pytest.fixture
def admin_member(account: Account) -> Membership:
    return MembershipFactory(
        account=account, role=Membership.Role.ADMIN, user__email="admin@acme.test"
    )


@pytest.fixture
def member(account: Account) -> Membership:
    return MembershipFactory(
        account=account, role=Membership.Role.MEMBER, user__email="member@acme.test"
    )


@pytest.fixture
def suspended_owner() -> Membership:
    return MembershipFactory(
        account=AccountFactory(name="Initech", status=Account.Status.SUSPENDED),
        role=Membership.Role.OWNER,
        user__email="owner@initech.test",
    )


@pytest.fixture
def other_owner() -> Membership:
    return MembershipFactory(
        account=AccountFactory(name="Globex"),
        role=Membership.Role.OWNER,
        user__email="owner@globex.test",
    )


def client_for(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.fixture
def owner_client(owner: Membership) -> Client:
    return client_for(owner)


@pytest.fixture
def member_client(member: Membership) -> Client:
    return client_for(member)
