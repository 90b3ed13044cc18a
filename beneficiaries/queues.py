"""Home-page work queues of the beneficiaries app (registered in apps.ready)."""
from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from organizations import roles
from organizations.dashboard import Queue

from . import selectors


def beneficiary_queues(user) -> list[Queue]:
    if not roles.has_role(user, roles.CERTIFIER) or user.is_superuser:
        return []
    queues = [
        Queue(_("30天内到期的认定"), selectors.certifications_due(user=user).count(),
              reverse("beneficiaries:certification_list") + "?status=due", "hourglass-split"),
    ]
    if selectors.can_import(user):
        queues.append(Queue(_("名单导入待确认"), selectors.pending_import_batches(user=user).count(),
                            reverse("beneficiaries:import_list"), "file-earmark-arrow-up"))
    return queues
