"""Settings of the page-scale benchmark (bench/page_scale.py): the app's production settings,
served in-process by Django's test client (whose host is "testserver"), with plain static files
(the benchmark measures the pages, not `collectstatic`) and the admin open to its superuser."""

from voxkeys.settings import *  # noqa: F403

ALLOWED_HOSTS = ["testserver"]
SECURE_SSL_REDIRECT = False
ADMIN_REQUIRE_2FA = False
# Sign-in and key-event emails would try SMTP on localhost.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
