from django.contrib import admin
from django.urls import include, path, re_path

from apikeys.api import unknown_endpoint

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("settings/api-keys/", include("apikeys.urls")),
    path("api/v1/", include("voice.urls")),
    # Anything else under /api/ is a JSON 404, never an HTML page.
    re_path(r"^api/", unknown_endpoint),
]

# Errors raised outside views (a bad Host header, a bug) answer in JSON under /api/.
handler400 = "apikeys.api.bad_request"
handler500 = "apikeys.api.server_error"
