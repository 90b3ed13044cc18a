"""Home-page work queue of the reports app: today's letters, to print and send."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from organizations.dashboard import Queue


def letter_queues(user) -> list[Queue]:
    if not user.has_perm("reports.view_letter"):
        return []
    from .selectors import access_letters

    today = timezone.localdate()
    count = access_letters(user).filter(issued_on=today).count()
    return [Queue(
        title=_("今日出具的决定书"), count=count, url=reverse("reports:print_jobs"), icon="printer",
        hint=_("可在“批量打印”中合并打印") if count else "", tone="secondary",
    )]
