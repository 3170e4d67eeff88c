"""Settings → API Keys over HTTP: full pages without JavaScript, partials for htmx, the rules."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from accounts.models import Account, Membership
from apikeys.keys import is_well_formed, key_digest
from apikeys.models import ApiKey
from apikeys.services import CreatedKey, create_key, revoke_key
from tests.conftest import client_for
from tests.factories import MembershipFactory
from tests.support.apikeys import CREATE, INDEX, SECRET_PATTERN, form_data, revealed_secret
from tests.support.htmx import HTMX

pytestmark = pytest.mark.django_db


def revoke_url(api_key: ApiKey) -> str:
    return reverse("apikeys:revoke", args=[api_key.pk])


def new_key(membership: Membership, name: str = "Production Server – Main App") -> CreatedKey:
    return create_key(
        account=membership.account, user=membership.user, name=name, scopes=["calls:read"]
    )


# The page


def test_page_lists_active_keys_newest_first_with_create_button(
    owner_client: Client, owner: Membership
) -> None:
    new_key(owner, "Older Key")
    new_key(owner, "Newer Key")
    response = owner_client.get(INDEX)
    assert response.status_code == 200
    assertContains(response, "<h1>API Keys</h1>", html=True)
    assertContains(response, "Create New API Key")
    assertContains(response, "2 of 10 keys")
    assertContains(response, '<span class="muted">Never</span>', count=2, html=True)
    content = response.content.decode()
    assert content.index("Newer Key") < content.index("Older Key")
    assertContains(response, "Separate keys per environment")
    assertContains(response, "Never commit to Git")


def test_empty_page_explains_keys_and_offers_create(owner_client: Client) -> None:
    response = owner_client.get(INDEX)
    assertContains(response, "No API keys yet")
    assertContains(response, "call the VoxPria API")
    assertContains(response, "Create New API Key", count=2)


def test_last_used_is_shown_in_words(owner_client: Client, owner: Membership) -> None:
    created = new_key(owner)
    ApiKey.objects.filter(pk=created.api_key.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=3)
    )
    response = owner_client.get(INDEX)
    assertContains(response, '<span class="cell-label">Last used</span>', html=True)
    assertContains(response, ">3 minutes ago</time>")
    assertNotContains(response, ">Never<")


def test_revoked_keys_are_listed_apart_with_when_and_who(
    owner_client: Client, owner: Membership
) -> None:
    created = new_key(owner, "Retired Key")
    revoke_key(key=created.api_key, user=owner.user)
    response = owner_client.get(INDEX, {"inactive": 1})
    assertContains(response, "Expired and revoked keys (1)")
    assertContains(response, "No API keys yet")
    assertContains(response, "by owner@acme.test", count=2)  # created by, revoked by


def test_htmx_request_gets_the_key_list_only_with_its_messages(
    owner_client: Client, owner: Membership
) -> None:
    new_key(owner)
    response = owner_client.get(INDEX, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assertContains(response, "Production Server – Main App")
    assert "HX-Request" in response["Vary"]


def create_button(response) -> str:  # noqa: ANN001
    """The header's Create button, as HTML."""
    match = re.search(r'<button[^>]*id="create-key"[^>]*>[^<]*</button>', response.content.decode())
    assert match, "the page has no Create button"
    return match.group()


def banner(response) -> str:  # noqa: ANN001
    """The text and links of the banner that says what to do when creating is refused."""
    match = re.search(
        r'<div class="block-banner" id="create-blocked">(.*?)\n</div>',
        response.content.decode(),
        re.S,
    )
    assert match, "the page has no banner"
    return html.unescape(match.group(1))


@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.OWNER])
def test_owners_and_admins_get_a_working_create_button(account: Account, role: str) -> None:
    response = client_for(MembershipFactory(account=account, role=role)).get(INDEX)
    button = create_button(response)
    assert f'hx-get="{CREATE}"' in button and "disabled" not in button
    assertNotContains(response, 'id="create-blocked"')


def test_members_see_a_disabled_button_and_whom_to_ask(account: Account) -> None:
    MembershipFactory(account=account, role=Membership.Role.ADMIN, user__email="zed@acme.test")
    MembershipFactory(
        account=account,
        role=Membership.Role.OWNER,
        user__email="olga@acme.test",
        user__full_name="Olga Owner",
    )
    MembershipFactory(
        account=account,
        role=Membership.Role.ADMIN,
        user__email="gone@acme.test",
        user__is_active=False,
    )
    MembershipFactory(role=Membership.Role.OWNER, user__email="elsewhere@globex.test")
    viewer = MembershipFactory(account=account, role=Membership.Role.MEMBER)
    response = client_for(viewer).get(INDEX)

    button = create_button(response)
    assert 'aria-disabled="true"' in button and "hx-get" not in button
    assert 'aria-describedby="create-key-reason"' in button
    assertContains(
        response,
        '<p class="create-action__reason" id="create-key-reason">'
        "Your role can&#x27;t manage API keys</p>",
        html=True,
    )
    text = banner(response)
    assert "To get a key, ask an owner or admin of this account." in text
    assert "Ask an owner or admin" in text
    # Owners first, then admins; active logins of this account only.
    people = re.findall(r'<a href="mailto:([^"]+)">', text)
    assert people == ["olga@acme.test", "zed@acme.test"]
    assert "Olga Owner, " in text and "(Owner)" in text and "(Admin)" in text
    assert "Contact support" not in text and "Revoke a key" not in text


def test_a_member_with_nobody_to_ask_is_sent_to_support(member_client: Client) -> None:
    text = banner(member_client.get(INDEX))
    assert "Ask an owner or admin</p>" not in text
    assert (
        '<a class="button button--small" href="mailto:support@voxpria.com'
        '?subject=No%20owner%20or%20admin%20left%20in%20Acme%20Voice">Contact support</a>'
    ) in text


def test_suspended_account_sees_a_disabled_button_and_contact_support(
    suspended_owner: Membership, settings: Settings
) -> None:
    settings.SUPPORT_EMAIL = "help@voxpria.test"
    response = client_for(suspended_owner).get(INDEX)
    assert 'aria-disabled="true"' in create_button(response)
    assertContains(response, "This account is not in good standing</p>")
    text = banner(response)
    assert "Initech is suspended, so new API keys can't be created." in text
    assert (
        '<a class="button button--small" href="mailto:help@voxpria.test'
        '?subject=Restore%20the%20account%20Initech">Contact support</a>'
    ) in text
    assert "Revoke a key" not in text and "mailto:owner@initech.test" not in text


def test_the_support_subject_is_one_line(suspended_owner: Membership) -> None:
    Account.objects.filter(pk=suspended_owner.account_id).update(name="Initech\r\nBcc: x@y.test")
    text = banner(client_for(suspended_owner).get(INDEX))
    assert (
        "mailto:support@voxpria.com?subject=Restore%20the%20account%20Initech%20Bcc%3A%20x%40y.test"
        in text
    )


def test_full_account_sees_its_usage_and_what_to_do(owner: Membership) -> None:
    Account.objects.filter(pk=owner.account_id).update(api_key_limit=2)
    new_key(owner, "One")
    new_key(owner, "Two")
    response = client_for(owner).get(INDEX)
    assert 'aria-disabled="true"' in create_button(response)
    assertContains(response, "Key limit reached</p>")
    text = banner(response)
    assert "This account uses 2 of 2 keys." in text
    assert "Revoke an unused key to make room, or contact support to raise the limit." in text
    assert (
        f'<a class="button button--small" href="{INDEX}#active-keys-title">Revoke a key</a>' in text
    )
    assert (
        '<a class="button button--small" href="mailto:support@voxpria.com'
        '?subject=Raise%20the%20API%20key%20limit%20of%20Acme%20Voice">Contact support</a>'
    ) in text
    # The list the link leads to, with a Revoke button (and a Revoke in its ⋯ menu) for each key.
    assertContains(response, 'id="active-keys-title"')
    assertContains(response, ">Revoke<", count=4)


def test_member_sees_the_list_read_only(member_client: Client, owner: Membership) -> None:
    created = new_key(owner)
    response = member_client.get(INDEX)
    assertContains(response, "Production Server – Main App")
    assertNotContains(response, revoke_url(created.api_key))


def test_key_names_are_escaped(owner_client: Client, owner: Membership) -> None:
    new_key(owner, "<script>alert(1)</script>")
    response = owner_client.get(INDEX)
    assertContains(response, "&lt;script&gt;alert(1)&lt;/script&gt;")
    assertNotContains(response, "<script>alert(1)")


def test_signed_out_visitors_are_sent_to_log_in() -> None:
    response = Client().get(INDEX)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# Creating


def test_form_is_a_dialog_fragment_for_htmx_and_a_page_without(owner_client: Client) -> None:
    fragment = owner_client.get(CREATE, headers=HTMX)
    page = owner_client.get(CREATE)
    for response in (fragment, page):
        assert response.status_code == 200
        assertContains(response, "Key Name")
        assertContains(response, "Permission Scopes")
        assertContains(response, "principle of least privilege")
        assertContains(response, "WordPress Integration")
        assertContains(response, "Create API Key")
        assertContains(response, 'name="creation_token"')
        assert "no-store" in response["Cache-Control"]
    assert "<html" not in fragment.content.decode()
    assertContains(page, "<html")
    assertContains(fragment, "hx-post")
    assertNotContains(page, "hx-post")


def test_form_shows_each_scope_as_the_guide_lists_it(owner_client: Client) -> None:
    response = owner_client.get(CREATE)
    for scope, allows, use_case in [
        ("calls:read", "View calls", "Dashboards"),
        ("calls:write", "Trigger calls", "CRM integration"),
        ("campaigns:read", "View campaigns", "Analytics"),
        ("campaigns:write", "Manage campaigns", "Automation"),
        ("contacts:read", "View contacts", "Contact sync"),
        ("contacts:write", "Manage contacts", "Imports"),
        ("webhooks:manage", "Manage webhooks", "Event-driven"),
    ]:
        assertContains(response, f'value="{scope}"')
        assertContains(response, f">{allows}</td>")
        assertContains(response, f">{use_case}</td>")


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_errors_show_next_to_their_fields(owner_client: Client, headers: dict) -> None:
    response = owner_client.post(CREATE, form_data(name="   ", scopes=[]), headers=headers)
    assert response.status_code == 422
    assertContains(
        response,
        '<p class="field__error" id="id_name_error">Give the key a descriptive name.</p>',
        html=True,
        status_code=422,
    )
    assertContains(
        response,
        '<p class="field__error" id="scopes-error">Choose at least one permission scope.</p>',
        html=True,
        status_code=422,
    )
    assertContains(response, 'aria-describedby="id_name_helptext id_name_error"', status_code=422)
    assert ApiKey.objects.count() == 0


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_every_bad_field_is_reported_in_one_submit_with_a_summary_linking_to_each(
    owner_client: Client, headers: dict
) -> None:
    data = form_data(scopes=[], allowed_ips="10.0.0.300", expiration="custom", expires_on="")
    response = owner_client.post(CREATE, data, headers=headers)
    assert response.status_code == 422
    summary = re.search(
        r'<div class="error-summary".*?</div>', response.content.decode(), flags=re.S
    ).group()
    assert "Fix these 3 problems to continue" in summary
    for anchor, message in [
        ("id_expiration", "Expiration: Pick the date the key should expire on."),
        ("id_scopes", "Permission Scopes: Choose at least one permission scope."),
        ("id_allowed_ips", "Allowed IP addresses: Not an IP address or range: “10.0.0.300”"),
    ]:
        assert f'<a href="#{anchor}">{message}' in html.unescape(summary)
        assertContains(response, f'id="{anchor}"', status_code=422)
    assert ApiKey.objects.count() == 0


def test_edit_reports_every_bad_field_at_once(owner_client: Client, owner: Membership) -> None:
    api_key = create_key(
        account=owner.account, user=owner.user, name="CRM", scopes=["calls:read"]
    ).api_key
    response = owner_client.post(
        reverse("apikeys:edit", args=[api_key.pk]),
        {"name": "", "scopes": [], "allowed_ips": "nope"},
        headers=HTMX,
    )
    assertContains(response, "Fix these 3 problems to continue", status_code=422)


@pytest.mark.parametrize(
    ("overrides", "field", "error_id", "message"),
    [
        ({"name": "x" * 101}, "name", "id_name_error", "Keep the name to 100 characters"),
        ({"description": "Main\tApp"}, "description", "id_description_error", "Remove the tab"),
        ({"allowed_ips": "999.1.1.1"}, "allowed_ips", "id_allowed_ips_error", "Not an IP address"),
        (
            {"expiration": "custom", "expires_on": "2001-01-01"},
            "expiration",
            "expiration-error",
            "Pick a date from tomorrow on.",
        ),
    ],
    ids=["name", "description", "allowed_ips", "expiration"],
)
def test_a_field_in_error_is_marked_and_points_at_its_message(
    owner_client: Client, overrides: dict, field: str, error_id: str, message: str
) -> None:
    response = owner_client.post(CREATE, form_data(**overrides), headers=HTMX)
    assert response.status_code == 422
    content = html.unescape(response.content.decode())
    # The wrapper is marked (the red border, which static/js/apikeys.js removes with the message
    # once the field changes); the control is invalid and described by the message, there.
    wrapper = re.search(rf'<div class="field field--error">\s*<label for="id_{field}"', content)
    assert wrapper, f"{field} is not marked in error"
    control = re.search(rf'<(input|textarea|select)[^>]*name="{field}"[^>]*>', content).group()
    assert 'aria-invalid="true"' in control
    assert re.search(rf'aria-describedby="[^"]*\b{error_id}\b', control)
    assert re.search(rf'<p class="field__error" id="{error_id}">{re.escape(message)}', content)
    ids = set(re.findall(r' id="([^"]+)"', content))
    for described_by in re.findall(r'aria-describedby="([^"]+)"', content):
        assert set(described_by.split()) <= ids, described_by


def test_too_long_and_duplicate_names_are_refused(owner_client: Client, owner: Membership) -> None:
    response = owner_client.post(CREATE, form_data(name="x" * 101))
    assertContains(response, "Keep the name to 100 characters or fewer", status_code=422)
    new_key(owner, "Taken")
    response = owner_client.post(CREATE, form_data(name="  taken "))
    assertContains(response, "An active key already has this name", status_code=422)
    assert ApiKey.objects.count() == 1


def test_ticked_scopes_stay_ticked_after_an_error(owner_client: Client) -> None:
    response = owner_client.post(CREATE, form_data(name="", scopes=["contacts:write"]))
    assertContains(response, "add, import, change and delete your contacts", status_code=422)
    content = response.content.decode()
    checked = re.findall(r'value="([a-z:]+)"[^>]*\bchecked\b', content, flags=re.S)
    assert checked == ["contacts:write"]


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_create_reveals_the_key_once(
    owner_client: Client, owner: Membership, headers: dict
) -> None:
    response = owner_client.post(CREATE, form_data(name="  Trimmed  "), headers=headers)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = revealed_secret(response)
    assert is_well_formed(secret)
    api_key = ApiKey.objects.get()
    assert api_key.name == "Trimmed"
    assert api_key.key_digest == key_digest(secret)
    assert api_key.created_by == owner.user
    assert api_key.scope_list == ["calls:read", "calls:write"]
    assertContains(response, "This is the ONLY time you")
    assertContains(response, "Copy it NOW!")
    assertContains(response, "Done")
    assertContains(
        response,
        "curl -X GET &quot;http://testserver/api/v1/credits&quot; \\\n"
        f"  -H &quot;Authorization: Bearer {secret}&quot; \\\n"
        "  -H &quot;Content-Type: application/json&quot;",
    )
    assert ("<html" in response.content.decode()) is not bool(headers)


def test_no_response_after_the_reveal_contains_the_secret(
    owner_client: Client, owner: Membership
) -> None:
    data = form_data()
    secret = revealed_secret(owner_client.post(CREATE, data, headers=HTMX))
    api_key = ApiKey.objects.get()

    later = [
        owner_client.get(INDEX, headers=HTMX),  # the list refresh after the dialog closes
        owner_client.get(INDEX),  # a reload
        owner_client.get(CREATE, headers=HTMX),  # the form again
        owner_client.get(CREATE),
        owner_client.post(CREATE, data),  # the same form again
        owner_client.get(revoke_url(api_key)),
    ]
    for response in later:
        assert secret not in response.content.decode()
        assert not SECRET_PATTERN.search(response.content.decode())
    # The success message names the key, and the session and cookies never hold the secret.
    assert "created" in later[0].content.decode()
    assert all(secret not in str(value) for value in owner_client.session.values())
    assert all(secret not in morsel.value for morsel in owner_client.cookies.values())
    assert secret not in str(ApiKey.objects.values().get())


def test_resubmitting_the_same_form_creates_one_key(owner_client: Client) -> None:
    data = form_data()
    first = owner_client.post(CREATE, data, headers=HTMX)
    second = owner_client.post(CREATE, data, headers=HTMX)
    assert first.status_code == 200
    assert second.status_code == 409
    assertContains(second, "This key was already created", status_code=409)
    assertContains(second, "can't be shown again", status_code=409)
    assert revealed_secret(first) not in second.content.decode()
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        ("member", "ask an owner or admin"),
        ("suspended", "contact support to restore the account"),
        ("full", "contact support to raise the limit"),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_refused_create_is_403_with_the_reason(
    request: pytest.FixtureRequest, who: str, reason: str, headers: dict
) -> None:
    membership = {
        "member": lambda: request.getfixturevalue("member"),
        "suspended": lambda: request.getfixturevalue("suspended_owner"),
        "full": lambda: request.getfixturevalue("owner"),
    }[who]()
    if who == "full":
        Account.objects.filter(pk=membership.account_id).update(api_key_limit=1)
        new_key(membership, "Only")
    before = ApiKey.objects.count()
    client = client_for(membership)

    assertContains(client.get(CREATE, headers=headers), reason, status_code=403)
    data = form_data(account=membership.account_id)
    assertContains(client.post(CREATE, data, headers=headers), reason, status_code=403)
    # Whatever the browser sends, the reason comes first.
    assertContains(client.post(CREATE, {}, headers=headers), reason, status_code=403)
    assert ApiKey.objects.count() == before


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_refused_dialog_offers_the_way_out(
    account: Account, owner: Membership, member: Membership, headers: dict
) -> None:
    refused = client_for(member).get(CREATE, headers=headers)
    assertContains(refused, "Ask an owner or admin", status_code=403)
    assertContains(
        refused, '<a href="mailto:owner@acme.test">owner@acme.test</a>', html=True, status_code=403
    )
    assertNotContains(refused, "Contact support", status_code=403)

    Account.objects.filter(pk=account.pk).update(api_key_limit=1)
    new_key(owner, "Only")
    full = client_for(owner).get(CREATE, headers=headers)
    assertContains(full, "Key limit reached", status_code=403)
    assertContains(
        full, "mailto:support@voxpria.com?subject=Raise%20the%20API%20key%20limit", status_code=403
    )
    # As a page, a link leads to the list; in the dialog, the list is right behind it.
    revoke_link = f'href="{INDEX}#active-keys-title">Revoke a key</a>'
    if headers:
        assertNotContains(full, revoke_link, status_code=403)
        assertContains(full, "data-refresh-on-close", status_code=403)
    else:
        assertContains(full, revoke_link, status_code=403)


def test_create_enforces_csrf(owner: Membership) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    assert client.post(CREATE, form_data()).status_code == 403
    assert ApiKey.objects.count() == 0

    client.get(CREATE)  # sets the CSRF cookie, as the page does
    token = client.cookies["csrftoken"].value
    response = client.post(CREATE, form_data(csrfmiddlewaretoken=token))
    assert response.status_code == 200
    assert ApiKey.objects.count() == 1


# Revoking


def test_revoke_confirmation_names_the_key(owner_client: Client, owner: Membership) -> None:
    api_key = new_key(owner, "Staging <Server>").api_key
    for headers in ({}, HTMX):
        response = owner_client.get(revoke_url(api_key), headers=headers)
        assertContains(response, "Revoke “Staging &lt;Server&gt;”?")
        assertContains(response, "stops working immediately")
        assertContains(response, "cannot be undone")
        assertContains(response, "Cancel")
    api_key.refresh_from_db()
    assert api_key.is_active


def test_revoke_without_javascript_redirects_with_a_message(
    owner_client: Client, owner: Membership
) -> None:
    api_key = new_key(owner).api_key
    response = owner_client.post(revoke_url(api_key), follow=True)
    assert response.redirect_chain == [(INDEX, 302)]
    assertContains(response, "API key “Production Server – Main App” revoked.")
    assertContains(response, "Expired and revoked keys (1)")
    api_key.refresh_from_db()
    assert api_key.revoked_by == owner.user


def test_revoke_with_htmx_tells_the_page_to_reload_the_list(
    owner_client: Client, owner: Membership
) -> None:
    api_key = new_key(owner).api_key
    response = owner_client.post(revoke_url(api_key), headers=HTMX)
    assert response.status_code == 204
    assert response["HX-Trigger"] == '{"keysChanged": {}}'
    refreshed = owner_client.get(INDEX, headers=HTMX)
    assertContains(refreshed, "revoked. Applications using it can no longer call the API.")


def test_revoking_twice_changes_nothing_and_says_so(
    owner_client: Client, owner: Membership
) -> None:
    api_key = new_key(owner).api_key
    owner_client.post(revoke_url(api_key))
    api_key.refresh_from_db()
    revoked_at = api_key.revoked_at

    response = owner_client.post(revoke_url(api_key), follow=True)
    assertContains(response, "was already revoked")
    api_key.refresh_from_db()
    assert api_key.revoked_at == revoked_at
    assertContains(owner_client.get(revoke_url(api_key)), "is already revoked")


def test_another_accounts_key_is_404(owner_client: Client, other_owner: Membership) -> None:
    foreign = new_key(other_owner).api_key
    assert owner_client.get(revoke_url(foreign)).status_code == 404
    assert owner_client.post(revoke_url(foreign)).status_code == 404
    assert owner_client.post(revoke_url(foreign), headers=HTMX).status_code == 404
    foreign.refresh_from_db()
    assert foreign.is_active


def test_member_cannot_revoke(member_client: Client, owner: Membership) -> None:
    api_key = new_key(owner).api_key
    assertContains(member_client.get(revoke_url(api_key)), "ask an owner", status_code=403)
    response = member_client.post(revoke_url(api_key), headers=HTMX)
    assertContains(response, "ask an owner or admin", status_code=403)
    api_key.refresh_from_db()
    assert api_key.is_active


def test_suspended_account_may_still_revoke(suspended_owner: Membership) -> None:
    Account.objects.filter(pk=suspended_owner.account_id).update(status=Account.Status.ACTIVE)
    api_key = new_key(suspended_owner).api_key
    Account.objects.filter(pk=suspended_owner.account_id).update(status=Account.Status.SUSPENDED)
    response = client_for(suspended_owner).post(revoke_url(api_key))
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert not api_key.is_active


def test_revoke_enforces_csrf(owner: Membership) -> None:
    api_key = new_key(owner).api_key
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    assert client.post(revoke_url(api_key)).status_code == 403
    api_key.refresh_from_db()
    assert api_key.is_active


def test_index_refuses_post(owner_client: Client) -> None:
    assert owner_client.post(INDEX).status_code == 405


def test_form_opened_in_another_account_creates_nothing(
    owner: Membership, other_owner: Membership
) -> None:
    MembershipFactory(user=owner.user, account=other_owner.account)
    client = client_for(owner)
    data = form_data()  # opened while working in Acme Voice
    client.post("/account/switch/", {"account": other_owner.account_id})

    response = client.post(CREATE, data, headers=HTMX)
    assertContains(response, "You switched to Globex since opening this form", status_code=422)
    assert ApiKey.objects.count() == 0


def test_same_form_resubmitted_after_switching_account_creates_nothing_more(
    owner: Membership, other_owner: Membership
) -> None:
    MembershipFactory(user=owner.user, account=other_owner.account)
    client = client_for(owner)
    data = form_data()
    assert client.post(CREATE, data).status_code == 200
    client.post("/account/switch/", {"account": other_owner.account_id})
    data["account"] = other_owner.account_id  # even a form doctored to match

    response = client.post(CREATE, data)
    assertContains(response, "This form is out of date", status_code=422)
    assert ApiKey.objects.count() == 1


def test_secret_never_reaches_the_logs(
    owner_client: Client, caplog: pytest.LogCaptureFixture, settings: Settings
) -> None:
    caplog.set_level("DEBUG")
    settings.ACCESS_LOG = True  # a line per request (API 4xx are otherwise only counted)
    secret = revealed_secret(owner_client.post(CREATE, form_data(), headers=HTMX))
    bearer = {"Authorization": f"Bearer {secret}"}
    assert owner_client.get("/api/v1/credits", headers=bearer).status_code == 200
    owner_client.post(revoke_url(ApiKey.objects.get()), headers=HTMX)
    assert owner_client.get("/api/v1/credits", headers=bearer).status_code == 401
    owner_client.get(INDEX)
    assert caplog.records, "nothing was logged, so this test would prove nothing"
    assert secret not in caplog.text


def test_the_review_says_environment_expiry_allowlist_and_rate_limit(
    owner_client: Client, owner: Membership
) -> None:
    owner.account.api_rate_limit = 25
    owner.account.save()
    response = owner_client.get(CREATE, headers=HTMX)
    for sentence in (
        "A live key: it works with your real data, and its calls spend credits.",
        "Works from any IP address.",
        "Up to 25 requests per second: the account's rate limit for each key.",
    ):
        assertContains(response, sentence)
    # Sent back with an error, the review is about what was chosen.
    data = form_data(name="", environment="test", allowed_ips="203.0.113.0/24, 198.51.100.7")
    response = owner_client.post(CREATE, data)
    assertContains(response, "sees only test data, and its calls are simulated", status_code=422)
    assertContains(response, "Works only from 203.0.113.0/24, 198.51.100.7.", status_code=422)


def test_the_reveal_of_an_allowlisted_key_says_where_to_run_the_check(
    owner_client: Client,
) -> None:
    response = owner_client.post(CREATE, form_data(allowed_ips="203.0.113.0/24"), headers=HTMX)
    assertContains(
        response,
        "This key only works from 203.0.113.0/24: run the check from one of those machines.",
    )
    response = owner_client.post(CREATE, form_data(name="Open"), headers=HTMX)
    assertNotContains(response, "This key only works from")


def test_without_javascript_update_the_review_rewrites_it_and_creates_nothing(
    owner_client: Client,
) -> None:
    blank = owner_client.get(CREATE)
    assertContains(blank, '<button type="submit" name="review" value="1"')
    assertContains(blank, "Tick at least one scope: a key without scopes can't do anything.")
    data = form_data(scopes=["contacts:write"], environment="test", review="1")
    response = owner_client.post(CREATE, data)
    assert response.status_code == 200
    content = response.content.decode()
    assert re.search(r"<p data-review-none hidden>", content)
    assert re.search(r'<li data-review-item="contacts:write">', content)
    assert re.search(r'<li data-review-item="calls:read" hidden>', content)
    assertContains(response, "A test key: it sees only test data")
    assertNotContains(response, "Fix these")
    assert not ApiKey.objects.exists()
