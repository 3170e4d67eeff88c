"""The create dialog as a person meets it: errors that show and then go, no jumping, and no
half-filled form lost to a stray Esc."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from accounts.models import Membership
from apikeys.models import ApiKey
from tests.support.browser import Login, open_api_keys, open_create_dialog

DANGER = "rgb(192, 38, 45)"  # app.css --color-danger
NAME_ERROR = "Give the key a descriptive name."
SCOPE_ERROR = "Choose at least one permission scope."
DISCARD = "Discard this form?"


def border_colour(field: Locator) -> str:
    return field.evaluate("element => getComputedStyle(element).borderTopColor")


def top_edge(dialog: Locator) -> float:
    box = dialog.bounding_box()
    assert box is not None
    return box["y"]


def submit_without_a_name(dialog: Locator) -> None:
    # Spaces get past the browser's own "required" check; the server refuses them.
    dialog.get_by_label("Key Name").fill("   ")
    dialog.get_by_role("button", name="Create API Key").click()
    expect(dialog.get_by_text(NAME_ERROR, exact=True)).to_be_visible()


def test_an_error_has_a_red_border_and_goes_once_its_field_changes(
    login: Login, owner: Membership
) -> None:
    page = login(owner)
    open_api_keys(page)
    dialog = open_create_dialog(page)
    name = dialog.get_by_label("Key Name")
    untouched_border = border_colour(name)
    submit_without_a_name(dialog)
    expect(dialog.get_by_text(SCOPE_ERROR, exact=True)).to_be_visible()

    # The server's answer: the summary takes the focus and links to the name, which is in
    # error, marked for eyes and for screen readers.
    summary = dialog.get_by_role("group", name=re.compile("Fix these 2 problems"))
    expect(summary).to_be_focused()
    summary.get_by_role("link", name=re.compile("^Key Name")).click()
    expect(name).to_be_focused()
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(re.compile(f"Marketing Automation”. {NAME_ERROR}$"))
    assert border_colour(name) == DANGER != untouched_border
    dialog.get_by_label("Description").focus()
    assert border_colour(name) == DANGER

    # Typing a name removes its error, and only its error.
    name.fill("Marketing Automation")
    expect(dialog.get_by_text(NAME_ERROR, exact=True)).to_have_count(0)
    expect(name).not_to_have_attribute("aria-invalid", "true")
    expect(name).not_to_have_accessible_description(NAME_ERROR)
    assert border_colour(name) != DANGER
    expect(dialog.get_by_text(SCOPE_ERROR, exact=True)).to_be_visible()

    # Ticking a scope removes the scopes' error.
    dialog.get_by_label("campaigns:read", exact=True).check()
    expect(dialog.get_by_text(SCOPE_ERROR, exact=True)).to_have_count(0)
    expect(dialog.get_by_label("campaigns:read", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )

    dialog.get_by_role("button", name="Create API Key").click()
    expect(page.get_by_role("dialog", name="Your new API key")).to_be_visible()
    assert ApiKey.objects.get().name == "Marketing Automation"


def test_the_dialog_keeps_its_top_edge_as_the_review_and_errors_appear(
    login: Login, owner: Membership, page: Page
) -> None:
    # Tall enough for the whole form: a dialog centred in the window would move up as it grows.
    page.set_viewport_size({"width": 1280, "height": 1800})
    login(owner)
    open_api_keys(page)
    dialog = open_create_dialog(page)
    top = top_edge(dialog)
    height = dialog.bounding_box()["height"]

    dialog.get_by_label("calls:read", exact=True).check()
    expect(dialog.get_by_role("region", name="Review")).to_contain_text("This key will be able to:")
    assert top_edge(dialog) == top

    dialog.get_by_label("calls:read", exact=True).uncheck()
    submit_without_a_name(dialog)
    expect(dialog.get_by_text(SCOPE_ERROR, exact=True)).to_be_visible()
    assert dialog.bounding_box()["height"] > height
    assert top_edge(dialog) == top


def test_closing_an_untouched_form_asks_nothing(login: Login, owner: Membership) -> None:
    page = login(owner)
    open_api_keys(page)
    dialog = open_create_dialog(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    dialog = open_create_dialog(page)
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_be_hidden()

    # A change undone is no change.
    dialog = open_create_dialog(page)
    dialog.get_by_label("webhooks:manage", exact=True).check()
    dialog.get_by_label("webhooks:manage", exact=True).uncheck()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Create New API Key").first).to_be_focused()


def test_closing_a_changed_form_asks_first(login: Login, owner: Membership) -> None:
    page = login(owner)
    open_api_keys(page)
    dialog = open_create_dialog(page)
    name = dialog.get_by_label("Key Name")
    name.fill("CRM Connector – Salesforce")
    question = dialog.get_by_text(DISCARD)

    # Esc asks; keeping on editing goes back to the field, with what was typed.
    page.keyboard.press("Escape")
    expect(question).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep editing")).to_be_focused()
    expect(dialog.get_by_role("button", name="Create API Key")).to_be_hidden()
    dialog.get_by_role("button", name="Keep editing").click()
    expect(question).to_be_hidden()
    expect(name).to_be_focused()
    expect(name).to_have_value("CRM Connector – Salesforce")

    # The × asks too, and Esc on the question backs out of it.
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(question).to_be_visible()
    page.keyboard.press("Escape")
    expect(question).to_be_hidden()
    expect(dialog).to_be_visible()
    expect(name).to_have_value("CRM Connector – Salesforce")

    # Discarding closes it; the next form starts empty.
    dialog.get_by_role("button", name="Cancel").click()
    dialog.get_by_role("button", name="Discard").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Create New API Key").first).to_be_focused()
    dialog = open_create_dialog(page)
    expect(dialog.get_by_label("Key Name")).to_have_value("")
    assert ApiKey.objects.count() == 0


def test_a_form_sent_back_with_errors_asks_before_closing(login: Login, owner: Membership) -> None:
    page = login(owner)
    open_api_keys(page)
    dialog = open_create_dialog(page)
    dialog.get_by_label("Expiration").select_option("30")
    dialog.get_by_label("contacts:read", exact=True).check()
    submit_without_a_name(dialog)
    # What was picked is still there, though nothing changed since the server's answer.
    page.keyboard.press("Escape")
    expect(dialog.get_by_text(DISCARD)).to_be_visible()
    dialog.get_by_role("button", name="Keep editing").click()
    expect(dialog.get_by_label("contacts:read", exact=True)).to_be_checked()
    expect(dialog.get_by_label("Expiration")).to_have_value("30")
