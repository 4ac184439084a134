from django.apps import AppConfig


class MigrationAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "migration_app"

    def ready(self) -> None:
        # Registers every task under its name in every process (web, worker, commands): services send
        # tasks by name, and with in-process tasks (no REDIS_URL) the name is looked up right here.
        from . import tasks  # noqa: F401
