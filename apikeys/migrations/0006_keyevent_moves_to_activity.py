from django.db import migrations


class Migration(migrations.Migration):
    """KeyEvent becomes activity.ActivityEvent; the table and its rows stay as they are."""

    dependencies = [
        ("apikeys", "0005_auth_cache_triggers"),
        ("activity", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="KeyEvent")],
            database_operations=[],
        ),
    ]
