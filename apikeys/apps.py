from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys"

    def ready(self) -> None:
        from activity.events import event_recorded
        from apikeys.notifications import notify_key_event

        event_recorded.connect(notify_key_event, dispatch_uid="apikeys.notify_key_event")
