from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        # The project's deploy checks register on import (voxkeys is not an app of its own).
        from voxkeys import checks  # noqa: F401
