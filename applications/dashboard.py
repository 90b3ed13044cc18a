"""Home-page work queues of 依申请救助: one per role and step, each with the oldest item's age."""
from __future__ import annotations

from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from organizations import roles
from organizations.dashboard import Queue

from . import selectors
from .models import Status


def queues(user) -> list[Queue]:
    wanted: list[tuple[str, str, str, str]] = []
    if roles.has_role(user, roles.CASEWORKER):
        wanted.append(("to_send", Status.RECEIVED, _("依申请救助：待转民政核对"), "send"))
        wanted.append(("to_gather", Status.GATHERING, _("依申请救助：待归集计算"), "calculator"))
    if roles.has_role(user, roles.CERTIFIER):
        wanted.append(("to_assess", Status.ASSESSING, _("依申请救助：家庭经济状况核对"), "house-check"))
    if roles.has_role(user, roles.REVIEWER):
        wanted.append(("to_decide", Status.REVIEWING, _("依申请救助：待审核决定"), "clipboard-check"))
    if not wanted:
        return []
    stats = {
        row["status"]: row
        for row in selectors.access_applications(user).filter(status__in=[w[1] for w in wanted])
        .values("status").annotate(n=Count("id"), oldest=Min("received_on")).order_by()
    }
    today = timezone.localdate()
    out = []
    for queue, status, title, icon in wanted:
        row = stats.get(status)
        count = row["n"] if row else 0
        if count:
            title = _("%(title)s（最久已受理 %(days)s 天）") % {"title": title, "days": (today - row["oldest"]).days}
        out.append(Queue(title=title, count=count, url=reverse("applications:index") + f"?queue={queue}", icon=icon))
    return out
