"""Seed the programme's published milestones and the project-leads group. Both stay editable as data."""

import datetime

from django.db import migrations

MILESTONES = [
    # (key, name_nb, name_en, date, is_deadline)
    ("owners-finish", "Tjenesteeiere bør være ferdige", "Owners asked to finish", datetime.date(2026, 4, 30), False),
    (
        "altinn2-submissions-close",
        "Siste dag for innsending i Altinn II",
        "Altinn II submissions close",
        datetime.date(2026, 5, 31),
        True,
    ),
    ("altinn2-shutdown", "Altinn II slås av", "Altinn II shut down", datetime.date(2026, 6, 19), False),
]


def seed(apps, schema_editor):
    Milestone = apps.get_model("migration_app", "Milestone")
    for key, name_nb, name_en, date, is_deadline in MILESTONES:
        Milestone.objects.get_or_create(
            key=key, defaults={"name_nb": name_nb, "name_en": name_en, "date": date, "is_deadline": is_deadline}
        )
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name="Project leads")


class Migration(migrations.Migration):
    dependencies = [("migration_app", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
