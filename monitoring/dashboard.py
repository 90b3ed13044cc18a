"""Home-page work queues: open warnings (civil affairs and medical security), the last run."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from organizations.access import scope_for
from organizations.dashboard import Queue

from . import selectors
from .models import RunStatus


def queues(user) -> list[Queue]:
    scope = scope_for(user)
    if scope.nothing:
        return []
    out: list[Queue] = []
    if scope.everything or scope.agency_kind in ("civil_affairs", "medical_security"):
        count = selectors.open_warning_count(user)
        out.append(Queue(title=_("待处理预警"), count=count, url=reverse("monitoring:index"),
                         icon="exclamation-triangle", tone="warning" if count else "secondary",
                         hint=_("因病致贫/返贫监测")))
    if selectors.can_see_runs(user):
        run = selectors.last_run(user)
        if run is not None:
            tone = {RunStatus.SUCCEEDED: "success", RunStatus.FAILED: "danger"}.get(run.status, "primary")
            hint = _("最近重算：%(when)s %(status)s") % {
                "when": timezone.localtime(run.started_at).strftime("%m-%d %H:%M"), "status": run.get_status_display()}
            if run.invariant_violations:
                hint += _("，不变量违例 %(n)s") % {"n": len(run.invariant_violations)}
            out.append(Queue(title=_("重算变更结算单"), count=run.bills_changed,
                             url=reverse("monitoring:run_detail", args=[run.pk]), icon="arrow-repeat", tone=tone,
                             hint=hint))
    return out
