"""审计：个人信息访问日志 — search (user, person, date range, action) and export; the export
is itself written to the log."""
from __future__ import annotations

from django.core.paginator import Paginator
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from beneficiaries.exports import csv_response
from organizations.permissions import PermissionRequiredMixin

from .forms import LogSearchForm
from .models import RETENTION_DAYS, Action
from .selectors import access_log
from .services import record


class AccessLogView(PermissionRequiredMixin, TemplateView):
    permission = "audit.log"

    template_name = "audit/log_list.html"
    paginate_by = 50

    def rows(self):
        form = LogSearchForm(self.request.GET or None)
        qs = access_log(self.request.user)
        if form.is_bound:
            qs = form.apply(qs) if form.is_valid() else qs.none()
        return form, qs

    def get(self, request, *args, **kwargs):
        form, qs = self.rows()
        if request.GET.get("export") == "csv":
            return self.export(qs)
        page = Paginator(qs, self.paginate_by).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        query.pop("export", None)
        return self.render_to_response(self.get_context_data(
            form=form, page_obj=page, entries=page.object_list, querystring=query.urlencode(), retention_days=RETENTION_DAYS,
        ))

    def export(self, qs):
        rows = [[_("时间"), _("操作人"), _("操作"), _("内容"), _("涉及人员"), _("涉及范围"), _("事由"), _("说明"), _("来源地址")]]
        for e in qs.iterator(chunk_size=2000):
            rows.append([
                timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.username, e.get_action_display(), e.what,
                str(e.person) if e.person_id else "", e.subjects, e.get_purpose_display() if e.purpose else "", e.note, e.ip or "",
            ])
        query = self.request.GET.copy()
        query.pop("export", None)
        record(user=self.request.user, action=Action.LOG_EXPORT, what=_("个人信息访问日志（%(n)s条）") % {"n": len(rows) - 1},
               subjects=query.urlencode(), request=self.request)
        response = csv_response(rows, f"access-log-{timezone.localdate():%Y%m%d}.csv")
        response.access_logged = True  # logged above as a log export, not again as a plain export
        return response
