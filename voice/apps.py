from django.apps import AppConfig


class VoiceConfig(AppConfig):
    name = "voice"
    verbose_name = "Voice resources"

    def ready(self) -> None:
        from activity.events import event_recorded
        from voice.webhooks import checks  # noqa: F401 (registers the deploy checks)
        from voice.webhooks.key_events import emit_key_event

        event_recorded.connect(emit_key_event, dispatch_uid="voice.emit_key_event")
