from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    keys = request.account.api_keys.active().select_related("created_by")
    return render(request, "apikeys/index.html", {"keys": keys})
