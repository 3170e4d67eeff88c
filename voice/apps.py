from django.apps import AppConfig


class VoiceConfig(AppConfig):
    name = "voice"
    verbose_name = "Voice resources"

    def ready(self) -> None:
        from voice.webhooks import checks  # noqa: F401 (registers the deploy checks)
