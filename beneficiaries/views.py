"""Screens of the beneficiaries app. Every queryset comes from ``selectors.access_*``."""
from __future__ import annotations

import hashlib
import secrets
from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from operations.outbox import enqueue
from organizations import search
from organizations.access import scope_for
from organizations.confirm import confirmation, confirmed
from organizations.listing import sort_order
from organizations.models import District, Region
from organizations.permissions import PermissionRequiredMixin
from organizations.selectors import access_districts

from . import exports, imports, selectors, services
from .filters import CertificationFilter, PersonFilter
from .forms import (
    CertificationForm,
    HouseholdMemberForm,
    IdSearchForm,
    PersonEditForm,
    PersonRegisterForm,
    RevealForm,
    RevokeForm,
    RosterUploadForm,
    SubsidyRosterForm,
)
from .imports import error_file_rows
from .models import ImportBatch, ImportSource, ImportStatus


def _apply_errors(form, exc: ValidationError) -> None:
    """Service errors onto the form, each under its field when the form has one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class BeneficiaryViewMixin(PermissionRequiredMixin):
    """Staff with a scope only (superusers included); others get 404 via empty querysets.
    Each view states its permission (organizations/permissions.py)."""

    permission = "persons.view"


# ------------------------------------------------------------------------------------------
# Persons
# ------------------------------------------------------------------------------------------


# Age, not birth date (PIPL): youngest first is the latest birth date first.
PERSON_SORTS = {"registered": "id", "name": "name", "age": "-birth_date", "district": "hukou_district__code"}


class PersonListView(BeneficiaryViewMixin, TemplateView):
    """救助对象查询: by name (GET filter) or by full ID number (POST, never in the URL)."""

    template_name = "beneficiaries/person_list.html"
    paginate_by = 25

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        qs = selectors.person_list(user=user)
        person_filter = PersonFilter(self.request.GET or None, queryset=qs, user=user, districts=access_districts(user))
        # An invalid filter (e.g. a category the user may not see) shows nothing, not everything.
        results = person_filter.qs if (not person_filter.is_bound or person_filter.is_valid()) else qs.none()
        term = search.term_from_request(self.request)
        if term is not None:
            results = results.filter(search.person_filter(term))
        sort = sort_order(self.request.GET.get("sort"), PERSON_SORTS, "-registered")
        results = results.order_by(*sort.order_by)
        page = Paginator(results, self.paginate_by).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx.update({
            "filter": person_filter, "page_obj": page, "search_term": term, "sort": sort, "persons": page.object_list, "querystring": query.urlencode(),
            "id_form": kwargs.get("id_form") or IdSearchForm(), "can_register": selectors.can_register_person(user),
        })
        return ctx

    def post(self, request, *args, **kwargs):
        form = IdSearchForm(request.POST)
        if form.is_valid():
            person = selectors.person_list(user=request.user, id_number=form.cleaned_data["id_number"]).first()
            if person is not None:
                return redirect("beneficiaries:person_detail", pk=person.pk)
            messages.warning(request, _("未找到该身份证号的人员（或不在您的辖区）。"))
            if selectors.can_register_person(request.user):
                messages.info(request, _("如需登记，请使用“登记人员”。"))
        return self.render_to_response(self.get_context_data(id_form=form))


class PersonRegisterView(BeneficiaryViewMixin, View):
    template_name = "beneficiaries/person_form.html"
    permission = "persons.edit"

    def get(self, request):
        return render(request, self.template_name, {"form": PersonRegisterForm(districts=access_districts(request.user))})

    def post(self, request):
        form = PersonRegisterForm(request.POST, districts=access_districts(request.user))
        if form.is_valid():
            data = form.cleaned_data
            try:
                person, warnings = services.person_register(
                    id_number=data["id_number"], name=data["name"], by=request.user,
                    hukou_district=data["hukou_district"], insurance_type=data["insurance_type"],
                    disability_grade=data["disability_grade"], phone=data["phone"], address=data["address"],
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                for warning in warnings:
                    messages.warning(request, warning)
                messages.success(request, _("已登记 %(name)s。") % {"name": person.name})
                return redirect("beneficiaries:person_detail", pk=person.pk)
        return render(request, self.template_name, {"form": form})


class PersonEditView(BeneficiaryViewMixin, View):
    template_name = "beneficiaries/person_edit.html"
    permission = "persons.edit"

    def setup_view(self, request, pk):
        person = _person_or_404(request.user, pk)
        return person, access_districts(request.user) | District.objects.filter(pk=person.hukou_district_id)

    def get(self, request, pk):
        person, districts = self.setup_view(request, pk)
        initial = {name: getattr(person, name) for name in services.PERSON_EDITABLE}
        return render(request, self.template_name, {"person": person, "form": PersonEditForm(initial=initial, districts=districts)})

    def post(self, request, pk):
        person, districts = self.setup_view(request, pk)
        form = PersonEditForm(request.POST, districts=districts)
        if form.is_valid():
            try:
                services.person_update(person=person, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("beneficiaries:person_detail", pk=person.pk)
        return render(request, self.template_name, {"person": person, "form": form})


def _person_or_404(user, pk):
    return get_object_or_404(selectors.access_persons(user), pk=pk)


class PersonDetailView(BeneficiaryViewMixin, View):
    """人员详情: identity timeline (ended greyed), household, best benefit for medical security."""

    template_name = "beneficiaries/person_detail.html"

    def context(self, request, person, **extra):
        user = request.user
        certs = selectors.person_certifications(user=user, person=person)
        agency = selectors.agency_of(user)
        own_kinds = {agency.kind} if agency else set()
        today = timezone.localdate()
        ctx = {
            "person": person, "certifications": certs, "today": today,
            "household_members": selectors.household_members(household=person.household, user=user) if person.household_id else [],
            "can_reveal": selectors.can_reveal_id(user), "reveal_form": RevealForm(),
            "can_certify": selectors.can_certify(user) and selectors.certifiable_categories(agency.kind if agency else None).exists(),
            "revocable": {c.pk for c in certs if (user.is_superuser or (selectors.can_certify(user) and c.category.certifiable_by(agency.kind)))
                          and (c.valid_until is None or c.valid_until >= today)} if (agency or user.is_superuser) else set(),
            "can_edit_household": selectors.can_register_person(user),
            "member_form": HouseholdMemberForm(),
            "is_medsec": selectors.is_medsec(user) or user.is_superuser,
            "timeline": _timeline(certs, today),
            "own_kinds": own_kinds,
        }
        ctx["household_outside"] = selectors.household_members_outside(
            household=person.household, user=user, shown=len(ctx["household_members"])) if person.household_id else 0
        if ctx["is_medsec"]:
            try:
                ctx["benefits"], ctx["benefit_policy"] = selectors.identity_benefits(person=person, certifications=certs, on=today)
            except Exception as exc:  # noqa: BLE001 - a policy that does not validate must not hide the person
                ctx["benefits"], ctx["benefit_policy"] = [], None
                ctx["benefit_error"] = str(exc)
        ctx.update(extra)
        return ctx

    def get(self, request, pk):
        person = _person_or_404(request.user, pk)
        return render(request, self.template_name, self.context(request, person))


def _timeline(certs, today):
    """Bars for the identity timeline: each certification as a share of the whole span."""
    if not certs:
        return {"rows": [], "start": None, "end": None}
    start = min(c.valid_from for c in certs)
    end = max([today] + [c.valid_until or today for c in certs])
    span = max((end - start).days, 1)
    rows = []
    for c in certs:
        until = c.valid_until or end
        rows.append({
            "cert": c, "left": round((c.valid_from - start).days * 100 / span, 2),
            "width": max(round(((until - c.valid_from).days + 1) * 100 / span, 2), 1.0),
            "active": c.is_active_on(today), "ended": c.valid_until is not None and c.valid_until < today,
        })
    return {"rows": rows, "start": start, "end": end}


class PersonRevealView(PersonDetailView):
    """POST only: shows the full ID number once, in the response body; logged (IdRevealLog)."""

    post_permission = "persons.reveal"

    def get(self, request, pk):
        return redirect("beneficiaries:person_detail", pk=pk)

    def post(self, request, pk):
        person = _person_or_404(request.user, pk)
        form = RevealForm(request.POST)
        if not form.is_valid():  # no purpose chosen: the page again, with the reason, nothing shown
            response = render(request, self.template_name, self.context(request, person, reveal_form=form), status=400)
            return response
        number = services.id_number_reveal(user=request.user, person=person, purpose=form.cleaned_data["purpose"],
                                           note=form.cleaned_data["note"], request=request)
        response = render(request, self.template_name, self.context(request, person, revealed_id=number))
        response["Cache-Control"] = "no-store"
        return response


class HouseholdCreateView(BeneficiaryViewMixin, View):
    permission = "households.edit"

    def post(self, request, pk):
        person = _person_or_404(request.user, pk)
        try:
            services.household_create(head=person, by=request.user)
            messages.success(request, _("已建立家庭，%(name)s为户主。") % {"name": person.name})
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        return redirect("beneficiaries:person_detail", pk=person.pk)


class HouseholdMemberAddView(BeneficiaryViewMixin, View):
    permission = "households.edit"

    def post(self, request, pk):
        person = _person_or_404(request.user, pk)
        if person.household_id is None:
            raise PermissionDenied
        form = HouseholdMemberForm(request.POST)
        if form.is_valid():
            member = selectors.access_persons(request.user).filter(id_number=form.cleaned_data["id_number"]).first()
            if member is None:
                messages.error(request, _("未找到该身份证号的人员（须先登记，且在您的辖区）。"))
            else:
                try:
                    services.household_add_member(household=person.household, person=member,
                                                  relation=form.cleaned_data["relation"], by=request.user)
                    messages.success(request, _("已将%(name)s加入家庭。") % {"name": member.name})
                except ValidationError as exc:
                    messages.error(request, "; ".join(exc.messages))
        else:
            for errors in form.errors.values():
                messages.error(request, "; ".join(errors))
        return redirect("beneficiaries:person_detail", pk=person.pk)


class HouseholdMemberRemoveView(BeneficiaryViewMixin, View):
    """移出家庭: the member leaves (history keeps the membership); the head only when alone."""

    permission = "households.edit"

    def post(self, request, pk, member_pk):
        person = _person_or_404(request.user, pk)
        if person.household_id is None:
            raise PermissionDenied
        member = get_object_or_404(selectors.access_persons(request.user), pk=member_pk, household_id=person.household_id)
        try:
            services.household_remove_member(person=member, by=request.user)
            messages.success(request, _("已将%(name)s移出家庭。") % {"name": member.name})
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        return redirect("beneficiaries:person_detail", pk=person.pk)


# ------------------------------------------------------------------------------------------
# Certifications
# ------------------------------------------------------------------------------------------


class CertifyView(BeneficiaryViewMixin, View):
    """添加认定: the category list and the server-side check both come from the user's agency."""

    template_name = "beneficiaries/certification_form.html"
    permission = "certifications.certify"

    def setup_view(self, request, pk):
        person = _person_or_404(request.user, pk)
        agency = selectors.agency_of(request.user)
        if agency is None:
            raise PermissionDenied  # certifies in the name of an agency
        categories = selectors.certifiable_categories(agency.kind)
        if not categories.exists():
            raise PermissionDenied
        # only the categories the region's policy in force maps (POLICY.md §9); say why others are not offered
        from django.utils import timezone

        from policies.selectors import region_categories

        policy, mapped = region_categories(region=person.hukou_district.region_id, on=timezone.localdate())
        self.refused = []
        if mapped is not None:
            self.refused = [c.name for c in categories if c.code not in mapped]
            categories = categories.filter(code__in=mapped)
        self.policy = policy
        return person, agency, categories

    def _context(self, person, agency, form):
        return {"person": person, "agency": agency, "form": form, "refused_categories": self.refused,
                "category_policy": self.policy}

    def get(self, request, pk):
        person, agency, categories = self.setup_view(request, pk)
        return render(request, self.template_name, self._context(person, agency, CertificationForm(categories=categories)))

    def post(self, request, pk):
        person, agency, categories = self.setup_view(request, pk)
        form = CertificationForm(request.POST, categories=categories)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.certification_create(
                    person=person, category=data["category"], agency=agency, officer=request.user,
                    valid_from=data["valid_from"], valid_until=data["valid_until"], document_ref=data["document_ref"],
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("已认定 %(name)s 为“%(cat)s”。") % {"name": person.name, "cat": data["category"].name})
                return redirect("beneficiaries:person_detail", pk=person.pk)
        return render(request, self.template_name, self._context(person, agency, form))


class RevokeView(BeneficiaryViewMixin, View):
    template_name = "beneficiaries/revoke_form.html"
    permission = "certifications.certify"

    def get_cert(self, request, pk):
        cert = get_object_or_404(selectors.access_certifications(request.user), pk=pk)
        if not request.user.is_superuser:
            agency = selectors.agency_of(request.user)
            if agency is None or not cert.category.certifiable_by(agency.kind):
                raise PermissionDenied  # no agency, or another agency's category
        return cert

    def get(self, request, pk):
        cert = self.get_cert(request, pk)
        return render(request, self.template_name, {"cert": cert, "form": RevokeForm()})

    def post(self, request, pk):
        cert = self.get_cert(request, pk)
        form = RevokeForm(request.POST)
        if form.is_valid() and not confirmed(request):
            until, old = form.cleaned_data["until"], cert.valid_until
            lines = [_("终止 %(name)s 的“%(cat)s”认定，终止日期 %(until)s（原为 %(old)s）。")
                     % {"name": cert.person.name, "cat": cert.category.name, "until": until.isoformat(),
                        "old": old.isoformat() if old else _("长期")},
                     _("终止日期之后结算的费用不再按此身份救助；已计算的费用会重算，已支付的差额记为多付待核。")]
            if old is not None and until < old:
                lines.append(_("注意：终止日期早于原定终止日期。"))
            return confirmation(request, title=_("终止认定"), back=request.get_full_path(), danger=True, lines=lines,
                                people=[f"{cert.person.name}（{cert.person.masked_id_number}）"], confirm_label=_("确认终止"))
        if form.is_valid():
            try:
                services.certification_revoke(certification=cert, until=form.cleaned_data["until"],
                                              reason=form.cleaned_data["reason"], by=request.user)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("已终止“%(cat)s”认定。") % {"cat": cert.category.name})
                return redirect("beneficiaries:person_detail", pk=cert.person_id)
        return render(request, self.template_name, {"cert": cert, "form": form})


class CertificationListView(BeneficiaryViewMixin, TemplateView):
    """认定名单: a certifier sees own-kind categories; 30-day due list for renewals."""

    template_name = "beneficiaries/certification_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        qs = selectors.access_certifications(user).select_related("person__hukou_district").order_by("-valid_from", "-pk")
        agency = selectors.agency_of(user)
        categories = None
        if agency is not None and not (selectors.is_medsec(user) or user.is_superuser):
            categories = selectors.certifiable_categories(agency.kind)
        cert_filter = CertificationFilter(self.request.GET or None, queryset=qs, categories=categories)
        page = Paginator(cert_filter.qs, 50).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx.update({"filter": cert_filter, "page_obj": page, "certifications": page.object_list,
                    "querystring": query.urlencode(), "today": timezone.localdate()})
        return ctx


# ------------------------------------------------------------------------------------------
# Roster import (名单导入)
# ------------------------------------------------------------------------------------------


class ImportListView(BeneficiaryViewMixin, View):
    template_name = "beneficiaries/import_list.html"
    post_permission = "imports.roster"

    def render_page(self, request, form):
        batches = selectors.access_import_batches(request.user)[:50]
        return render(request, self.template_name, {"form": form, "batches": batches,
                                                    "can_import": selectors.can_import(request.user)})

    def get(self, request):
        return self.render_page(request, RosterUploadForm())

    def post(self, request):
        form = RosterUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_page(request, form)
        if not imports.preview_allowed(request.user):
            form.add_error(None, _("预览过于频繁，请一分钟后再试。"))
            return self.render_page(request, form)
        upload = form.cleaned_data["file"]
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        agency = selectors.agency_of(request.user)  # always the user's own agency, never from POST
        with transaction.atomic():
            batch = ImportBatch(
                agency=agency, uploaded_by=request.user, source=ImportSource.WEB, file_name=upload.name[:200],
                sha256=digest.hexdigest(), roster_date=form.cleaned_data["roster_date"],
                revoke_missing=form.cleaned_data["revoke_missing"],
            )
            # Unguessable stored name (the file holds full ID numbers); the original name is kept on the batch.
            suffix = ".xlsx" if upload.name.lower().endswith(".xlsx") else ".csv"
            batch.file.save(f"{agency.code}-{timezone.now():%Y%m%d%H%M%S}-{secrets.token_hex(8)}{suffix}", upload, save=False)
            batch.save()
            imports.log_preview(batch=batch, user=request.user, request=request)
            from .tasks import validate_roster

            enqueue(validate_roster, batch.pk)
        return redirect("beneficiaries:import_detail", pk=batch.pk)


def _batch_or_404(user, pk):
    return get_object_or_404(selectors.access_import_batches(user), pk=pk)


class ImportDetailView(BeneficiaryViewMixin, View):
    template_name = "beneficiaries/import_detail.html"

    def get(self, request, pk):
        batch = _batch_or_404(request.user, pk)
        previous = (ImportBatch.objects.filter(agency=batch.agency, sha256=batch.sha256, status=ImportStatus.APPLIED)
                    .exclude(pk=batch.pk).order_by("-applied_at").first())
        return render(request, self.template_name, {
            "batch": batch, "errors": batch.errors[:200], "previous": previous,
            "can_confirm": selectors.can_import(request.user) and batch.status == ImportStatus.PREVIEWED,
        })


class ImportConfirmView(BeneficiaryViewMixin, View):
    permission = "imports.roster"

    def post(self, request, pk):
        with transaction.atomic():
            batch = get_object_or_404(selectors.access_import_batches(request.user).select_for_update(of=("self",)), pk=pk)
            if batch.status != ImportStatus.PREVIEWED:
                messages.error(request, _("该批次当前状态不能确认导入。"))
                return redirect("beneficiaries:import_detail", pk=batch.pk)
            if batch.revoked_count and not confirmed(request):
                earlier = [e for e in batch.endings if e.get("earlier")]
                lines = [_("导入后将终止 %(n)s 个认定（%(p)s 人），明细见预览表。")
                         % {"n": batch.revoked_count, "p": len({e["person"] for e in batch.endings})}]
                if earlier:
                    lines.append(_("其中 %(n)s 个认定的终止日期将提前：%(items)s。") % {"n": len(earlier), "items": "；".join(
                        f"{e['name']} {e['category']} {e['old_until']} → {e['new_until']}" for e in earlier[:20])})
                lines.append(_("终止的认定日后计算的结算单不再享受救助；已作出的决定会重算。"))
                return confirmation(
                    request, title=_("确认导入并终止认定"), back=reverse("beneficiaries:import_detail", args=[batch.pk]),
                    danger=True, lines=lines, confirm_label=_("确认导入并终止"),
                    people=sorted({f"{e['name']}（{e['id_masked']}）" for e in batch.endings}))
            imports.batch_confirm(batch=batch, by=request.user)
        return redirect("beneficiaries:import_detail", pk=batch.pk)


class ImportCancelView(BeneficiaryViewMixin, View):
    permission = "imports.roster"

    def post(self, request, pk):
        batch = _batch_or_404(request.user, pk)
        if batch.status in (ImportStatus.PREVIEWED, ImportStatus.FAILED):
            batch.status = ImportStatus.CANCELLED
            batch.save(update_fields=["status"])
            messages.info(request, _("已取消该批次，未写入任何数据。"))
        return redirect("beneficiaries:import_list")


class ImportProgressView(BeneficiaryViewMixin, View):
    """JSON for the progress bar (polled)."""

    def get(self, request, pk):
        batch = _batch_or_404(request.user, pk)
        return JsonResponse({
            "status": batch.status, "status_label": batch.get_status_display(), "running": batch.running,
            "processed": batch.processed_rows, "total": batch.total_rows, "percent": batch.progress_percent,
        })


class ImportErrorsView(BeneficiaryViewMixin, View):
    """Rejected rows as CSV (formula-escaped, ID numbers masked; the line number locates the row)."""

    def get(self, request, pk):
        batch = _batch_or_404(request.user, pk)
        return exports.csv_response(error_file_rows(batch.errors), f"roster-{batch.pk}-errors.csv")


class RosterTemplateView(BeneficiaryViewMixin, View):
    def get(self, request):
        from .imports import CHINESE_HEADERS

        return exports.csv_response([list(CHINESE_HEADERS)], "roster-template.csv")


# ------------------------------------------------------------------------------------------
# Premium subsidy roster (资助参保名单)
# ------------------------------------------------------------------------------------------


class SubsidyRosterView(BeneficiaryViewMixin, View):
    template_name = "beneficiaries/subsidy_roster.html"
    permission = "persons.export_subsidy"

    def get(self, request):
        user = request.user
        scope = scope_for(user)
        # Region-scoped staff see their own region; users without one (superusers) choose.
        regions = None if scope.region_id else Region.objects.order_by("code")
        default_region = (Region.objects.filter(pk=scope.region_id).first() if scope.region_id
                          else regions.first())
        if default_region is None:
            raise Http404
        form = SubsidyRosterForm(request.GET or {"year": timezone.localdate().year, "region": default_region.pk},
                                 regions=regions)
        valid = form.is_valid()
        year = form.cleaned_data["year"] if valid else timezone.localdate().year
        region = (form.cleaned_data.get("region") if valid else None) or default_region
        rows = selectors.premium_subsidy_roster(user=user, region=region, year=year)
        fmt = request.GET.get("format")
        if fmt == "csv":
            return exports.csv_response(exports.subsidy_roster_rows(rows, year=year), f"premium-subsidy-{year}.csv")
        if fmt == "xlsx":
            return exports.xlsx_response(exports.subsidy_roster_rows(rows, year=year), f"premium-subsidy-{year}.xlsx",
                                         sheet_title=f"资助参保{year}")
        from policies.selectors import policy_in_force, spec_of

        policy = policy_in_force(region=region, on=date(year, 1, 1)) or policy_in_force(region=region, on=date(year, 12, 31))
        has_rules, timing = False, None
        if policy is not None:
            try:
                subsidies = spec_of(policy).premium_subsidies
                has_rules, timing = bool(subsidies.rules), subsidies.timing
            except Exception:  # noqa: BLE001 - an invalid policy shows as "no rules"
                has_rules, timing = False, None
        total = sum((r.amount for r in rows if r.amount is not None), start=Decimal("0.00"))
        missing_contribution = bool(rows) and rows[0].contribution is None
        return render(request, self.template_name, {"form": form, "rows": rows, "year": year, "region": region,
                                                    "total": total, "missing_contribution": missing_contribution,
                                                    "policy": policy, "has_rules": has_rules, "timing": timing})

