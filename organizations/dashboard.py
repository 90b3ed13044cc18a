"""Work queues for the home page: each app registers a function that counts its items."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Queue:
    title: str
    count: int
    url: str
    icon: str = "inbox"


_providers: list[Callable] = []


def register(provider: Callable) -> Callable:
    """Decorator: ``provider(user) -> list[Queue]``; apps register in their ``apps.ready``."""
    _providers.append(provider)
    return provider


def work_queues(user) -> list[Queue]:
    queues: list[Queue] = []
    for provider in _providers:
        queues.extend(provider(user))
    return queues


def broker_status() -> str:
    if not settings.REDIS_URL:
        return "eager"
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
