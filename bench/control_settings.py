"""Settings of the benchmark's control target (bench/auth_off.py): the app's own, with the API
middleware swapped for the one that does everything but authenticate."""

from voxkeys.settings import *  # noqa: F403
from voxkeys.settings import MIDDLEWARE

MIDDLEWARE = [
    "bench.auth_off.AuthOffMiddleware" if name == "api.middleware.ApiKeyMiddleware" else name
    for name in MIDDLEWARE
]
