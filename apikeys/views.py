"""Settings → API Keys: the key list, the create and roll dialogs with the show-once reveal,
editing, revoking, the activity log and each key's own page.

Every dialog URL also renders as a whole page, so the flow works without JavaScript. The rules
live in apikeys.services; these views only translate its answers into HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from accounts.forms import MAX_ID
from accounts.models import Account, Membership
from accounts.requests import AccountRequest, current_account
from accounts.sudo import sudo_required
from accounts.support import support_mailto
from activity.events import RequestContext
from activity.models import ActivityEvent
from activity.summaries import event_summary
from apikeys.allowlist import allowlist_entries
from apikeys.expiry import CUSTOM, expires_in_words, successor_expiry
from apikeys.forms import ApiKeyForm, EditKeyForm, KeyFieldsForm, RollKeyForm
from apikeys.hints import attach_idle_scopes, hygiene, idle_scopes_for
from apikeys.insight import daily_usage, scopes_in_use, usage_chart
from apikeys.models import ApiKey
from apikeys.scopes import LEAST_PRIVILEGE_TIP, SCOPES
from apikeys.services import (
    AlreadyRevoked,
    Block,
    DuplicateSubmission,
    InvalidKeyInput,
    KeyActionRefused,
    KeyNotActive,
    create_key,
    creation_block,
    edit_key,
    end_grace,
    manage_block,
    not_rolled_block,
    record_expirations,
    revoke_key,
    roll_block,
    roll_key,
)
from apikeys.verify import VERIFY_PATH, verify_snippets

# The page reloads its key list (and shows the new message) when this event reaches <body>.
KEYS_CHANGED_EVENT = "keysChanged"
# A message's extra tag is the id of its key's row in the list ("key-<pk>"), which lights up.
KEY_PAGE_EVENTS = 20
KEY_PAGE_CLIENTS = 10
RECENT_USE = timedelta(hours=24)
# The key list shows this many active keys a page, and this many of the inactive ones.
KEYS_PER_PAGE = 25
INACTIVE_SHOWN = 50
SEARCH_MAX_LENGTH = 100
# What the list reads of every active key: enough to count them, search them and say which need
# attention (apikeys.hints.hygiene).
SUMMARY_FIELDS = (
    "account_id",
    "name",
    "masked_key",
    "scopes",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
    "replaced_by_id",
)


@require_GET
@vary_on_headers("HX-Request")
def index(request: AccountRequest) -> HttpResponse:
    if request.account is None:
        # base.html tells a login without an account what to do.
        return render(request, "apikeys/index.html")
    template_name = "apikeys/index.html"
    if request.htmx and not request.htmx.history_restore_request:
        if request.GET.get("inactive"):
            # The expired and revoked keys, fetched when their section is opened.
            context = {
                **inactive_keys_context(request.account),
                "member_ids": member_ids(request.account),
            }
            return render(request, template_name + "#inactive-keys", context)
        template_name += "#key-area"
    return render(request, template_name, key_area_context(request, request.account))


@require_http_methods(["GET", "POST"])
@sudo_required
@never_cache  # the form carries a one-time token, the reveal carries the secret
@sensitive_variables("created", "context")  # never in an error report
def create(request: AccountRequest) -> HttpResponse:
    account = current_account(request)
    if request.method == "GET":
        block = creation_block(request.membership)
        if block is not None:
            return render_block(request, block)
        # "Create a key like this", from a key that ended; any other value is a blank form.
        like = request.GET.get("like", "")
        model = None
        if like.isascii() and like.isdigit() and int(like) <= MAX_ID:
            model = account.api_keys.filter(pk=int(like)).first()
        if model is not None:
            return render_form(request, ApiKeyForm.like(model, account=account))
        return render_form(request, ApiKeyForm(account=account))

    form = ApiKeyForm(request.POST, account=account)
    if "review" in request.POST:
        # "Update the review" (without JavaScript): the same form, its review written for what
        # was chosen; nothing is created.
        return render_form(request, form)
    if form.is_valid():
        try:
            created = create_key(
                account=account,
                user=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                scopes=form.cleaned_data["scopes"],
                environment=form.cleaned_data["environment"],
                expiration=form.cleaned_data["expiration"],
                expires_on=form.cleaned_data["expires_on"],
                allowed_ips=form.cleaned_data["allowed_ips"],
                creation_token=form.cleaned_data["creation_token"],
                context=RequestContext.from_request(request),
            )
        except KeyActionRefused as refused:
            return render_block(request, refused.block)
        except DuplicateSubmission as duplicate:
            # The secret was shown with the first response and cannot be shown again.
            return render_dialog(
                request, "apikeys/duplicate.html", {"api_key": duplicate.api_key}, status=409
            )
        except InvalidKeyInput as invalid:
            form.add_service_errors(invalid)
        else:
            # The message names the key, never its secret: messages live in a cookie.
            messages.success(
                request,
                f"API key “{created.api_key.name}” created.",
                extra_tags=f"key-{created.api_key.pk}",
            )
            return render_reveal(request, created.api_key, created.secret)
    # A refused member learns why, not which field was wrong.
    block = creation_block(request.membership)
    if block is not None:
        return render_block(request, block)
    return render_form(request, form, status=422)


@require_http_methods(["GET", "POST"])
@sudo_required
@never_cache  # the reveal carries the secret
@sensitive_variables("created")
def roll(request: AccountRequest, pk: int) -> HttpResponse:
    account = current_account(request)
    api_key = get_object_or_404(account.api_keys, pk=pk)
    if not api_key.is_active:
        return render_block(request, inactive_block(api_key))
    block = roll_block(request.membership, api_key)
    if block is not None:
        return render_block(request, block)
    if request.method == "GET":
        return render_roll_form(request, api_key, RollKeyForm())

    form = RollKeyForm(request.POST)
    if not form.is_valid():
        return render_roll_form(request, api_key, form, status=422)
    try:
        created = roll_key(
            key=api_key,
            user=request.user,
            grace=form.grace_period,
            context=RequestContext.from_request(request),
        )
    except KeyActionRefused as refused:
        return render_block(request, refused.block)
    except KeyNotActive:
        return render_block(request, inactive_block(api_key))
    api_key.refresh_from_db()
    messages.success(
        request,
        f"API key “{api_key.name}” rolled. {old_key_fate(api_key)}",
        extra_tags=f"key-{created.api_key.pk}",
    )
    # Rolled from the old key's page: once the reveal closes, the new key's page replaces it
    # (static/js/dialogs.js). From the list, the list stays.
    land_on = ""
    if request.htmx and request.htmx.current_url_abs_path == reverse("apikeys:detail", args=[pk]):
        land_on = reverse("apikeys:detail", args=[created.api_key.pk])
    return render_reveal(
        request, created.api_key, created.secret, rolled_from=api_key, land_on=land_on
    )


@require_http_methods(["GET", "POST"])
@sudo_required
def edit(request: AccountRequest, pk: int) -> HttpResponse:
    account = current_account(request)
    api_key = get_object_or_404(account.api_keys, pk=pk)
    block = manage_block(request.user, account)
    if block is not None:
        return render_block(request, block)
    if not api_key.is_active:
        return render_block(request, inactive_block(api_key))
    if request.method == "GET":
        form = EditKeyForm.for_key(api_key)
        # A hint's Review opens the form with its idle scopes unticked (?drop=a,b), each marked;
        # scopes the key does not have are ignored.
        dropping = [s for s in request.GET.get("drop", "").split(",") if s in api_key.scope_list]
        if dropping:
            form.initial["scopes"] = [s for s in api_key.scope_list if s not in dropping]
        return render_edit_form(request, api_key, form, dropping=dropping)

    form = EditKeyForm(request.POST)
    if form.is_valid():
        try:
            result = edit_key(
                key=api_key,
                user=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                scopes=form.cleaned_data["scopes"],
                allowed_ips=form.cleaned_data["allowed_ips"],
                context=RequestContext.from_request(request),
            )
        except KeyActionRefused as refused:
            return render_block(request, refused.block)
        except KeyNotActive:
            return render_block(request, inactive_block(api_key))
        except InvalidKeyInput as invalid:
            form.add_service_errors(invalid)
        else:
            tag = f"key-{result.api_key.pk}"
            if result.changed:
                messages.success(request, f"API key “{result.api_key.name}” updated.", tag)
            else:
                messages.info(request, f"Nothing changed on “{result.api_key.name}”.", tag)
            return keys_changed(request)
    return render_edit_form(request, api_key, form, status=422)


@require_http_methods(["GET", "POST"])
def revoke(request: AccountRequest, pk: int) -> HttpResponse:
    account = current_account(request)
    # Looked up among this account's keys only: another account's key is a 404.
    api_key = get_object_or_404(account.api_keys.select_related("revoked_by"), pk=pk)
    if request.method == "GET":
        block = manage_block(request.user, account)
        if block is not None:
            return render_block(request, block)
        return render_dialog(request, "apikeys/revoke.html", revoke_context(api_key))

    try:
        revoke_key(key=api_key, user=request.user, context=RequestContext.from_request(request))
    except KeyActionRefused as refused:
        return render_block(request, refused.block)
    except AlreadyRevoked as already:
        messages.info(request, str(already))
    else:
        messages.success(
            request,
            f"API key “{api_key.name}” revoked. Applications using it can no longer call the API.",
            extra_tags=f"key-{api_key.pk}",
        )
    return keys_changed(request)


@require_http_methods(["GET", "POST"])
def end_now(request: AccountRequest, pk: int) -> HttpResponse:
    """End now: the rolled key `pk`'s old secret stops before its grace period ends."""
    account = current_account(request)
    api_key = get_object_or_404(account.api_keys.select_related("replaced_by"), pk=pk)
    block = manage_block(request.user, account)
    if block is not None:
        return render_block(request, block)
    if api_key.replaced_by_id is None:
        return render_block(request, not_rolled_block(api_key))
    if request.method == "GET":
        return render_dialog(request, "apikeys/end_grace.html", {"api_key": api_key})
    try:
        end_grace(key=api_key, user=request.user, context=RequestContext.from_request(request))
    except KeyActionRefused as refused:
        return render_block(request, refused.block)
    except KeyNotActive:
        messages.info(request, f"The old secret of “{api_key.name}” had already stopped working.")
    else:
        messages.success(
            request,
            f"The old secret of “{api_key.name}” stopped working now. Only its replacement works.",
        )
    return keys_changed(request)


def revoke_context(api_key: ApiKey) -> dict[str, Any]:
    """What revoking would stop: the key's last use and its clients; a key used in the last
    RECENT_USE is better rolled (its applications move to the new secret without downtime)."""
    used_recently = api_key.last_used_at is not None and (
        timezone.now() - api_key.last_used_at < RECENT_USE
    )
    return {
        "api_key": api_key,
        "client_count": api_key.clients.count(),
        "suggest_roll": used_recently
        and api_key.is_active
        and api_key.replaced_by_id is None
        and api_key.account.in_good_standing,
    }


def keys_changed(request: AccountRequest) -> HttpResponse:
    if request.htmx:
        # The page closes the dialog and reloads its key list, which brings the message.
        return trigger_client_event(HttpResponse(status=204), KEYS_CHANGED_EVENT)
    return redirect("apikeys:index")


def key_area_context(request: AccountRequest, account: Account) -> dict[str, Any]:
    """The key list: one page of the active keys (or of those matching the search), the counts,
    what needs attention; the inactive keys only when asked (`?inactive=1`, without htmx)."""
    now = timezone.now()
    # The list may be the first to see that a key expired: it records that once.
    record_expirations(list(account.api_keys.expired(now).filter(expiry_recorded_at__isnull=True)))
    # The active keys are bounded by the account's key limit: all are read (only the columns
    # the counts, the search and what needs attention use), a page of them in full, rendered.
    active_keys = attach_previous_secrets(list(account.api_keys.active(now).only(*SUMMARY_FIELDS)))
    # A rolled key in its grace period shows under its successor and counts once, as it.
    counted = sum(1 for key in active_keys if key.replaced_by_id is None)
    block = creation_block(request.membership, counted)
    can_manage = manage_block(request.user, account) is None
    attach_idle_scopes(active_keys, now)
    search = request.GET.get("q", "").strip()[:SEARCH_MAX_LENGTH]
    shown = [key for key in active_keys if key_matches(key, search)] if search else active_keys
    page = Paginator(shown, KEYS_PER_PAGE).get_page(request.GET.get("page"))
    inactive = inactive_keys_context(account) if request.GET.get("inactive") else {}
    return {
        "hygiene": hygiene(active_keys, now),
        "active_keys": rows_in_full(account, list(page.object_list)),
        "key_page": page,
        "search": search,
        "searchable": len(active_keys) > KEYS_PER_PAGE or bool(search),
        "list_query": urlencode({"q": search}) if search else "",
        "inactive_count": account.api_keys.inactive(now).count(),
        "inactive_loaded": bool(inactive),
        **inactive,
        "counted_keys": counted,
        "key_limit": account.api_key_limit,
        "creation_block": block,
        "block_help": block_help(block, account) if block else None,
        "can_manage": can_manage,
        "can_roll": can_manage and account.in_good_standing,
        "member_ids": member_ids(account),
    }


def rows_in_full(account: Account, keys: list[ApiKey]) -> list[ApiKey]:
    """The page's keys (and the predecessors under them) with every column, in one query."""
    previous = [key.previous_secret for key in keys if key.previous_secret]  # type: ignore[attr-defined]
    full = account.api_keys.select_related("created_by", "revoked_by").in_bulk(
        [key.pk for key in keys + previous]
    )
    rows = []
    for key in keys:
        row = full[key.pk]
        row.idle_scopes = key.idle_scopes  # type: ignore[attr-defined]  # for the templates only
        predecessor = key.previous_secret  # type: ignore[attr-defined]
        row.previous_secret = full[predecessor.pk] if predecessor else None  # type: ignore[attr-defined]
        rows.append(row)
    return rows


def key_matches(api_key: ApiKey, search: str) -> bool:
    """A name that contains the search (any case), or a masked key that starts with it."""
    return search.casefold() in api_key.name.casefold() or api_key.masked_key.startswith(search)


def inactive_keys_context(account: Account) -> dict[str, Any]:
    """The most recently ended INACTIVE_SHOWN keys: revoked ones and expired ones accumulate
    for ever, so the list never reads them all."""
    now = timezone.now()
    ended = Coalesce("revoked_at", "expires_at")
    inactive = account.api_keys.inactive(now).select_related("created_by", "revoked_by")
    keys = list(inactive.order_by(ended.desc(), "-pk")[: INACTIVE_SHOWN + 1])
    return {"inactive_keys": keys[:INACTIVE_SHOWN], "more_inactive": len(keys) > INACTIVE_SHOWN}


def attach_previous_secrets(active_keys: list[ApiKey]) -> list[ApiKey]:
    """Set `previous_secret` on each key (its rolled predecessor still working, or None); return
    the keys without those predecessors, which the list shows under their successors."""
    shown = {key.pk: key for key in active_keys if key.replaced_by_id is None}
    for key in active_keys:
        key.previous_secret = None  # type: ignore[attr-defined]  # for the templates only
    for key in active_keys:
        if key.replaced_by_id in shown:
            shown[key.replaced_by_id].previous_secret = key  # type: ignore[attr-defined]
    # A predecessor whose successor no longer works still works itself: it keeps its own row.
    return [
        key for key in active_keys if key.replaced_by_id is None or key.replaced_by_id not in shown
    ]


def member_ids(account: Account) -> set[int]:
    """The account's members, so a key created by anyone else reads "by a former member"."""
    return set(account.memberships.values_list("user_id", flat=True))


def inactive_block(api_key: ApiKey) -> Block:
    state = "revoked" if api_key.is_revoked else "expired"
    return Block(
        code=f"key_{state}",
        title=f"“{api_key.name}” has {state}",
        message=(
            f"The key “{api_key.name}” ({api_key.masked_key}) has {state}, so it can no longer "
            "be changed or rolled. Create a new key instead."
        ),
    )


def old_key_fate(api_key: ApiKey) -> str:
    if api_key.is_revoked:
        return "The old key stopped working now."
    return f"The old key keeps working until {api_key.expires_at:%-d %B %Y, %H:%M} UTC."


def render_dialog(
    request: AccountRequest, template_name: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    # In the dialog (an htmx request) only its content; without JavaScript, the same as a page.
    if request.htmx:
        template_name += "#dialog"
    return render(request, template_name, context, status=status)


@sensitive_variables("secret", "context")
def render_reveal(
    request: AccountRequest,
    api_key: ApiKey,
    secret: str,
    *,
    rolled_from: ApiKey | None = None,
    land_on: str = "",
) -> HttpResponse:
    context = {
        "land_on": land_on,
        "api_key": api_key,
        "secret": secret,
        "verify_snippets": verify_snippets(request.build_absolute_uri(VERIFY_PATH), secret),
        "expires_in_words": expires_in_words(api_key.expires_at),
        "rolled_from": rolled_from,
    }
    return render_dialog(request, "apikeys/reveal.html", context)


def scope_context(form: KeyFieldsForm) -> dict[str, Any]:
    return {
        "form": form,
        "scopes": SCOPES,
        "selected_scopes": form.selected_scopes,
        "least_privilege_tip": LEAST_PRIVILEGE_TIP,
    }


def render_form(request: AccountRequest, form: ApiKeyForm, *, status: int = 200) -> HttpResponse:
    context = {
        **scope_context(form),
        # The custom date's words come from the date picked (static/js/apikeys.js).
        "expiration_choices": [
            (choice, "" if choice.value == CUSTOM else expires_in_words(choice.expires_at))
            for choice in form.expiration_choices
        ],
        "selected_expiration": form.selected_expiration,
        "selected_environment": form["environment"].value() or ApiKey.Environment.LIVE,
        # Sent back with errors, the review repeats the addresses typed (the server's check of
        # them is beside the field).
        "allowlist_entries": allowlist_entries(str(form["allowed_ips"].value() or "")),
    }
    return render_dialog(request, "apikeys/create.html", context, status=status)


def render_edit_form(
    request: AccountRequest,
    api_key: ApiKey,
    form: EditKeyForm,
    *,
    status: int = 200,
    dropping: list[str] | None = None,
) -> HttpResponse:
    context = {**scope_context(form), "api_key": api_key, "dropping_scopes": dropping or []}
    return render_dialog(request, "apikeys/edit.html", context, status=status)


def render_roll_form(
    request: AccountRequest, api_key: ApiKey, form: RollKeyForm, *, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "api_key": api_key,
        "new_expiry": expires_in_words(successor_expiry_at(api_key)),
    }
    return render_dialog(request, "apikeys/roll.html", context, status=status)


def successor_expiry_at(api_key: ApiKey) -> Any:
    return successor_expiry(api_key.account, api_key.lifetime, timezone.now()).expires_at


@dataclass(frozen=True)
class BlockHelp:
    """What a refusal offers to do about it: whom to ask, what to write to support, revoking."""

    managers: list[Membership]
    support_url: str
    revoke_to_make_room: bool


def block_help(block: Block, account: Account) -> BlockHelp:
    """Return the way out of `block` (a rule of apikeys.services, named by its code)."""
    managers: list[Membership] = []
    subject = ""
    if block.code == "role":
        managers = sorted(
            account.memberships.filter(
                role__in=[Membership.Role.OWNER, Membership.Role.ADMIN], user__is_active=True
            ).select_related("user"),
            key=lambda membership: (
                membership.role != Membership.Role.OWNER,
                membership.user.email,
            ),
        )
        if not managers:
            # Nobody left to ask (the last owner's login was deactivated): support can help.
            subject = f"No owner or admin left in {account.name}"
    elif block.code == "account_not_in_good_standing":
        subject = f"Restore the account {account.name}"
    elif block.code == "key_limit_reached":
        subject = f"Raise the API key limit of {account.name}"
    return BlockHelp(
        managers=managers,
        support_url=support_mailto(subject) if subject else "",
        revoke_to_make_room=block.code == "key_limit_reached",
    )


def render_block(request: AccountRequest, block: Block) -> HttpResponse:
    context = {"refusal": block, "block_help": block_help(block, current_account(request))}
    return render_dialog(request, "apikeys/blocked.html", context, status=403)


@require_GET
def detail(request: AccountRequest, pk: int) -> HttpResponse:
    account = current_account(request)
    # Looked up among this account's keys only: another account's key is a 404.
    api_key = get_object_or_404(
        account.api_keys.select_related("created_by", "revoked_by", "replaced_by"), pk=pk
    )
    # Like the list, the page may be the first to see that the key expired.
    record_expirations([api_key])
    predecessors = list(account.api_keys.active().filter(replaced_by=api_key))
    attach_previous_secrets([api_key, *predecessors])
    may_manage = manage_block(request.user, account) is None
    can_manage = api_key.is_active and may_manage
    events = ActivityEvent.objects.for_key(api_key).select_related("actor")[:KEY_PAGE_EVENTS]
    clients = list(api_key.clients.all()[:KEY_PAGE_CLIENTS])
    context = {
        "key": api_key,
        "chart": usage_chart(daily_usage(api_key)),
        "clients": clients,
        "latest_client": clients[0] if clients else None,
        "scope_uses": scopes_in_use(api_key),
        "idle_scopes": idle_scopes_for(api_key),
        "events": [(event, event_summary(event)) for event in events],
        "can_manage": can_manage,
        "can_roll": can_manage and account.in_good_standing,
        # A key that ended offers "Create a key like this" (the create view applies the rules).
        "may_create": may_manage,
        "member_ids": member_ids(account),
    }
    return render(request, "apikeys/detail.html", context)
