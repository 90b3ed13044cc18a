"""Work queues for the home page: each app registers a function that counts its items."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Queue:
    title: str
    count: int
    url: str
    icon: str = "inbox"
    hint: str = ""  # one short line under the count, e.g. "超过 30 天 3 件"
    tone: str = "primary"  # Bootstrap colour name: primary, warning, danger, success, secondary


_providers: list[Callable] = []


def register(provider: Callable) -> Callable:
    """Decorator: ``provider(user) -> list[Queue]``; apps register in their ``apps.ready``.

    Registering the same function twice (``ready`` may run twice in tests) is a no-op.
    """
    if provider not in _providers:
        _providers.append(provider)
    return provider


def work_queues(user) -> list[Queue]:
    """Every provider's queues for ``user``; a provider that fails is logged and left out, so
    one broken app cannot take the home page down."""
    queues: list[Queue] = []
    for provider in _providers:
        try:
            queues.extend(provider(user))
        except Exception:  # noqa: BLE001
            logger.exception("dashboard provider %s failed", getattr(provider, "__qualname__", provider))
    return queues

