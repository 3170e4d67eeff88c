"""The keys a former member saw: whoever created a key (or rolled one: the successor is theirs)
was shown its secret, so when they leave the account its owners and admins are offered to roll
those keys, one by one with the usual dialog or all at once with one grace period.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from accounts.forms import MAX_ID
from accounts.requests import AccountRequest, current_account
from accounts.sudo import sudo_required
from activity.events import RequestContext
from apikeys.forms import RollKeyForm
from apikeys.services import KeyActionRefused, KeyNotActive, manage_block, roll_keys
from apikeys.views import render_block


@require_http_methods(["GET", "POST"])
@sudo_required
@never_cache  # the batch's reveal carries the new secrets
@sensitive_variables("rolled")
def former_member(request: AccountRequest, user_id: int) -> HttpResponse:
    account = current_account(request)
    block = manage_block(request.user, account)
    if block is not None:
        return render_block(request, block)
    if user_id > MAX_ID:
        raise Http404("No such person.")  # nor could the database compare it
    if account.memberships.filter(user_id=user_id).exists():
        raise Http404("Still a member of this account.")
    created = account.api_keys.filter(created_by_id=user_id).select_related("created_by").first()
    if created is None or created.created_by is None:
        raise Http404("No key of this account was created by that person.")
    person = created.created_by
    keys = list(account.api_keys.seen_by(user_id))
    form = RollKeyForm(request.POST or None)
    context = {"person": person, "keys": keys, "form": form, "rolled": []}
    if request.method == "POST" and keys and form.is_valid():
        try:
            rolled = roll_keys(
                keys=keys,
                user=request.user,
                grace=form.grace_period,
                context=RequestContext.from_request(request),
            )
        except KeyActionRefused as refused:
            return render_block(request, refused.block)
        except KeyNotActive:
            messages.error(request, "A key stopped working meanwhile: nothing was rolled.")
        else:
            messages.success(request, f"{len(rolled)} keys rolled. Deploy the new keys below.")
            context = {**context, "rolled": rolled, "keys": []}
    status = 422 if request.method == "POST" and form.errors else 200
    return render(request, "apikeys/former_member.html", context, status=status)
