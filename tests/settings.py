"""Test settings: production settings plus a fast password hasher and a fixed secret."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production-use-0123456789")

from voxkeys.settings import *  # noqa: E402,F403
from voxkeys.settings import BASE_DIR, DATABASES  # noqa: E402

# Argon2 costs ~160 ms a login here; tests log in hundreds of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The test client and live_server speak plain http.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0

# The admin's tests sign superusers in without a second factor; tests of the requirement turn
# it on (tests/test_two_factor_signin.py).
ADMIN_REQUIRE_2FA = False

# Plain storage: the suite must not depend on `collectstatic` having run.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not shared memory: concurrency tests need real separate connections.
    # One per test run, so two runs side by side never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
