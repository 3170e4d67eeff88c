from django.db import migrations, models

from voxkeys.online_index import AddIndexOnline


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction; it lets key actions go on writing
    # events while a million-row log is indexed (voxkeys/online_index.py).
    atomic = False

    dependencies = [
        ("activity", "0004_two_factor_events"),
    ]

    operations = [
        AddIndexOnline(
            model_name="activityevent",
            index=models.Index(
                fields=["account", "event_type", "-created_at", "-id"], name="keyevent_type_time"
            ),
        ),
        AddIndexOnline(
            model_name="activityevent",
            index=models.Index(
                fields=["related_key", "-created_at", "-id"], name="keyevent_related_key_time"
            ),
        ),
        AddIndexOnline(
            model_name="activityevent",
            index=models.Index(fields=["-created_at", "-id"], name="keyevent_time"),
        ),
    ]
