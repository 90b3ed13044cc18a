"""Screens of the reports app: letters (list, detail, download, correction), batch printing,
the five reports with exports, and the public verification page."""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.generic import TemplateView

from organizations import search
from organizations.access import get_scoped_or_404
from organizations.confirm import confirmation, confirmed
from organizations.exports import formula_safe
from organizations.permissions import PUBLIC, PermissionRequiredMixin, has_perm, requires

from . import reporting, selectors, services
from .charts import chart_svg
from .forms import LetterCorrectForm, LetterDeliveryForm, errors_text
from .models import DeliveryMethod, Letter, LetterDelivery, LetterKind, PrintJobStatus
from .pdf import html_to_pdf


class ReportsAccessMixin(PermissionRequiredMixin):
    """Medical-security staff and auditors; each view states its permission
    (organizations/permissions.py): anonymous → login page, signed in without it → 403."""

    permission = "letters.view"


def _can_correct(user) -> bool:
    return has_perm(user, "letters.correct")


# ------------------------------------------------------------------------------------------
# Letters
# ------------------------------------------------------------------------------------------


class IndexView(ReportsAccessMixin, TemplateView):
    """决定书与报表: letters (search by number, kind, date) and the list of reports."""

    template_name = "reports/index.html"
    paginate_by = 25

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        qs = selectors.access_letters(self.request.user)
        q = self.request.GET.get("q", "").strip()
        kind = self.request.GET.get("kind", "")
        issued_on = self.request.GET.get("issued_on", "")
        term = search.term_from_request(self.request)
        if term is not None:
            match = search.person_filter(term, "person__")
            if not (term.id_number or term.last4):
                match |= Q(number__icontains=term.text) | Q(recipient_name__icontains=term.text)
            qs = qs.filter(match)
        undelivered = self.request.GET.get("undelivered", "") == "1"
        if undelivered:
            # 未送达: the appeal periods have not started; corrected letters are replaced, not delivered
            qs = qs.filter(delivery__isnull=True, replaced_by__isnull=True)
        if kind in LetterKind.values:
            qs = qs.filter(kind=kind)
        if issued_on:
            try:
                qs = qs.filter(issued_on=issued_on)
            except ValidationError:
                messages.error(self.request, _("成文日期格式应为 YYYY-MM-DD。"))
        page = Paginator(qs.order_by("-issued_at", "-id"), self.paginate_by).get_page(self.request.GET.get("page"))
        ctx.update(
            page=page, page_obj=page, letters=page.object_list, q=q, search_term=term, kind=kind, issued_on=issued_on, kinds=LetterKind.choices,
            undelivered=undelivered,
            reports=reporting.REPORTS.values(),
            querystring=_without_page(self.request.GET),
        )
        return ctx


def _without_page(query) -> str:
    query = query.copy()
    query.pop("page", None)
    return query.urlencode()


class LetterDetailView(ReportsAccessMixin, TemplateView):
    template_name = "reports/letter_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        letter = get_scoped_or_404(selectors.access_letters(self.request.user), self.request.user, district="district", pk=kwargs["pk"])
        chain = []
        cur = letter.replaces
        while cur is not None:
            chain.append(cur)
            cur = cur.replaces
        ctx.update(letter=letter, chain=chain, can_correct=_can_correct(self.request.user) and not letter.is_superseded,
                   content=letter.content, delivery=getattr(letter, "delivery", None) if _has_delivery(letter) else None,
                   can_deliver=_can_deliver(self.request.user), delivery_methods=DeliveryMethod.choices,
                   today=timezone.localdate().isoformat())
        return ctx


def _has_delivery(letter: Letter) -> bool:
    try:
        return letter.delivery is not None
    except LetterDelivery.DoesNotExist:
        return False


def _can_deliver(user) -> bool:
    """Whoever handles the file records its delivery: caseworkers and reviewers."""
    return has_perm(user, "letters.deliver")


class LetterDeliveryView(ReportsAccessMixin, View):
    """POST: record the delivery (送达) of a letter: date, method, receipt scan."""

    permission = "letters.deliver"

    def post(self, request, pk: int):
        letter = get_scoped_or_404(selectors.access_letters(request.user), request.user, district="district", pk=pk)
        form = LetterDeliveryForm(request.POST)
        if not form.is_valid():
            messages.error(request, errors_text(form))
            return redirect("reports:letter", pk=letter.pk)
        try:
            services.letter_record_delivery(
                letter=letter, delivered_on=form.cleaned_data["delivered_on"], method=form.cleaned_data["method"],
                receipt=request.FILES.get("receipt"), note=form.cleaned_data["note"], by=request.user,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("reports:letter", pk=letter.pk)
        messages.success(request, _("已登记送达。"))
        return redirect("reports:letter", pk=letter.pk)


class LetterReceiptView(ReportsAccessMixin, View):
    """The delivery receipt scan (送达回证), within the letter's scope."""

    def get(self, request, pk: int):
        letter = get_scoped_or_404(selectors.access_letters(request.user), request.user, district="district", pk=pk)
        if not _has_delivery(letter) or not letter.delivery.receipt:
            raise Http404
        receipt = letter.delivery.receipt
        response = FileResponse(receipt.open("rb"))
        response["Content-Disposition"] = f'inline; filename="receipt-{letter.pk}.{receipt.name.rsplit(".", 1)[-1]}"'
        return response


@method_decorator(xframe_options_sameorigin, name="dispatch")  # previewed in an iframe on the detail page
class LetterPdfView(ReportsAccessMixin, View):
    """The stored file, byte for byte (a reprint is identical to the letter as issued)."""

    def get(self, request, pk: int):
        letter = get_scoped_or_404(selectors.access_letters(request.user), request.user, district="district", pk=pk)
        response = FileResponse(letter.file.open("rb"), content_type="application/pdf")
        filename = f"{letter.number}.pdf"
        disposition = "attachment" if request.GET.get("download") else "inline"
        response["Content-Disposition"] = f"{disposition}; filename=\"letter-{letter.year}-{letter.seq:05d}.pdf\"; filename*=UTF-8''{quote(filename)}"
        response["X-Content-SHA256"] = letter.sha256
        response.access_person = letter.person  # whose letter, in the access log (audit.middleware)
        return response


class MediaFileView(ReportsAccessMixin, View):
    """``/media/<path>``: never a file straight from MEDIA_ROOT, whatever ``DEBUG`` says (letters
    have predictable paths). A letter or print batch in the user's scope is sent to its own
    view (login, scope, no-store, access log); anything else is 404."""

    def get(self, request, path: str):
        letter = selectors.access_letters(request.user).filter(file=path).first()
        if letter is not None:
            return redirect("reports:letter_pdf", pk=letter.pk)
        job = selectors.access_print_jobs(request.user).filter(file=path, status=PrintJobStatus.DONE).first()
        if job is not None:
            return redirect("reports:print_job_pdf", pk=job.pk)
        raise Http404


class LetterCorrectView(ReportsAccessMixin, View):
    """POST: issue a corrected letter (reviewers only)."""

    permission = "letters.correct"

    def post(self, request, pk: int):
        letter = get_scoped_or_404(selectors.access_letters(request.user), request.user, district="district", pk=pk)
        form = LetterCorrectForm(request.POST)
        if not form.is_valid():
            messages.error(request, errors_text(form))
            return redirect("reports:letter", pk=letter.pk)
        reason = form.cleaned_data["reason"]
        if reason and not confirmed(request):
            return confirmation(
                request, title=_("更正决定书 %(n)s") % {"n": letter.number}, back=reverse("reports:letter", args=[letter.pk]),
                danger=True, people=[letter.recipient_name], amount=letter.amount,
                lines=[_("出具一份新编号的更正决定书，原决定书 %(n)s 标记为已更正（不删除）。") % {"n": letter.number},
                       _("更正原因：%(r)s") % {"r": reason}],
                confirm_label=_("确认更正"))
        try:
            new = services.letter_correct(letter=letter, reason=reason, by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("reports:letter", pk=letter.pk)
        messages.success(request, _("已出具更正决定书 %(n)s。") % {"n": new.number})
        return redirect("reports:letter", pk=new.pk)


# ------------------------------------------------------------------------------------------
# Batch printing
# ------------------------------------------------------------------------------------------


class PrintJobsView(ReportsAccessMixin, TemplateView):
    """Request a batch print (a day's letters, or a payment batch's) and download the results."""

    post_permission = "letters.print"

    template_name = "reports/print_jobs.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["jobs"] = selectors.access_print_jobs(self.request.user)[:20]
        ctx["today"] = timezone.localdate().isoformat()
        ctx["batches"] = _payment_batches(self.request.user)[:50]
        ctx["can_request"] = has_perm(self.request.user, "letters.print")
        return ctx

    def post(self, request):
        from django import forms

        issued_on = payment_batch_id = None
        try:
            if request.POST.get("payment_batch"):
                # a payment batch prints all of its letters, whatever day they were issued
                batch = get_object_or_404(_payment_batches(request.user), pk=int(request.POST["payment_batch"]))
                payment_batch_id = batch.pk
            elif request.POST.get("issued_on"):
                issued_on = forms.DateField().clean(request.POST["issued_on"])
            job = services.print_job_request(user=request.user, issued_on=issued_on, payment_batch_id=payment_batch_id)
        except (ValidationError, ValueError) as exc:
            msgs = exc.messages if isinstance(exc, ValidationError) else [_("请求无效。")]
            messages.error(request, " ".join(msgs))
            return redirect("reports:print_jobs")
        job.refresh_from_db()
        if job.status == PrintJobStatus.DONE:
            messages.success(request, _("已生成，共 %(n)s 份决定书。") % {"n": job.letter_count})
        elif job.status == PrintJobStatus.FAILED:
            messages.warning(request, job.error or _("生成失败。"))
        else:
            messages.info(request, _("已提交，生成后可在下方下载。"))
        return redirect("reports:print_jobs")


def _payment_batches(user):
    from claims.selectors import access_batches

    return access_batches(user).order_by("-created_at")


class PrintJobPdfView(ReportsAccessMixin, View):
    def get(self, request, pk: int):
        job = get_object_or_404(selectors.access_print_jobs(request.user), pk=pk, status=PrintJobStatus.DONE)
        if not job.file:
            raise Http404
        response = FileResponse(job.file.open("rb"), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="letters-batch-{job.pk}.pdf"'
        return response


# ------------------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------------------


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "percent":
        return f"{(value * 100).quantize(Decimal('0.01'))}%"
    if kind == "flag":
        return _("是") if value else ""
    return str(value)


_formula_safe = formula_safe  # one rule for every export (organizations.exports)


def _export_rows(table: reporting.ReportTable) -> list[list[Any]]:
    rows: list[list[Any]] = [[str(c.label) for c in table.columns]]
    for r in table.rows + ([table.totals] if table.totals else []):
        out: list[Any] = []
        for c in table.columns:
            v = r.get(c.key)
            if c.kind == "money" and v is not None:
                out.append(v)
            elif c.kind == "int" and v is not None:
                out.append(int(v))
            else:
                out.append(_formula_safe(_cell(v, c.kind)))
        rows.append(out)
    return rows


class ReportView(ReportsAccessMixin, View):
    def get(self, request, slug: str):
        report = reporting.REPORTS.get(slug)
        if report is None:
            raise Http404
        data = request.GET.copy()
        export = data.pop("export", [""])[0]
        bound = bool({k for k in data if k != "page"})
        form = report.form_class(data if bound else None, initial=report.initial(user=request.user), user=request.user)
        if bound and not form.is_valid():
            return render(request, "reports/report.html", {"report": report, "form": form, "table": None, "reports": reporting.REPORTS.values()})
        params = form.cleaned_data if bound else {**report.initial(user=request.user), "district": None}
        if not bound:
            form = report.form_class(initial=report.initial(user=request.user), user=request.user)
        table = reporting.in_unit(report.run(request.user, params), params.get("unit"))
        head = _report_head(request.user, table, params)
        stamp = timezone.localdate().strftime("%Y%m%d")
        if export == "csv":
            buf = io.StringIO()
            buf.write("\ufeff")  # so Excel opens UTF-8 Chinese correctly
            writer = csv.writer(buf)
            for row in _export_rows(table):
                writer.writerow([f"{v:.2f}" if isinstance(v, Decimal) else v for v in row])
            resp = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
            resp["Content-Disposition"] = f'attachment; filename="report-{slug}-{stamp}.csv"'
            return resp
        if export == "xlsx":
            from openpyxl import Workbook
            from openpyxl.styles import Alignment, Font

            wb = Workbook()
            ws = wb.active
            ws.title = slug[:31]
            width = max(1, len(table.columns))
            ws.append([str(table.title)])
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
            ws["A1"].font, ws["A1"].alignment = Font(bold=True, size=16), Alignment(horizontal="center")
            ws.append([_formula_safe(f"{_('填报单位')}：{head['filing_unit']}    {_('统计期')}：{head['period']}    "
                                     f"{_('计量单位')}：{head['unit']}")])
            ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
            header_rows = ws.max_row
            for row in _export_rows(table):
                ws.append(row)
                for cell in ws[ws.max_row]:
                    if isinstance(cell.value, str):
                        cell.data_type = "s"  # never a formula, whatever the text
                    elif isinstance(cell.value, Decimal):
                        cell.number_format = "#,##0.00"
            for cell in ws[header_rows + 1]:
                cell.font = Font(bold=True)
            if table.totals:
                for cell in ws[ws.max_row]:
                    cell.font = Font(bold=True)
            ws.append([])
            ws.append([_formula_safe(value) for value in head["signoff"]])
            for note in table.notes:
                ws.append([_formula_safe(str(note))])
            out = io.BytesIO()
            wb.save(out)
            resp = HttpResponse(out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            resp["Content-Disposition"] = f'attachment; filename="report-{slug}-{stamp}.xlsx"'
            return resp
        ctx = {"report": report, "form": form, "table": table, "rows": _display_rows(table), "totals": _display_totals(table), "head": head,
               "chart": table.chart or {}, "export_qs": _without_export(request.GET), "chart_height": _chart_height(table.chart)}
        if export == "pdf":
            return _report_pdf(request, table, slug, stamp, head=head)
        return render(request, "reports/report.html", ctx)


def _display_rows(table: reporting.ReportTable) -> list[dict[str, Any]]:
    out = []
    for r in table.rows:
        out.append({"cells": [(c.kind, _cell(r.get(c.key), c.kind)) for c in table.columns], "flag": bool(r.get("flag"))})
    return out


def _chart_height(chart: dict[str, Any] | None) -> int:
    if not chart:
        return 0
    if chart.get("horizontal"):
        return min(900, 80 + 26 * len(chart.get("labels", [])) * max(1, len(chart.get("datasets", [])) // 2 + 1))
    return 320


def _display_totals(table: reporting.ReportTable) -> list[tuple[str, str]] | None:
    if not table.totals:
        return None
    return [(c.kind, _cell(table.totals.get(c.key), c.kind)) for c in table.columns]


def _without_export(query) -> str:
    query = query.copy()
    query.pop("export", None)
    return query.urlencode()


def _period_text(params: dict[str, Any]) -> str:
    if params.get("date_from") and params.get("date_to"):
        return f"{params['date_from'].isoformat()} — {params['date_to'].isoformat()}"
    if params.get("year") and params.get("month"):
        return _("%(y)s年%(m)s月") % {"y": params["year"], "m": params["month"]}
    if params.get("year"):
        return _("%(y)s年度") % {"y": params["year"]}
    return ""


def _report_head(user, table: reporting.ReportTable, params: dict[str, Any]) -> dict[str, Any]:
    """What every report shape carries: 填报单位, 统计期, 计量单位, and the sign-off footer
    (单位负责人 / 审核人 / 填表人 / 报出日期); the preparer is the user who runs it."""
    today = timezone.localdate()
    preparer = (user.get_full_name() or user.get_username()) if user.is_authenticated else ""
    date_text = _("%(y)s年%(m)s月%(d)s日") % {"y": today.year, "m": today.month, "d": today.day}
    return {
        "filing_unit": reporting.filing_unit(user, params) or "",
        "period": table.period or _period_text(params),
        "unit": table.unit,
        "preparer": preparer,
        "report_date": date_text,
        "signoff": [_("单位负责人：%(name)s") % {"name": ""}, _("审核人：%(name)s") % {"name": ""},
                    _("填表人：%(name)s") % {"name": preparer}, _("报出日期：%(date)s") % {"date": date_text}],
    }


def render_report_pdf(table: reporting.ReportTable, *, user_label: str = "", head: dict[str, Any] | None = None) -> bytes:
    ctx = {
        "table": table, "rows": _display_rows(table), "head": head or {},
        "totals": _display_totals(table),
        "svg": chart_svg(table.chart), "printed_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"), "user_label": user_label,
    }
    return html_to_pdf(render_to_string("reports/report_pdf.html", ctx))


def _report_pdf(request, table, slug: str, stamp: str, *, head: dict[str, Any] | None = None) -> HttpResponse:
    pdf = render_report_pdf(table, user_label=request.user.get_full_name() or request.user.get_username(), head=head)
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="report-{slug}-{stamp}.pdf"'
    return resp


# ------------------------------------------------------------------------------------------
# Public verification (/verify/<code>)
# ------------------------------------------------------------------------------------------


@never_cache
@requires(PUBLIC)
def verify(request, code: str):
    """Unauthenticated: confirms number, date, amount and office of a letter, nothing else.

    Unknown codes get a plain 404 (no hint whether a similar code exists), which also suits a
    rate limiter in front of the site.
    """
    letter = selectors.letter_by_verify_code(services.normalise_verify_code(code))
    if letter is None:
        return render(request, "reports/verify.html", {"letter": None, "code": code[:20]}, status=404)
    superseded = Letter.objects.filter(replaces_id=letter.pk).exists()
    return render(request, "reports/verify.html", {
        "letter": letter, "superseded": superseded, "is_rejection": letter.is_rejection,
    })

