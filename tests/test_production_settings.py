"""Production settings, checked in fresh processes: settings are read once, at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.production import PRODUCTION_ENV, run


def test_missing_secret_key_stops_start_up_with_one_line() -> None:
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "VoxKeys: set the SECRET_KEY environment variable (it is required when DEBUG is off)."
    ]


def test_debug_defaults_to_off() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DEBUG"}
    env["SECRET_KEY"] = ""
    assert run(["manage.py", "check"], env).returncode != 0


def test_invalid_number_is_a_clear_error() -> None:
    result = run(["manage.py", "check"], {**PRODUCTION_ENV, "APIKEY_LIMIT_DEFAULT": "ten"})
    assert result.returncode != 0
    assert "APIKEY_LIMIT_DEFAULT must be a whole number" in result.stderr


def test_check_deploy_reports_nothing() -> None:
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_uses_argon2_for_passwords() -> None:
    code = (
        "import django; django.setup();"
        "from django.contrib.auth.hashers import make_password;"
        "print(make_password('pw').split('$')[0])"
    )
    result = run(["-c", code], PRODUCTION_ENV)
    assert result.stdout.strip() == "argon2", result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "django.core.cache.backends.locmem.LocMemCache"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "django.core.cache.backends.redis.RedisCache"),
    ],
)
def test_redis_url_switches_the_cache(env: dict, expected: str) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.CACHES['default']['BACKEND'])"
    )
    result = run(["-c", code], {**PRODUCTION_ENV, "REDIS_URL": "", **env})
    assert result.stdout.strip() == expected, result.stderr


def test_whitenoise_serves_hashed_compressed_static_files_with_debug_off(tmp_path: Path) -> None:
    env = {**PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path)}
    collected = run(["manage.py", "collectstatic", "--noinput", "-v", "0"], env, timeout=300)
    assert collected.returncode == 0, collected.stderr
    code = (
        "import django; django.setup();"
        "from django.templatetags.static import static;"
        "from django.test import Client;"
        "url = static('css/app.css');"
        "r = Client().get(url, secure=True, headers={'accept-encoding': 'gzip'});"
        "h = r.headers;"
        "print(url, r.status_code, h['Cache-Control'], h['Content-Encoding'], sep='|')"
    )
    result = run(["-c", code], env)
    url, status, cache_control, encoding = result.stdout.strip().split("|")
    assert (
        url.startswith("/static/css/app.") and url.endswith(".css") and url != "/static/css/app.css"
    )
    assert status == "200"
    assert "immutable" in cache_control
    assert encoding == "gzip"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "django.core.mail.backends.smtp.EmailBackend"),
        ({"DEBUG": "1"}, "django.core.mail.backends.console.EmailBackend"),
        (
            {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend"},
            "django.core.mail.backends.filebased.EmailBackend",
        ),
    ],
)
def test_email_backend_is_smtp_in_production_and_console_in_development(
    env: dict, expected: str
) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.EMAIL_BACKEND)"
    )
    result = run(["-c", code], {**PRODUCTION_ENV, "EMAIL_BACKEND": "", **env})
    assert result.stdout.strip() == expected, result.stderr


def test_smtp_settings_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        **PRODUCTION_ENV,
        "EMAIL_HOST": "smtp.example.test",
        "EMAIL_PORT": "587",
        "EMAIL_HOST_USER": "voxkeys",
        "EMAIL_HOST_PASSWORD": "smtp-password",
        "EMAIL_USE_TLS": "1",
        "EMAIL_FILE_PATH": str(tmp_path),
        "DEFAULT_FROM_EMAIL": "Keys <keys@example.test>",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD,"
        " s.EMAIL_USE_TLS, s.EMAIL_TIMEOUT, s.EMAIL_FILE_PATH, s.DEFAULT_FROM_EMAIL, sep='|')"
    )
    result = run(["-c", code], env)
    assert result.stdout.strip().split("|") == [
        "smtp.example.test",
        "587",
        "voxkeys",
        "smtp-password",
        "True",
        "10",
        str(tmp_path),
        "Keys <keys@example.test>",
    ], result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("help@example.test", "help@example.test"), ("", "support@voxpria.com")],
    ids=["set", "default"],
)
def test_support_email_comes_from_the_environment(value: str, expected: str) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.SUPPORT_EMAIL)"
    )
    result = run(["-c", code], {**PRODUCTION_ENV, "SUPPORT_EMAIL": value})
    assert result.stdout.strip() == expected, result.stderr
