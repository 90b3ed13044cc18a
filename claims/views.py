"""Screens of the claims app. Querysets come from ``selectors.access_*`` (other districts: 404);
writes go through ``services``; lists are keyset-paged (no COUNT over a million rows)."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, Sum
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import DetailView, FormView, TemplateView

from beneficiaries import idnumber
from beneficiaries.models import Person
from operations.outbox import enqueue
from organizations import search
from organizations.access import restrict, scope_for
from organizations.confirm import confirmation, confirmed
from organizations.listing import capped_count, keyset_field, keyset_page, sort_order
from organizations.models import Institution
from organizations.permissions import PermissionRequiredMixin, has_perm
from organizations.selectors import access_districts

from . import money, services
from .filters import BillFilter, ClaimFilter
from .forms import (
    AttachmentForm,
    BillForm,
    ClaimEditForm,
    ClaimForm,
    DecisionForm,
    MarkPaidForm,
    ResolveForm,
    UploadForm,
    WithdrawForm,
)
from .letters import explanation_rows
from .models import Bill, ClaimStatus, PaymentAdjustment, SettlementImport
from .selectors import (
    access_adjustments,
    access_batches,
    access_bills,
    access_claims,
    access_imports,
    bills_for_list,
    claims_for_list,
    ledger_for_person,
)

PAGE_SIZE = 50
EXPORT_XLSX_LIMIT = 100_000


def scoped_districts(user):
    return access_districts(user).order_by("code")


def scoped_persons(user):
    return restrict(Person.objects.all(), user, district="hukou_district")


class ClaimsStaffMixin(PermissionRequiredMixin):
    """Each view states its permission (organizations/permissions.py); reading is ``claims.view``."""

    permission = "claims.view"


# --------------------------------------------------------------------------------------------
# Export helpers
# --------------------------------------------------------------------------------------------

from organizations.exports import FORMULA_START, safe_cell  # noqa: E402,F401  (one rule for every export)


class _Echo:
    def write(self, value):
        return value


def export_response(rows, header, *, fmt: str, filename: str):
    if fmt == "xlsx":
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("data")
        sheet.append(header)
        for index, row in enumerate(rows):
            if index >= EXPORT_XLSX_LIMIT:
                sheet.append([_("（超过 %(n)s 行，请使用 CSV 导出全部）") % {"n": EXPORT_XLSX_LIMIT}])
                break
            sheet.append([safe_cell(v) for v in row])
        buf = io.BytesIO()
        book.save(buf)
        response = HttpResponse(buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff"
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([safe_cell(v) for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


# --------------------------------------------------------------------------------------------
# Lists (keyset paging)
# --------------------------------------------------------------------------------------------


def search_bills(qs, term):
    """Bills matching a search term: the person (name, full ID, last four), the settlement
    number, or the claim number."""
    if term is None:
        return qs
    q = Q(person__in=Person.objects.filter(search.person_filter(term)).values("pk"))
    if not (term.id_number or term.last4):
        q |= Q(settlement_no=term.text)
    if term.claim_pk:
        q |= Q(claim_id=term.claim_pk)
    return qs.filter(q)


class BillListView(ClaimsStaffMixin, TemplateView):
    """结算单: one-stop records and claimed bills; keyset-paged on (discharge_date, id), newest or
    oldest first; the total is counted up to listing.COUNT_CAP rows so a page stays fast at a million."""

    template_name = "claims/bill_list.html"

    def filtered(self, *, page: bool = False):
        """The filter and the bills it selects; ``page``: only what a list row shows
        (``selectors.bills_for_list``), else whole bills without the explanation JSON (the export)."""
        base = bills_for_list(self.request.user) if page else access_bills(self.request.user).defer("computation")
        f = BillFilter(self.request.GET or None, queryset=base, districts=scoped_districts(self.request.user))
        qs = f.qs if f.is_bound and f.is_valid() else f.queryset
        self.term = search.term_from_request(self.request)
        self.sort = sort_order(self.request.GET.get("sort"), {"discharge_date": "discharge_date"}, "-discharge_date")
        return f, search_bills(qs, self.term).order_by(*self.sort.order_by)

    def get(self, request, *args, **kwargs):
        fmt = request.GET.get("export")
        if fmt in ("csv", "xlsx"):
            return self.export(fmt)
        return super().get(request, *args, **kwargs)

    def export(self, fmt: str):
        _f, qs = self.filtered()
        header = [_("结算单号"), _("机构"), _("姓名"), _("身份证号"), _("经办区县"), _("来源"), _("状态"), _("就诊类型"),
                  _("入院/就诊日期"), _("出院/结算日期"), _("诊断"), _("医疗总费用"), _("政策范围内费用"), _("基本医保"),
                  _("大病保险"), _("其他支付"), _("个人负担"), _("医疗救助"), _("倾斜救助"), _("专项救助"), _("救助合计"),
                  _("医院已结算救助"), _("已核定救助"), _("已支付救助")]

        def rows():
            for b in qs.iterator(chunk_size=2000):
                yield [b.settlement_no, b.institution.name, b.person.name, idnumber.mask(b.person.id_number),
                       b.district.name, b.get_source_display(), b.get_status_display(), b.get_visit_type_display(),
                       b.admission_date, b.discharge_date, f"{b.diagnosis_code} {b.diagnosis_name}".strip(),
                       b.total_cost, b.policy_scope_cost, b.basic_paid, b.critical_paid, b.other_paid, b.burden,
                       b.assistance, b.tilted, b.special, b.total_assistance, b.hospital_assistance_paid,
                       money.bill_granted(b), money.bill_paid(b)]  # the one definition (claims.money)

        return export_response(rows(), header, fmt=fmt, filename=f"bills-{timezone.localdate():%Y%m%d}")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        f, qs = self.filtered(page=True)
        page = keyset_page(qs, self.request.GET, field="discharge_date", descending=self.sort.descending, size=PAGE_SIZE)
        ctx.update(filter=f, bills=page.rows, export_query=page.first_query, sort=self.sort, search_term=self.term,
                   **page.context(), **capped_count(qs, PAGE_SIZE))
        return ctx


CLAIM_SORTS = {"number": "id", "applied_on": "applied_on", "name": "person__name", "status": "status",
               "amount": "approved_amount", "district": "district__code"}
# Sorts paged by a (field, id) cursor, each served by an index on (field, id) or the primary key
# (claims migration 0014); the person's name and the district are joined columns and the amount
# is nullable: those keep numbered pages (OFFSET).
CLAIM_KEYSET_SORTS = frozenset({"number", "applied_on", "status"})


def search_claims(qs, term):
    """Claims matching a search term (organizations.search): the person or the claim number."""
    if term is None:
        return qs
    q = search.person_filter(term, "person__")
    if term.claim_pk:
        q |= Q(pk=term.claim_pk)
    return qs.filter(q)


class ClaimListView(ClaimsStaffMixin, TemplateView):
    """报销申请 (index page of the app): search, filters, sortable columns. Sorted by number (the
    default, newest first), date or status it is keyset-paged like the bill list (``?after=``,
    one query per page whatever the depth, the total counted up to COUNT_CAP); sorted by name,
    district or amount it keeps numbered pages (OFFSET)."""

    template_name = "claims/claim_list.html"

    def filtered(self, *, page: bool = False):
        """The filter and the claims it selects; ``page``: only what a list row shows
        (``selectors.claims_for_list``), else whole claims (the export)."""
        base = claims_for_list(self.request.user) if page else access_claims(self.request.user)
        f = ClaimFilter(self.request.GET or None, queryset=base, districts=scoped_districts(self.request.user))
        qs = f.qs if f.is_bound and f.is_valid() else f.queryset
        self.term = search.term_from_request(self.request)
        self.sort = sort_order(self.request.GET.get("sort"), CLAIM_SORTS, "-number")
        return f, search_claims(qs, self.term).order_by(*self.sort.order_by)

    def get(self, request, *args, **kwargs):
        fmt = request.GET.get("export")
        if fmt in ("csv", "xlsx"):
            _f, qs = self.filtered()
            header = [_("申请编号"), _("姓名"), _("身份证号"), _("经办区县"), _("申请日期"), _("状态"), _("核定救助金额"),
                      _("登记人"), _("审核人"), _("不予救助原因"), _("支付批次")]

            def rows():
                for c in qs.iterator(chunk_size=2000):
                    yield [c.number, c.person.name, idnumber.mask(c.person.id_number), c.district.name, c.applied_on,
                           c.get_status_display(), c.approved_amount, str(c.created_by), str(c.reviewed_by or ""),
                           c.get_decision_reason_display(), c.payment_batch.number if c.payment_batch else ""]

            return export_response(rows(), header, fmt=fmt, filename=f"claims-{timezone.localdate():%Y%m%d}")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        f, qs = self.filtered(page=True)
        ctx.update(filter=f, sort=self.sort, search_term=self.term, can_create=has_perm(self.request.user, "claims.edit"))
        field = keyset_field(self.sort, CLAIM_SORTS, CLAIM_KEYSET_SORTS)
        if field is None:  # a joined or nullable column: numbered pages (OFFSET), docs/benchmarks/claims.md
            page = Paginator(qs, PAGE_SIZE).get_page(self.request.GET.get("page"))
            params = self.request.GET.copy()
            for name in ("page", "after", "before", "p"):
                params.pop(name, None)
            ctx.update(claims=page.object_list, page_obj=page, export_query=params.urlencode())
            return ctx
        keyset = keyset_page(qs, self.request.GET, field=field, descending=self.sort.descending, size=PAGE_SIZE)
        ctx.update(claims=keyset.rows, export_query=keyset.first_query, **keyset.context(), **capped_count(qs, PAGE_SIZE))
        return ctx


# --------------------------------------------------------------------------------------------
# Claim: create, detail, transitions
# --------------------------------------------------------------------------------------------


class ClaimCreateView(ClaimsStaffMixin, TemplateView):
    """Register a manual claim with its first bill; 试算 shows the engine's suggestion first."""

    template_name = "claims/claim_form.html"
    permission = "claims.edit"

    def forms(self, data=None):
        user = self.request.user
        institutions = Institution.objects.filter(district__region__in=scoped_districts(user).values("region")).order_by("code")
        return (ClaimForm(data, persons=scoped_persons(user), prefix="claim"),
                BillForm(data, institutions=institutions, prefix="bill"))

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if "claim_form" not in ctx:
            ctx["claim_form"], ctx["bill_form"] = self.forms()
        return ctx

    def post(self, request, *args, **kwargs):
        claim_form, bill_form = self.forms(request.POST)
        if not (claim_form.is_valid() and bill_form.is_valid()):
            return self.render_to_response(self.get_context_data(claim_form=claim_form, bill_form=bill_form))
        person = claim_form.cleaned_data["id_number"]
        if "preview" in request.POST:
            bill = Bill(person=person, district=person.hukou_district, **bill_form.bill_data())
            result = services.bill_compute_preview(bill=bill)
            lines = [] if result is None else [line.to_dict() for line in result.lines]
            return self.render_to_response(self.get_context_data(
                claim_form=claim_form, bill_form=bill_form, preview=result, preview_lines=lines, preview_person=person))
        try:
            claim = services.claim_create(
                person=person, district=person.hukou_district, applied_on=claim_form.cleaned_data["applied_on"],
                by=request.user, bills=[bill_form.bill_data()],
                payee_account=claim_form.cleaned_data["payee_account"], note=claim_form.cleaned_data["note"])
        except ValidationError as exc:
            _attach(bill_form, exc)
            return self.render_to_response(self.get_context_data(claim_form=claim_form, bill_form=bill_form))
        messages.success(request, _("已登记报销申请 %(no)s。") % {"no": claim.number})
        return redirect("claims:detail", pk=claim.pk)


def _attach(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
    else:
        form.add_error(None, exc)


class ClaimDetailView(ClaimsStaffMixin, DetailView):
    template_name = "claims/claim_detail.html"
    context_object_name = "claim"

    def get_queryset(self):
        return access_claims(self.request.user).select_related("person__hukou_district")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        claim = self.object
        user = self.request.user
        bills = list(claim.bills.select_related("institution", "policy").order_by("discharge_date", "id"))
        ctx["bills"] = [(b, explanation_rows(b)) for b in bills]
        ctx["total"] = sum((b.total_assistance for b in bills), Decimal("0.00"))
        ctx["transitions"] = claim.transitions.select_related("by").order_by("at", "id")
        editable = claim.status in (ClaimStatus.DRAFT, ClaimStatus.RETURNED)
        ctx["can_submit"] = editable and has_perm(user, "claims.submit") and bills
        ctx["can_add_bill"] = editable and has_perm(user, "claims.edit")
        ctx["can_withdraw"] = (claim.status == ClaimStatus.SUBMITTED and has_perm(user, "claims.submit")
                               and user.pk in (claim.created_by_id, claim.submitted_by_id))
        ctx["can_decide"] = (claim.status == ClaimStatus.SUBMITTED and has_perm(user, "claims.approve")
                             and user.pk not in (claim.submitted_by_id, claim.created_by_id))
        ctx["four_eyes_block"] = (claim.status == ClaimStatus.SUBMITTED and has_perm(user, "claims.approve")
                                  and user.pk in (claim.submitted_by_id, claim.created_by_id))
        ctx["decision_form"] = kwargs.get("decision_form") or DecisionForm()
        if ctx["can_add_bill"]:
            institutions = Institution.objects.filter(district__region=claim.district.region).order_by("code")
            ctx["bill_form"] = kwargs.get("bill_form") or BillForm(institutions=institutions, prefix="bill")
        ctx["letters"] = _letters_of(claim)
        ctx["attachments"] = claim.attachments.select_related("uploaded_by")
        ctx["attachment_form"] = AttachmentForm()
        ctx["can_attach"] = has_perm(user, "claims.attach")
        ctx["ledger"] = ledger_for_person(claim.person)
        return ctx


def _letters_of(claim):
    """Letters issued for the claim (reports app), if that app offers them."""
    try:
        from reports.models import Letter
    except ImportError:
        return []
    from django.urls import NoReverseMatch

    out = []
    try:
        letters = list(Letter.objects.filter(claim=claim).order_by("-id"))
    except Exception:  # noqa: BLE001 - a letters app in flux must not break the claim page
        return []
    for letter in letters:
        urls = {}
        for key, name in (("url", "reports:letter"), ("pdf", "reports:letter_pdf")):
            try:
                urls[key] = reverse(name, args=[letter.pk])
            except NoReverseMatch:
                urls[key] = ""
        out.append({"letter": letter, **urls})
    return out


def _people(claims, reliefs=()) -> list[str]:
    """Names with masked ID numbers, once each, for a confirmation page (claimants, then the
    applicants of reliefs on application)."""
    seen: dict[int, str] = {}
    persons = [c.person for c in claims] + [a.applicant for a in reliefs]
    for person in persons:
        seen.setdefault(person.pk, f"{person.name}（{person.masked_id_number}）")
    return list(seen.values())


def _batch_reliefs(batch) -> list:
    """The batch's reliefs on application, each with its applicant's masked payee account."""
    from .models import PayeeAccount
    from .payments import mask_account

    rows = list(batch.reliefs.select_related("application__applicant").order_by("id"))
    accounts = {a.person_id: a for a in PayeeAccount.objects.filter(
        person_id__in=[r.application.applicant_id for r in rows], active=True)}
    for row in rows:
        account = accounts.get(row.application.applicant_id)
        row.masked_account = mask_account(account.account_number) if account else ""
        row.paid = money.relief_paid_of(row.application)
    return rows


class ClaimActionView(ClaimsStaffMixin, View):
    """POST-only transitions: submit, decide (approve/reject/return), withdraw, add a bill.
    Submit, approve and reject first show a confirmation naming the amount and the person."""

    permission = "claims.view"
    action_permissions = {"submit": "claims.submit", "withdraw": "claims.submit", "decide": "claims.approve",
                          "add-bill": "claims.edit"}

    def permission_for(self, request, *args, **kwargs) -> str:
        if request.method == "POST":
            return self.action_permissions.get(kwargs.get("action"), self.permission)
        return self.permission

    def post(self, request, pk: int, action: str):
        claim = get_object_or_404(access_claims(request.user), pk=pk)
        back = reverse("claims:detail", args=[claim.pk])
        suggested = claim.bills.aggregate(s=Sum("total_assistance"))["s"] or Decimal("0.00")
        try:
            if action == "submit":
                if not confirmed(request):
                    return confirmation(
                        request, title=_("提交审核：%(no)s") % {"no": claim.number}, back=back, final=False,
                        lines=[_("报销申请 %(no)s 的 %(n)s 张结算单将交审核人审核。") % {"no": claim.number, "n": claim.bills.count()},
                               _("提交后不能再修改；审核前您可以撤回。")],
                        amount=suggested, people=_people([claim]), confirm_label=_("确认提交"))
                services.claim_submit(claim=claim, by=request.user)
                messages.success(request, _("已提交审核。"))
            elif action == "withdraw":
                form = WithdrawForm(request.POST)
                if not form.is_valid():
                    messages.error(request, _("请填写撤回原因。"))
                    return redirect(back)
                services.claim_withdraw(claim=claim, by=request.user, reason=form.cleaned_data["reason"])
                messages.success(request, _("已撤回，申请回到草稿，可修改后重新提交。不出具决定书。"))
            elif action == "decide":
                form = DecisionForm(request.POST)
                if not form.is_valid():
                    return _rerender(request, claim, decision_form=form)
                data = form.cleaned_data
                if data["action"] in ("approve", "reject") and not confirmed(request):
                    return self.confirm_decision(request, claim, data, suggested, back)
                if data["action"] == "approve":
                    services.claim_approve(claim=claim, reviewer=request.user, note=data["note"])
                    messages.success(request, _("已批准。"))
                elif data["action"] == "reject":
                    services.claim_reject(claim=claim, reviewer=request.user, reason=data["reason"], note=data["note"])
                    messages.success(request, _("已作出不予救助决定。"))
                else:
                    services.claim_return(claim=claim, reviewer=request.user, note=data["note"])
                    messages.success(request, _("已退回补正。"))
            elif action == "add-bill":
                institutions = Institution.objects.filter(district__region=claim.district.region)
                form = BillForm(request.POST, institutions=institutions, prefix="bill")
                if not form.is_valid():
                    return _rerender(request, claim, bill_form=form)
                try:
                    services.claim_add_bill(claim=claim, data=form.bill_data(), by=request.user)
                except ValidationError as exc:
                    if hasattr(exc, "error_dict"):
                        _attach(form, exc)
                        return _rerender(request, claim, bill_form=form)
                    raise
                messages.success(request, _("已添加结算单。"))
            else:
                raise Http404
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("claims:detail", pk=claim.pk)

    def confirm_decision(self, request, claim, data, suggested, back):
        people = _people([claim])
        if data["action"] == "approve":
            return confirmation(
                request, title=_("批准：%(no)s") % {"no": claim.number}, back=back, amount=suggested, people=people,
                lines=[_("批准报销申请 %(no)s，核定救助金额以批准时的重新计算为准（当前建议 %(amount)s 元）。")
                       % {"no": claim.number, "amount": f"{suggested:,.2f}"},
                       _("金额计入申请人的年度累计，并向申请人出具编号的救助决定书。")],
                confirm_label=_("确认批准"))
        reason = dict(DecisionForm.base_fields["reason"].choices).get(data["reason"], "")
        return confirmation(
            request, title=_("不予救助：%(no)s") % {"no": claim.number}, back=back, danger=True, people=people,
            lines=[_("对报销申请 %(no)s 作出不予救助决定，原因：%(reason)s。") % {"no": claim.number, "reason": reason},
                   _("将向申请人出具编号的不予救助决定书；录入错误请退回补正或由登记人撤回，而不是不予救助。")],
            confirm_label=_("确认不予救助"))


class ClaimEditView(ClaimsStaffMixin, TemplateView):
    """Correct a draft's (or returned claim's) header."""

    template_name = "claims/claim_edit.html"
    permission = "claims.edit"

    def prepare(self, request, *args, **kwargs):
        self.claim = get_object_or_404(access_claims(request.user), pk=kwargs["pk"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["claim"] = self.claim
        ctx.setdefault("form", ClaimEditForm(initial={"applied_on": self.claim.applied_on, "note": self.claim.note,
                                                      "payee_account": self.claim.payee_account}))
        return ctx

    def post(self, request, pk: int):
        form = ClaimEditForm(request.POST)
        if form.is_valid():
            try:
                services.claim_update(claim=self.claim, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _attach(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("claims:detail", pk=pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ClaimBillEditView(ClaimsStaffMixin, TemplateView):
    """Correct or remove a bill of a draft or returned claim (removing asks first)."""

    template_name = "claims/bill_edit.html"
    permission = "claims.edit"

    def prepare(self, request, *args, **kwargs):
        self.claim = get_object_or_404(access_claims(request.user), pk=kwargs["pk"])
        self.bill = get_object_or_404(self.claim.bills.select_related("institution"), pk=kwargs["bill_pk"])

    def institutions(self):
        return Institution.objects.filter(district__region=self.claim.district.region).order_by("code")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(claim=self.claim, bill=self.bill)
        ctx.setdefault("form", BillForm(instance=self.bill, institutions=self.institutions(), prefix="bill"))
        return ctx

    def post(self, request, pk: int, bill_pk: int):
        back = reverse("claims:detail", args=[pk])
        if "remove" in request.POST:
            if not confirmed(request):
                return confirmation(
                    request, title=_("删除结算单 %(no)s") % {"no": self.bill.settlement_no}, back=back, danger=True,
                    lines=[_("从草稿申请 %(claim)s 中删除结算单 %(no)s（%(inst)s，%(day)s）。")
                           % {"claim": self.claim.number, "no": self.bill.settlement_no, "inst": self.bill.institution.name,
                              "day": self.bill.discharge_date.isoformat()},
                           _("删除记入申请的流转记录；不出具决定书。")],
                    amount=self.bill.total_cost, people=_people([self.claim]), confirm_label=_("确认删除"))
            try:
                services.claim_remove_bill(claim=self.claim, bill=self.bill, by=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("已删除结算单 %(no)s。") % {"no": self.bill.settlement_no})
            return redirect(back)
        form = BillForm(request.POST, instance=self.bill, institutions=self.institutions(), prefix="bill")
        if form.is_valid():
            try:
                services.claim_update_bill(claim=self.claim, bill=self.bill, data=form.bill_data(), by=request.user)
            except ValidationError as exc:
                _attach(form, exc)
            else:
                messages.success(request, _("已修改结算单。"))
                return redirect(back)
        return self.render_to_response(self.get_context_data(form=form), status=400)


def _rerender(request, claim, **forms):
    view = ClaimDetailView()
    view.setup(request, pk=claim.pk)
    view.object = claim
    ctx = view.get_context_data(object=claim, **forms)
    return view.render_to_response(ctx, status=400)


class AttachmentUploadView(ClaimsStaffMixin, View):
    permission = "claims.attach"

    def post(self, request, pk: int):
        claim = get_object_or_404(access_claims(request.user), pk=pk)
        form = AttachmentForm(request.POST, request.FILES)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect("claims:detail", pk=pk)
        try:
            services.claim_attach(claim=claim, file=form.cleaned_data["file"], kind=form.cleaned_data["kind"], by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("材料已上传。"))
        return redirect("claims:detail", pk=pk)


class AttachmentDownloadView(ClaimsStaffMixin, View):
    """The only way to an attachment: the claim must be in the user's scope (else 404)."""

    def get(self, request, pk: int, attachment_pk: int):
        claim = get_object_or_404(access_claims(request.user), pk=pk)
        attachment = get_object_or_404(claim.attachments.all(), pk=attachment_pk)
        response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type,
                                as_attachment=request.GET.get("inline") != "1", filename=attachment.original_name)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class BillDetailView(ClaimsStaffMixin, DetailView):
    template_name = "claims/bill_detail.html"
    context_object_name = "bill"

    def get_queryset(self):
        return access_bills(self.request.user).select_related("policy")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["lines"] = explanation_rows(self.object)
        ctx["adjustments"] = self.object.adjustments.order_by("-id")
        return ctx


# --------------------------------------------------------------------------------------------
# Ledger, payment batches, differences
# --------------------------------------------------------------------------------------------


class LedgerView(ClaimsStaffMixin, TemplateView):
    """年度累计 of one person (also embeddable on the person page: claims/_person_ledger.html)."""

    template_name = "claims/ledger.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        person = get_object_or_404(scoped_persons(self.request.user), pk=kwargs["person_pk"])
        ctx["person"] = person
        ctx["ledger_years"] = ledger_for_person(person)
        ctx["recent_bills"] = (access_bills(self.request.user).filter(person=person).order_by("-discharge_date", "-id")[:30])
        from applications.selectors import access_applications

        reliefs = list(money.applications_granted(access_applications(self.request.user).filter(applicant=person))
                       .select_related("relief_payment__batch").order_by("-year", "-id"))
        for app in reliefs:
            app.granted = money.relief_granted_of(app)
            app.paid = money.relief_paid_of(app)
        ctx["reliefs"] = reliefs
        return ctx


class BatchListView(ClaimsStaffMixin, TemplateView):
    post_permission = "claims.pay"
    template_name = "claims/batch_list.html"

    def _access_reliefs(self):
        from applications.selectors import access_applications

        return access_applications(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["batches"] = access_batches(self.request.user)[:100]
        ctx["payable"] = (money.claims_payable(access_claims(self.request.user))
                          .order_by("district", "id")[:500])
        ctx["payable_reliefs"] = (money.applications_payable(self._access_reliefs())
                                  .order_by("district", "id")[:500])
        ctx["can_pay"] = has_perm(self.request.user, "claims.pay")
        return ctx

    def post(self, request, *args, **kwargs):
        ids = [int(x) for x in request.POST.getlist("claims") if x.isdigit()]
        relief_ids = [int(x) for x in request.POST.getlist("reliefs") if x.isdigit()]
        claims = list(access_claims(request.user).filter(pk__in=ids).order_by("id"))
        reliefs = list(self._access_reliefs().filter(pk__in=relief_ids).order_by("id"))
        if (claims or reliefs) and not confirmed(request):
            claims_total = sum((c.approved_amount or Decimal("0.00") for c in claims), Decimal("0.00"))
            reliefs_total = sum((money.relief_granted_of(a) for a in reliefs), Decimal("0.00"))
            total = claims_total + reliefs_total
            lines = []
            if claims:
                lines.append(_("将 %(n)s 个已批准申请（%(numbers)s）放入一个支付批次，合计 %(total)s 元。")
                             % {"n": len(claims), "numbers": "、".join(c.number for c in claims[:10]) + ("…" if len(claims) > 10 else ""),
                                "total": f"{claims_total:,.2f}"})
            if reliefs:
                lines.append(_("将 %(n)s 个已批准的依申请救助（%(numbers)s）放入同一支付批次，合计 %(total)s 元。")
                             % {"n": len(reliefs),
                                "numbers": "、".join(a.number for a in reliefs[:10]) + ("…" if len(reliefs) > 10 else ""),
                                "total": f"{reliefs_total:,.2f}"})
            lines.append(_("批次合计 %(total)s 元。") % {"total": f"{total:,.2f}"})
            lines.append(_("放入批次后的申请只能随批次支付。"))
            return confirmation(
                request, title=_("生成支付批次"), back=reverse("claims:batches"), amount=total,
                people=_people(claims, reliefs), lines=lines, confirm_label=_("确认生成批次"))
        try:
            batch = services.payment_batch_create(claims=claims, reliefs=reliefs, by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("claims:batches")
        messages.success(request, _("已生成支付批次 %(no)s。") % {"no": batch.number})
        return redirect("claims:batch", pk=batch.pk)


class BatchDetailView(ClaimsStaffMixin, DetailView):
    post_permission = "claims.pay"
    template_name = "claims/batch_detail.html"
    context_object_name = "batch"

    def get_queryset(self):
        return access_batches(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["claims"] = self.object.claims.select_related("person").order_by("id")
        ctx["reliefs"] = _batch_reliefs(self.object)
        ctx["form"] = kwargs.get("form") or MarkPaidForm()
        return ctx

    def post(self, request, pk: int):
        self.object = self.get_object()
        form = MarkPaidForm(request.POST)
        if form.is_valid() and not confirmed(request):
            claims = list(self.object.claims.select_related("person").order_by("id"))
            reliefs = [r.application for r in self.object.reliefs.select_related("application__applicant").order_by("id")]
            lines = [_("支付批次 %(no)s 的 %(n)s 个申请标记为已支付，凭证号 %(ref)s。")
                     % {"no": self.object.number, "n": len(claims), "ref": form.cleaned_data["reference"]}]
            if reliefs:
                lines.append(_("其中依申请救助 %(n)s 笔（%(numbers)s）同时标记为已支付。")
                             % {"n": len(reliefs), "numbers": "、".join(a.number for a in reliefs[:10])
                                + ("…" if len(reliefs) > 10 else "")})
            lines.append(_("已支付的金额此后不再改变；重算产生的差额记为补发或多付待核。"))
            return confirmation(
                request, title=_("标记支付：%(no)s") % {"no": self.object.number}, back=reverse("claims:batch", args=[pk]),
                amount=self.object.total_amount, people=_people(claims, reliefs), danger=True, lines=lines,
                confirm_label=_("确认已支付"))
        if form.is_valid():
            try:
                services.payment_batch_mark_paid(batch=self.object, reference=form.cleaned_data["reference"], by=request.user)
                messages.success(request, _("已标记支付。"))
                return redirect("claims:batch", pk=pk)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
        return self.render_to_response(self.get_context_data(form=form))


class DifferenceListView(ClaimsStaffMixin, TemplateView):
    """差额待核: paid bills whose recomputed figure differs from what was paid."""

    template_name = "claims/difference_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        status = self.request.GET.get("status", PaymentAdjustment.Status.OPEN)
        qs = access_adjustments(self.request.user).filter(status=status).order_by("-id")
        after = self.request.GET.get("after")
        if after and after.isdigit():
            qs = qs.filter(id__lt=int(after))
        page = list(qs[: PAGE_SIZE + 1])
        ctx["adjustments"] = page[:PAGE_SIZE]
        ctx["next_after"] = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
        ctx["status"] = status
        ctx["statuses"] = PaymentAdjustment.Status.choices
        ctx["can_resolve"] = has_perm(self.request.user, "claims.resolve")
        return ctx


class DifferenceResolveView(ClaimsStaffMixin, View):
    permission = "claims.resolve"

    def post(self, request, pk: int):
        adjustment = get_object_or_404(access_adjustments(request.user), pk=pk)
        if adjustment.kind == "overpayment":
            return self._recover(request, adjustment)
        form = ResolveForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请填写处理说明。"))
            return redirect("claims:differences")
        try:
            services.adjustment_resolve(adjustment=adjustment, by=request.user, note=form.cleaned_data["note"])
            messages.success(request, _("已处理。"))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("claims:differences")

    @staticmethod
    def _recover(request, adjustment):
        """追回: an overpayment closes only with a recorded repayment or an offset, not a note alone."""
        from datetime import date as _date

        from .payments import recovery_close

        post = request.POST
        offset_claim = None
        number = post.get("offset_claim", "").strip()
        if number:
            pk_part = number.rsplit("-", 1)[-1]
            offset_claim = access_claims(request.user).filter(pk=int(pk_part)).first() if pk_part.isdigit() else None
        try:
            received_on = _date.fromisoformat(post.get("received_on", ""))
        except ValueError:
            received_on = timezone.localdate()
        try:
            recovery_close(adjustment=adjustment, method=post.get("method", ""), amount=adjustment.amount,
                           by=request.user, received_on=received_on, reference=post.get("reference", ""),
                           offset_claim=offset_claim, note=post.get("note", ""))
            messages.success(request, _("已记录追回。"))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except PermissionDenied:
            messages.error(request, _("只有审核人员可以处理差额。"))
        return redirect("claims:differences")


# --------------------------------------------------------------------------------------------
# Settlement import (upload → preview → confirm)
# --------------------------------------------------------------------------------------------


class ImportListView(ClaimsStaffMixin, FormView):
    template_name = "claims/import_list.html"
    post_permission = "claims.import"
    form_class = UploadForm

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["imports"] = access_imports(self.request.user)[:50]
        from .imports import COLUMNS, PLATFORM_COLUMNS

        ctx["columns"] = ",".join(COLUMNS)
        ctx["platform_columns"] = ",".join(PLATFORM_COLUMNS)
        return ctx

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        scope = scope_for(self.request.user)
        from .tasks import settlement_import_preview

        with transaction.atomic():
            job = SettlementImport.objects.create(file=upload, original_name=upload.name[:200], uploaded_by=self.request.user,
                                                  district_id=scope.district_id)
            enqueue(settlement_import_preview, job.pk)
        return redirect("claims:import", pk=job.pk)


class ImportTemplateView(ClaimsStaffMixin, View):
    """导入模板: the platform's setlinfo header (XLSX with certno as text, or CSV with BOM)."""

    def get(self, request, kind: str = "xlsx"):
        from organizations import tabular

        from .imports import PLATFORM_COLUMNS

        sample = ["JS20230001", "MD0001", "P0001", "张三", "110105197001010000", "390", "11",
                  "2023-03-10 10:00:00", "2023-03-01", "2023-03-10", "21", "H001", "某某医院", "31000.00",
                  "30000.00", "10000.00", "0", "0", "0", "0", "0", "0", "21000.00", "0"]
        if kind == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(PLATFORM_COLUMNS)
            response = HttpResponse(("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="setlinfo_template.csv"'
            return response
        data = tabular.xlsx_bytes(list(PLATFORM_COLUMNS), [sample], text_columns=[0, 1, 2, 4, 5, 6, 10, 11])
        response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="setlinfo_template.xlsx"'
        return response


class ImportDetailView(ClaimsStaffMixin, DetailView):
    post_permission = "claims.import"
    template_name = "claims/import_detail.html"
    context_object_name = "job"

    def get_queryset(self):
        return access_imports(self.request.user)

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "json":
            job = self.get_object()
            return JsonResponse({"status": job.status, "processed": job.processed_rows, "total": job.total_rows,
                                 "done": job.status in (SettlementImport.Status.PREVIEWED, SettlementImport.Status.DONE,
                                                        SettlementImport.Status.FAILED, SettlementImport.Status.CANCELLED)})
        if request.GET.get("format") == "errors":
            return self._error_file(self.get_object())
        return super().get(request, *args, **kwargs)

    @staticmethod
    def _error_file(job: SettlementImport) -> HttpResponse:
        """错误文件: 行号/字段/原因, one line per rejected row (CSV, UTF-8 with BOM for Excel)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([_("行号"), _("字段"), _("原因")])
        for e in job.errors:
            writer.writerow([safe_cell(e.get("line")), safe_cell(e.get("field")), safe_cell(e.get("message"))])
        response = HttpResponse(("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response

    def post(self, request, pk: int):
        job = self.get_object()
        Status = SettlementImport.Status
        if request.POST.get("action") == "cancel":
            # Before applying: the job simply ends. While applying: the task sees the flag at its
            # next progress report and rolls its transaction back (nothing written).
            ended = SettlementImport.objects.filter(pk=pk, status__in=(Status.UPLOADED, Status.PREVIEWING, Status.PREVIEWED)) \
                .update(status=Status.CANCELLED, cancel_requested=True, finished_at=timezone.now())
            if not ended:
                SettlementImport.objects.filter(pk=pk, status=Status.APPLYING).update(cancel_requested=True)
            messages.info(request, _("已取消。"))
            return redirect("claims:import", pk=pk)
        good_rows = request.POST.get("apply_good_rows") == "1"
        if job.rejected and not good_rows:
            messages.error(request, _("文件中有被拒绝的行：请勾选“仅导入正确的行”后确认，或修正文件后重新上传。"))
            return redirect("claims:import", pk=pk)
        from .tasks import settlement_import_apply

        # The state transition IS the lock: of five simultaneous confirms exactly one moves the
        # job from PREVIEWED to APPLYING and queues the task; the others find it moved.
        with transaction.atomic():  # the move and the queued work together (operations.outbox)
            moved = SettlementImport.objects.filter(pk=pk, status=Status.PREVIEWED, cancel_requested=False).update(
                status=Status.APPLYING, processed_rows=0, apply_good_rows=good_rows)
            if moved:
                enqueue(settlement_import_apply, job.pk)
        if not moved:
            messages.error(request, _("只有已校验的文件可以确认导入（该文件可能已在导入中）。"))
            return redirect("claims:import", pk=pk)
        return redirect(reverse("claims:import", kwargs={"pk": pk}))


class BatchFileView(ClaimsStaffMixin, View):
    """支付文件: the batch as the bank / 一卡通 file (XLSX or CSV); each download is logged per person."""

    permission = "claims.pay"

    def get(self, request, pk: int, kind: str):
        from beneficiaries.models import IdRevealLog

        from .payments import bank_file_csv, bank_file_xlsx, batch_person_ids

        batch = get_object_or_404(access_batches(request.user), pk=pk)
        if kind not in ("xlsx", "csv"):
            raise Http404
        try:
            data, lines = (bank_file_xlsx if kind == "xlsx" else bank_file_csv)(batch)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("claims:batch", pk=pk)
        person_ids = batch_person_ids(batch)
        IdRevealLog.objects.bulk_create([IdRevealLog(user=request.user, person_id=p, purpose=_("支付文件 %(no)s") % {"no": batch.number})
                                         for p in person_ids])
        content_type = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if kind == "xlsx"
                        else "text/csv; charset=utf-8")
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{batch.number}.{kind}"'
        return response


class ReconciliationView(ClaimsStaffMixin, TemplateView):
    """对账单: one institution, one month: advanced (maf_pay) against computed, per bill; CSV export."""

    template_name = "claims/reconciliation.html"

    def _params(self):
        from datetime import date as _date

        institution = None
        code = self.request.GET.get("institution", "").strip()
        if code:
            institution = Institution.objects.filter(code=code).first()
        try:
            year, month = (int(x) for x in self.request.GET.get("month", "").split("-")[:2])
            day = _date(year, month, 1)
        except (TypeError, ValueError):
            today = timezone.localdate()
            day = today.replace(day=1)
        return institution, day

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "csv":
            institution, day = self._params()
            if institution is None:
                raise Http404
            from .reconciliation import statement

            st = statement(bills=access_bills(request.user), institution=institution, month=day)
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow([_("结算单号"), _("姓名"), _("出院/结算日期"), _("医院垫付"), _("系统计算"), _("差额")])
            for line in st.lines:
                writer.writerow([safe_cell(line.settlement_no), safe_cell(line.person_name), line.discharge_date.isoformat(),
                                 f"{line.advanced:.2f}", f"{line.computed:.2f}", f"{line.difference:.2f}"])
            writer.writerow([_("合计"), "", "", f"{st.advanced:.2f}", f"{st.computed:.2f}", f"{st.difference:.2f}"])
            response = HttpResponse(("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="reconciliation-{institution.code}-{day:%Y-%m}.csv"'
            return response
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        from .reconciliation import statement

        ctx = super().get_context_data(**kwargs)
        institution, day = self._params()
        ctx["month"] = day
        ctx["institutions"] = Institution.objects.filter(
            pk__in=access_bills(self.request.user).filter(source="one_stop").values("institution")).order_by("code")
        ctx["institution"] = institution
        if institution is not None:
            ctx["statement"] = statement(bills=access_bills(self.request.user), institution=institution, month=day)
        return ctx


class IndexView(ClaimListView):
    """The app's landing page is the claim list."""


BillListView.page_title = gettext_lazy("结算单")
