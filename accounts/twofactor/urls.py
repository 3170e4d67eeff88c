from django.urls import path

from accounts.twofactor import enrolment_views, passkey_views, session_views, signin_views, views

urlpatterns = [
    path("settings/security/", views.security, name="security"),
    path("login/verify/", signin_views.verify, name="two_factor_verify"),
    path(
        "settings/security/passkeys/add/options/",
        passkey_views.register_options,
        name="passkey_register_options",
    ),
    path("settings/security/passkeys/add/", passkey_views.register, name="passkey_register"),
    path(
        "settings/security/passkeys/<int:passkey_id>/remove/",
        passkey_views.remove,
        name="passkey_remove",
    ),
    path(
        "login/verify/passkey/options/",
        passkey_views.second_step_options,
        name="passkey_second_step_options",
    ),
    path("login/verify/passkey/", passkey_views.second_step, name="passkey_second_step"),
    path(
        "login/passkey/options/",
        passkey_views.passwordless_options,
        name="passkey_login_options",
    ),
    path("login/passkey/", passkey_views.passwordless, name="passkey_login"),
    path(
        "account/confirm-passkey/options/",
        passkey_views.sudo_options,
        name="passkey_sudo_options",
    ),
    path("account/confirm-passkey/", passkey_views.sudo, name="passkey_sudo"),
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
    path(
        "settings/security/sessions/<int:session_id>/sign-out/",
        session_views.end_one_session,
        name="end_session",
    ),
    path(
        "settings/security/sessions/sign-out-others/",
        session_views.end_all_other_sessions,
        name="end_other_sessions",
    ),
]
