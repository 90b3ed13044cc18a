"""Screens of 依申请救助. Every object comes from an ``access_*`` selector (404 outside scope);
every write goes through a service."""
from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from organizations import search
from organizations.confirm import confirmation, confirmed
from organizations.listing import capped_count, capped_counts, keyset_field, keyset_page, sort_order
from organizations.permissions import PermissionRequiredMixin, has_perm

from . import selectors, services
from .filters import ApplicationFilter
from .forms import (
    ApplicationForm,
    AssessmentForm,
    DecisionForm,
    DocumentForm,
    ExtraBillForm,
    ReturnForm,
    WarningApplicationForm,
)
from .models import Application, AssessmentResult, HouseholdAssessment, ReliefPayment, Status

QUEUES = [
    ("open", gettext_lazy("办理中")),
    ("to_send", gettext_lazy("待转民政核对")),
    ("to_assess", gettext_lazy("待家庭经济状况核对")),
    ("to_gather", gettext_lazy("待归集计算")),
    ("to_decide", gettext_lazy("待审核决定")),
    ("closed", gettext_lazy("已办结")),
]


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [str(m) for errors in exc.message_dict.values() for m in errors]
    return [str(m) for m in exc.messages]


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class ApplicationMixin(PermissionRequiredMixin):
    """Each view states its permission (organizations/permissions.py); reading is ``applications.view``."""

    permission = "applications.view"

    def get_application(self) -> Application:
        if not hasattr(self, "_application"):
            self._application = get_object_or_404(selectors.access_applications(self.request.user), pk=self.kwargs["pk"])
        return self._application

    def detail_url(self) -> str:
        return reverse("applications:detail", args=[self.kwargs["pk"]])


APPLICATION_SORTS = {"number": "number", "name": "applicant__name", "received_on": "received_on", "relief": "relief"}
# Sorts paged by a (field, id) cursor (organizations.listing.keyset_page); the applicant's name
# is a joined column and the relief nullable: those keep numbered pages (OFFSET).
APPLICATION_KEYSET_SORTS = frozenset({"number", "received_on"})


class IndexView(PermissionRequiredMixin, ListView):
    """The list, with one tab per work queue and days since received on every row. Sorted by the
    date received (the default) or the number it is keyset-paged (``?after=``, one query per
    page whatever the depth); by name or relief it keeps numbered pages."""

    permission = "applications.view"

    template_name = "applications/index.html"
    paginate_by = 25
    context_object_name = "applications"

    def get_queryset(self):
        qs = selectors.access_applications(self.request.user).select_related(None).select_related("applicant", "district")
        self.queue = self.request.GET.get("queue", "open")
        qs = qs.filter(selectors.queue_filter(self.queue))
        self.filterset = ApplicationFilter(self.request.GET or None, queryset=qs)
        qs = self.filterset.qs if self.filterset.is_bound else qs
        self.term = search.term_from_request(self.request)
        if self.term is not None:
            match = search.person_filter(self.term, "applicant__")
            if not (self.term.id_number or self.term.last4):
                match |= Q(number__icontains=self.term.text)
            qs = qs.filter(match)
        self.sort = sort_order(self.request.GET.get("sort"), APPLICATION_SORTS, "received_on")
        return qs.order_by(*self.sort.order_by)

    def get_paginate_by(self, queryset):
        """Numbered pages only for a sort the keyset cannot page (see APPLICATION_KEYSET_SORTS)."""
        self.keyset_field = keyset_field(self.sort, APPLICATION_SORTS, APPLICATION_KEYSET_SORTS)
        return self.paginate_by if self.keyset_field is None else None

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if self.keyset_field is not None:
            qs = self.object_list
            page = keyset_page(qs, self.request.GET, field=self.keyset_field, descending=self.sort.descending,
                               size=self.paginate_by)
            ctx.update(applications=page.rows, object_list=page.rows, **page.context(), **capped_count(qs, self.paginate_by))
        ctx["queues"] = queue_badges(self.request.user)
        ctx["queue"] = self.queue
        ctx["sort"], ctx["search_term"] = self.sort, self.term
        ctx["filter"] = self.filterset
        ctx["can_create"] = has_perm(self.request.user, "applications.edit")
        if ctx["can_create"]:
            ctx["open_warnings"] = selectors.open_warnings(self.request.user)[:10]
        return ctx


BADGE_CAP = 999  # a work-queue badge counts up to this many applications, then shows "999+"


def queue_badges(user) -> list[tuple[str, str, int, bool]]:
    """(code, label, count, capped) per work-queue tab. Each status is counted up to BADGE_CAP + 1
    rows, all in one query (``listing.capped_counts``, an index-only scan of the (district, status,
    …) index): at most 6 × 1,000 index entries whatever the table's size, ``999+`` beyond (issue 20;
    it was a GROUP BY over every application in scope: 94–113 ms at 56,000 applications city-wide,
    and the same counted up to 10,000 per status still cost 27–62 ms)."""
    scoped = selectors.access_applications(user).select_related(None)
    counts = capped_counts({status: scoped.filter(status=status) for status in Status.values}, cap=BADGE_CAP)
    badges = []
    for code, label in QUEUES:
        parts = [counts[status] for status in _queue_statuses(code)]
        capped = any(n > BADGE_CAP for n in parts) or sum(parts) > BADGE_CAP
        badges.append((code, label, BADGE_CAP if capped else sum(parts), capped))
    return badges


def _queue_statuses(code: str) -> list[str]:
    return {
        "open": [Status.RECEIVED, Status.ASSESSING, Status.GATHERING, Status.REVIEWING],
        "to_send": [Status.RECEIVED], "to_assess": [Status.ASSESSING], "to_gather": [Status.GATHERING],
        "to_decide": [Status.REVIEWING], "closed": [Status.APPROVED, Status.REJECTED],
    }[code]


class ApplicationCreateView(PermissionRequiredMixin, FormView):
    permission = "applications.edit"
    template_name = "applications/form.html"
    form_class = ApplicationForm
    extra_context = {"title": gettext_lazy("受理依申请救助")}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(_intake_context(self.request.user))
        return ctx

    def post(self, request, *args, **kwargs):
        if _intake_context(request.user).get("no_scheme"):
            return self.get(request, *args, **kwargs)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        patient = selectors.access_persons(self.request.user).filter(id_number=data["patient_id_number"]).first()
        if patient is None:
            form.add_error("patient_id_number", _("本辖区未登记该身份证号的人员，请先在救助对象中登记。"))
            return self.form_invalid(form)
        if patient.household_id is None:
            form.add_error("patient_id_number", _("该人员未登记家庭，请先在救助对象中登记家庭成员。"))
            return self.form_invalid(form)
        try:
            application = services.application_create(
                household=patient.household, applicant=patient, received_on=data["received_on"], by=self.request.user,
                channel=data["channel"], contact_name=data["contact_name"], contact_phone=data["contact_phone"],
                proxy_name=data["proxy_name"], note=data["note"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("已受理申请 %(number)s。") % {"number": application.number})
        return redirect("applications:detail", pk=application.pk)


def _intake_context(user) -> dict:
    """What the intake screen says about the user's region's on-application scheme (POLICY.md §9)."""
    from django.utils import timezone

    from organizations.access import scope_for
    from organizations.models import District

    scope = scope_for(user)
    district = None
    if scope.district_id is not None:
        district = District.objects.select_related("region").filter(pk=scope.district_id).first()
    elif scope.region_id is not None:
        district = District.objects.select_related("region").filter(region_id=scope.region_id).first()
    if district is None:
        return {}
    policy, scheme = services.intake_scheme(district, timezone.localdate())
    if policy is None:
        return {}
    ctx = {"intake_policy": policy, "intake_scheme": scheme, "intake_region": district.region}
    if scheme is None:
        ctx["no_scheme"] = True
    return ctx


def _warning_model():
    try:
        from monitoring.models import EarlyWarning  # type: ignore[attr-defined]
    except ImportError:
        raise Http404 from None
    return EarlyWarning


class CreateFromWarningView(PermissionRequiredMixin, FormView):
    """An early warning turned into an application, the household pre-filled."""

    permission = "applications.edit"
    template_name = "applications/form.html"
    form_class = WarningApplicationForm

    def prepare(self, request, *args, **kwargs):
        model = _warning_model()
        households = selectors.access_households(request.user)
        self.warning = get_object_or_404(model.objects.filter(household__in=households), pk=kwargs["pk"])
        self.household = self.warning.household

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["members"] = self.household.members.order_by("relation", "id")
        return kwargs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["title"] = _("由预警转为依申请救助")
        ctx["warning"] = self.warning
        ctx["household"] = self.household
        return ctx

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            application = services.application_create(
                household=self.household, applicant=data["applicant"], received_on=data["received_on"],
                by=self.request.user, contact_name=data["contact_name"], contact_phone=data["contact_phone"],
                note=data["note"], warning=self.warning,
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("已受理申请 %(number)s。") % {"number": application.number})
        return redirect("applications:detail", pk=application.pk)


class ApplicationDetailView(ApplicationMixin, DetailView):
    template_name = "applications/detail.html"
    context_object_name = "application"

    def get_object(self, queryset=None):
        return self.get_application()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        app: Application = self.object
        user = self.request.user
        ctx["transitions"] = app.transitions.select_related("by")
        from claims import money

        ctx["relief_payment"] = ReliefPayment.objects.filter(application=app).select_related("batch").first()
        ctx["relief_paid"] = money.relief_paid_of(app)
        ctx["documents"] = app.documents.select_related("uploaded_by")
        ctx["assessment"] = HouseholdAssessment.objects.filter(application=app).select_related("assessed_by", "certification").first()
        ctx["can_see_bills"] = selectors.can_see_bills(user)
        if ctx["can_see_bills"]:
            ctx["counted_bills"] = app.counted_bills.select_related("person")
            ctx["extra_bills"] = app.extra_bills.select_related("person")
        is_cw = has_perm(user, "applications.edit")
        ctx["act"] = {
            "send": is_cw and app.status == Status.RECEIVED,
            "assess": has_perm(user, "applications.assess") and app.status == Status.ASSESSING,
            "gather": is_cw and app.status == Status.GATHERING,
            "decide": has_perm(user, "applications.decide") and app.status == Status.REVIEWING,
            "upload": has_perm(user, "applications.document"),
        }
        if ctx["act"]["decide"]:
            refused = ctx["assessment"] is not None and ctx["assessment"].result == AssessmentResult.REFUSED
            # Nothing chosen for the reviewer (issue 18): the assessment result is shown beside the form.
            ctx["decision_form"] = DecisionForm()
            ctx["assessment_refused"] = refused
            ctx["return_form"] = ReturnForm()
            ctx["same_person"] = app.computed_by_id == user.pk
        if ctx["act"]["upload"]:
            ctx["document_form"] = DocumentForm()
        if ctx["can_see_bills"] and hasattr(app, "letters"):  # reports' Letter, when installed
            ctx["letters"] = list(app.letters.order_by("id"))
        return ctx


class _ActionView(ApplicationMixin, View):
    """POST-only step: call the service, report its refusal as a message, back to the detail."""

    success_message = ""

    def act(self, application):  # pragma: no cover - overridden
        raise NotImplementedError

    def confirm(self, application):
        """A confirmation page to show before acting, or None to act at once."""
        return None

    def post(self, request, *args, **kwargs):
        application = self.get_application()
        try:
            if not confirmed(request):
                page = self.confirm(application)
                if page is not None:
                    return page
            self.act(application)
        except ValidationError as exc:
            for message in _errors(exc):
                messages.error(request, message)
        else:
            if self.success_message:
                messages.success(request, self.success_message)
        return HttpResponseRedirect(self.detail_url())


class SendView(_ActionView):
    permission = "applications.edit"
    success_message = gettext_lazy("已转民政部门核对家庭经济状况。")

    def act(self, application):
        services.application_send_to_assessment(application=application, by=self.request.user)


class GatherView(_ActionView):
    permission = "applications.edit"
    success_message = gettext_lazy("已归集计入期间的费用。")

    def act(self, application):
        services.bills_gather(application=application, by=self.request.user)


class ComputeView(_ActionView):
    """Computing and sending to review are two steps (issue 18): the first POST computes in a
    transaction that is rolled back and shows the figure; only 确认 computes and sends."""

    permission = "applications.edit"
    success_message = gettext_lazy("已计算救助金额，转审核。")

    def confirm(self, application):
        class _Preview(Exception):
            pass

        try:
            with transaction.atomic():
                computed = services.relief_compute(application=application, by=self.request.user)
                relief, burden = computed.relief, computed.burden
                raise _Preview
        except _Preview:
            pass
        return confirmation(
            self.request, title=_("救助金额计算结果：%(no)s") % {"no": application.number}, back=self.detail_url(),
            amount=relief, final=False, people=[f"{application.applicant.name}（{application.applicant.masked_id_number}）"],
            lines=[_("计入的个人负担 %(burden)s 元，计算的救助金额 %(relief)s 元。")
                   % {"burden": f"{burden or 0:,.2f}", "relief": f"{relief or 0:,.2f}"},
                   _("确认后提交审核人审核；审核前如需修改，由审核人退回。")],
            confirm_label=_("提交审核"))

    def act(self, application):
        services.relief_compute(application=application, by=self.request.user)


class DecideView(_ActionView):
    permission = "applications.decide"

    def confirm(self, application):
        form = DecisionForm(self.request.POST)
        if not form.is_valid():
            return None  # act() reports the errors
        person = f"{application.applicant.name}（{application.applicant.masked_id_number}）"
        if form.cleaned_data["decision"] == "approve":
            return confirmation(
                self.request, title=_("批准救助：%(no)s") % {"no": application.number}, back=self.detail_url(),
                amount=application.relief, people=[person], confirm_label=_("确认批准"),
                lines=[_("批准依申请救助 %(no)s，救助金额 %(relief)s 元，支付方式：%(route)s。")
                       % {"no": application.number, "relief": f"{application.relief or 0:,.2f}",
                          "route": form.cleaned_data["payment_route"] or "—"},
                       _("向申请人出具编号的救助决定书。")])
        return confirmation(
            self.request, title=_("不予救助：%(no)s") % {"no": application.number}, back=self.detail_url(),
            people=[person], danger=True, confirm_label=_("确认不予救助"),
            lines=[_("对依申请救助 %(no)s 作出不予救助决定，理由：%(reason)s。")
                   % {"no": application.number, "reason": form.cleaned_data["reason"] or "—"},
                   _("向申请人出具编号的不予救助决定书。")])

    def act(self, application):
        form = DecisionForm(self.request.POST)
        if not form.is_valid():
            raise ValidationError([m for errors in form.errors.values() for m in errors])
        approve = form.cleaned_data["decision"] == "approve"
        services.application_decide(application=application, by=self.request.user, approve=approve,
                                    reason=form.cleaned_data["reason"], payment_route=form.cleaned_data["payment_route"])
        messages.success(self.request, _("已批准救助。") if approve else _("已作出不予救助决定。"))


class ReturnView(_ActionView):
    permission = "applications.decide"
    success_message = gettext_lazy("已退回经办人。")

    def act(self, application):
        form = ReturnForm(self.request.POST)
        if not form.is_valid():
            raise ValidationError(_("退回须说明理由。"), code="reason_required")
        services.application_return(application=application, by=self.request.user, note=form.cleaned_data["note"])


class DocumentUploadView(ApplicationMixin, View):
    permission = "applications.document"

    def post(self, request, *args, **kwargs):
        application = self.get_application()
        form = DocumentForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                services.document_attach(application=application, by=request.user, file=form.cleaned_data["file"],
                                         kind=form.cleaned_data["kind"], description=form.cleaned_data["description"])
                messages.success(request, _("材料已上传。"))
            except ValidationError as exc:
                for message in _errors(exc):
                    messages.error(request, message)
        else:
            for name, errors in form.errors.items():
                label = form.fields[name].label if name in form.fields else ""
                for error in errors:
                    messages.error(request, f"{label}：{error}" if label else error)
        return HttpResponseRedirect(self.detail_url())


class DocumentDownloadView(PermissionRequiredMixin, View):
    """Files are served through the scope check, never from a public media URL."""

    permission = "applications.view"

    def get(self, request, pk: int, doc: int):
        document = get_object_or_404(selectors.access_documents(request.user), pk=doc, application_id=pk)
        return FileResponse(document.file.open("rb"), as_attachment=True, filename=document.file.name.rsplit("/", 1)[-1])


class ReceiptDownloadView(PermissionRequiredMixin, View):
    permission = "applications.view"

    def get(self, request, pk: int, extra: int):
        if not selectors.can_see_bills(request.user):
            raise Http404
        application = get_object_or_404(selectors.access_applications(request.user), pk=pk)
        extra_bill = get_object_or_404(application.extra_bills.all(), pk=extra)
        return FileResponse(extra_bill.receipt.open("rb"), as_attachment=True,
                            filename=extra_bill.receipt.name.rsplit("/", 1)[-1])


class AssessView(ApplicationMixin, FormView):
    permission = "applications.assess"
    template_name = "applications/assess.html"
    form_class = AssessmentForm

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        return response

    def get(self, request, *args, **kwargs):
        if self.get_application().status != Status.ASSESSING:
            messages.error(request, _("该申请不在家庭经济状况核对环节。"))
            return HttpResponseRedirect(self.detail_url())
        return super().get(request, *args, **kwargs)

    def get_initial(self):
        return {"members_count": self.get_application().household.members.count() or 1,
                "result": AssessmentResult.CERTIFIED}

    def get_form_kwargs(self):
        from beneficiaries.models import Category

        kwargs = super().get_form_kwargs()
        application = self.get_application()
        codes = services.scheme_categories(services.intake_scheme(application.district, application.received_on)[0])
        names = dict(Category.objects.filter(code__in=codes).values_list("code", "name"))
        kwargs["categories"] = [(code, names.get(code, code)) for code in codes]
        return kwargs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["application"] = self.get_application()
        ctx["members"] = selectors.household_members(self.get_application().household)
        return ctx

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            services.assessment_record(application=self.get_application(), by=self.request.user, **data)
        except ValidationError as exc:
            _apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("已记录家庭经济状况核对结果。"))
        return HttpResponseRedirect(self.detail_url())


class ExtraBillView(ApplicationMixin, FormView):
    permission = "applications.edit"
    template_name = "applications/extra_bill.html"
    form_class = ExtraBillForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["members"] = self.get_application().household.members.order_by("relation", "id")
        return kwargs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["application"] = self.get_application()
        return ctx

    def form_valid(self, form):
        data = dict(form.cleaned_data)
        person, receipt = data.pop("person"), data.pop("receipt")
        try:
            services.extra_bill_add(application=self.get_application(), by=self.request.user, person=person,
                                    receipt=receipt, **data)
        except ValidationError as exc:
            _apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("已添加外地或手工票据。"))
        return HttpResponseRedirect(self.detail_url())


class HouseholdView(ApplicationMixin, DetailView):
    """The household as the application sees it: members, identities, counted bills, computation."""

    template_name = "applications/household.html"
    context_object_name = "application"

    def get_object(self, queryset=None):
        return self.get_application()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        app: Application = self.object
        members = sorted(selectors.household_members(app.household),
                         key=lambda m: (m.pk != app.applicant_id, m.relation != "head", m.pk))
        can_see_bills = selectors.can_see_bills(self.request.user)
        rows_by_person: dict[int, list] = {}
        totals: dict[int, Decimal] = {}
        if can_see_bills:
            for row in app.counted_bills.all():
                rows_by_person.setdefault(row.person_id, []).append(row)
                if row.counted:
                    totals[row.person_id] = totals.get(row.person_id, Decimal("0.00")) + row.burden
        ctx["members"] = [
            {"person": m, "certifications": list(m.certifications.all()), "bills": rows_by_person.get(m.pk, []),
             "counted_total": totals.get(m.pk), "is_patient": m.pk == app.applicant_id}
            for m in members
        ]
        ctx["can_see_bills"] = can_see_bills
        ctx["assessment"] = HouseholdAssessment.objects.filter(application=app).first()
        return ctx
