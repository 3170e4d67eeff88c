from django.urls import path

from accounts.twofactor import enrolment_views, views

urlpatterns = [
    path("settings/security/", views.security, name="security"),
    path(
        "settings/security/authenticator/",
        enrolment_views.authenticator_setup,
        name="authenticator_setup",
    ),
    path(
        "settings/security/authenticator/remove/",
        enrolment_views.authenticator_remove,
        name="authenticator_remove",
    ),
    path(
        "settings/security/recovery-codes/regenerate/",
        enrolment_views.recovery_codes_regenerate,
        name="recovery_codes_regenerate",
    ),
]
