from django.db import migrations, models

from voxkeys.online_index import AddIndexOnline


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction; it lets usage flushes go on writing
    # while millions of hourly rows are indexed (voxkeys/online_index.py).
    atomic = False

    dependencies = [
        ("apikeys", "0008_queue_expiry_notice_days"),
    ]

    operations = [
        AddIndexOnline(
            model_name="keyusage",
            index=models.Index(fields=["hour"], name="keyusage_hour"),
        ),
    ]
