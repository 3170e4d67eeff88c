"""The one safe-text rule: each refused class named by its code point, the same message in the
service, the admin's forms and the models, and every person-entered text field covered."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.test import Client

from accounts.models import Account, Membership, User
from tests.factories import UserFactory
from voice.models import Campaign, Contact
from voxkeys.safetext import (
    SafeTextValidator,
    replace_unsafe,
    unsafe_character,
    unsafe_character_error,
)

REFUSED = {
    "\x00": "control character",
    "\x1f": "control character",
    "\x7f": "control character",
    "\x85": "control character",
    "\x9f": "control character",
    "\n": "line break",
    "\r": "line break",
    "\t": "tab",
    "\u061c": "invisible text-direction character",
    "\u200e": "invisible text-direction character",
    "\u200f": "invisible text-direction character",
    "\u202a": "invisible text-direction character",
    "\u202e": "invisible text-direction character",
    "\u2066": "invisible text-direction character",
    "\u2069": "invisible text-direction character",
    "\u200b": "invisible character",
    "\u200c": "invisible character",
    "\u200d": "invisible character",
    "\u2060": "invisible character",
    "\ufeff": "invisible character",
    "\u00ad": "invisible character",
    "\u2028": "line separator",
    "\u2029": "line separator",
    "\U000e0000": "invisible tag character",
    "\U000e0041": "invisible tag character",
    "\U000e007f": "invisible tag character",
    "\ud800": "unpaired surrogate",
}
ALLOWED = ["Café", "Zürich – Main", "生产", "שרת", "🚀", "a\u00a0b", "\u3000", "\U000e0080"]
# Person-entered text: what the rule must guard on every model the admin edits.
NOT_FREE_TEXT = (models.EmailField, models.URLField, models.GenericIPAddressField)


@pytest.mark.parametrize("char, kind", REFUSED.items(), ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_each_refused_character_is_named_by_its_code_point(char: str, kind: str) -> None:
    assert unsafe_character(f"ok{char}ok") == (kind, f"U+{ord(char):04X}")
    assert unsafe_character_error(f"ok{char}", "name") == (
        f"Remove the {kind} (U+{ord(char):04X}) from the name."
    )


@pytest.mark.parametrize("text", ALLOWED)
def test_ordinary_text_passes(text: str) -> None:
    assert unsafe_character(text) is None
    SafeTextValidator("name")(text)


def test_the_validator_raises_the_rules_message() -> None:
    with pytest.raises(ValidationError) as refused:
        SafeTextValidator("name")("Acme\u202eCorp")
    assert refused.value.messages == [
        "Remove the invisible text-direction character (U+202E) from the name."
    ]


def free_text_fields() -> list[tuple[type[models.Model], str]]:
    fields = []
    for model in admin.site._registry:
        # Our own models that people edit; the activity log is a read-only record.
        if model._meta.app_label not in ("accounts", "apikeys", "voice"):
            continue
        for field in model._meta.get_fields():
            if (
                isinstance(field, models.CharField)
                and field.editable
                and not field.choices
                and not isinstance(field, NOT_FREE_TEXT)
                and field.name not in ("password", "email", "phone", "to_number", "url", "scopes")
                and not field.name.endswith(("_digest", "_key", "_token"))
            ):
                fields.append((model, field.name))
    return fields


@pytest.mark.parametrize("model, name", free_text_fields(), ids=lambda v: getattr(v, "__name__", v))
def test_every_free_text_field_an_admin_edits_carries_the_rule(
    model: type[models.Model], name: str
) -> None:
    field = model._meta.get_field(name)
    assert any(isinstance(v, SafeTextValidator) for v in field.validators), (
        f"{model.__name__}.{name} accepts text without the safe-text rule"
    )


def test_the_rule_covers_the_fields_people_name_things_with() -> None:
    covered = {(model.__name__, name) for model, name in free_text_fields()}
    assert {("Account", "name"), ("User", "full_name"), ("Contact", "name")} <= covered
    assert ("Campaign", "name") in covered


@pytest.mark.django_db
@pytest.mark.parametrize("char", ["\u202e", "\u2028", "\u200b", "\U000e0041"])
def test_the_admin_refuses_an_account_name_with_the_rules_message(char: str) -> None:
    staff = UserFactory(email="root@voxkeys.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    account = Account.objects.create(name="Acme")
    response = client.post(
        f"/admin/accounts/account/{account.pk}/change/",
        {
            "name": f"Ac{char}me",
            "status": "active",
            "api_key_limit": 10,
            "api_rate_limit": 25,
            "credit_balance": 0,
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert unsafe_character_error(f"Ac{char}me", "name") in response.text
    account.refresh_from_db()
    assert account.name == "Acme"


@pytest.mark.django_db
def test_a_model_form_for_a_user_refuses_an_unsafe_full_name() -> None:
    form_class = forms.modelform_factory(User, fields=["full_name"])
    form = form_class({"full_name": "Eve\u2066Admin"})
    assert not form.is_valid()
    assert form.errors["full_name"] == [
        "Remove the invisible text-direction character (U+2066) from the name."
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Contact, Campaign])
def test_model_forms_for_contacts_and_campaigns_refuse_unsafe_names(
    model: type[models.Model], owner: Membership
) -> None:
    form_class = forms.modelform_factory(model, fields=["name"])
    form = form_class({"name": "Bob\u00adby"})
    assert not form.is_valid()
    assert form.errors["name"] == ["Remove the invisible character (U+00AD) from the name."]


def test_replace_unsafe_keeps_ordinary_text_and_what_it_is_told_to() -> None:
    assert replace_unsafe("Café\u202eline\nnext\u2028end", keep="\n") == (
        "Café\ufffdline\nnext\ufffdend"
    )
    assert replace_unsafe("a\nb") == "a\ufffdb"
