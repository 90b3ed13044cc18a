from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "运维"

    def ready(self) -> None:
        from django.conf import settings

        from . import signals  # noqa: F401 - connects the worker-side outbox and heartbeat hooks

        if settings.REDIS_URL:  # import the transport at start-up, not inside a user's first request
            import kombu.transport.redis  # noqa: F401
