"""Screens of the what-if simulation (政策测算). Every object comes through an ``access_*`` selector
(404 outside scope); writes go through services (administrators only)."""
from __future__ import annotations

import io
import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View

from organizations.permissions import PermissionRequiredMixin, has_perm
from policies.views import StructuredEditView

from . import replay, services
from .forms import CompareForm, DraftCreateForm, DraftEditForm, DraftStructuredForm, RunForm
from .results import compare_rows, explanation_pairs, run_results
from .selectors import access_drafts, access_person_years, access_runs

logger = logging.getLogger(__name__)


def _admin(user) -> bool:
    return has_perm(user, "simulation.run")


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class IndexView(PermissionRequiredMixin, View):
    permission = "simulation.view"
    post_permission = "simulation.run"

    def get(self, request):
        return self.render(request, DraftCreateForm(user=request.user))

    def post(self, request):
        form = DraftCreateForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                draft = services.draft_create(base=form.cleaned_data["base"], scenario=form.cleaned_data["scenario"],
                                              by=request.user)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("已复制为草拟版本，可修改后发起测算。草拟版本不会用于任何实际决定、文书或支付。"))
                return redirect("simulation:draft", pk=draft.pk)
        return self.render(request, form)

    def render(self, request, form):
        runs = access_runs(request.user)[:50]
        return render(request, "simulation/index.html", {
            "drafts": access_drafts(request.user)[:100], "runs": runs, "form": form, "can_edit": _admin(request.user),
            "compare_form": CompareForm(runs=access_runs(request.user).filter(status="succeeded"))})


class DraftView(PermissionRequiredMixin, View):
    permission = "simulation.view"
    post_permission = "simulation.run"

    def get_draft(self, request, pk):
        return get_object_or_404(access_drafts(request.user), pk=pk)

    def get(self, request, pk):
        draft = self.get_draft(request, pk)
        form = DraftEditForm(initial={"scenario": draft.scenario, "note": draft.note, "rules": draft.rules})
        return self.render(request, draft, form, RunForm(user=request.user, region_id=draft.region_id))

    def post(self, request, pk):
        draft = self.get_draft(request, pk)
        edit = DraftEditForm(initial={"scenario": draft.scenario, "note": draft.note, "rules": draft.rules})
        run_form = RunForm(user=request.user, region_id=draft.region_id)
        if "start_run" in request.POST:
            run_form = RunForm(request.POST, user=request.user, region_id=draft.region_id)
            if run_form.is_valid():
                try:
                    run = services.run_create(draft=draft, by=request.user, **run_form.cleaned_data)
                except ValidationError as exc:
                    _form_errors(run_form, exc)
                else:
                    messages.success(request, _("测算已排队，完成后显示结果。"))
                    return redirect("simulation:run", pk=run.pk)
        else:
            edit = DraftEditForm(request.POST)
            if edit.is_valid():
                try:
                    services.draft_update(draft=draft, by=request.user, **edit.cleaned_data)
                except ValidationError as exc:
                    _form_errors(edit, exc)
                else:
                    messages.success(request, _("草拟规则已保存（计算引擎校验通过）。"))
                    return redirect("simulation:draft", pk=draft.pk)
        return self.render(request, draft, edit, run_form)

    def render(self, request, draft, form, run_form):
        from policies.selectors import describe_policy

        try:
            described = describe_policy(replay.draft_spec_for_period(draft.rules, start=draft.base.effective_from))
        except Exception:  # noqa: BLE001 - the editor shows the engine's message on save
            described = None
        return render(request, "simulation/draft.html", {
            "draft": draft, "form": form, "run_form": run_form, "d": described, "can_edit": _admin(request.user),
            "runs": access_runs(request.user).filter(draft=draft)[:20]})


class RunView(PermissionRequiredMixin, View):
    permission = "simulation.view"

    def get(self, request, pk):
        run = get_object_or_404(access_runs(request.user), pk=pk)
        ctx = run_results(run, request.user) if run.status == run.Status.SUCCEEDED else {"run": run}
        return render(request, "simulation/run.html", ctx)


class RunProgressView(PermissionRequiredMixin, View):
    permission = "simulation.view"

    def get(self, request, pk):
        run = get_object_or_404(access_runs(request.user), pk=pk)
        return JsonResponse({"status": run.status, "progress": run.progress, "chunks_done": run.chunks_done,
                             "chunks_total": run.chunks_total, "error": run.error if run.status == "failed" else ""})


def _succeeded(request, pk):
    return get_object_or_404(access_runs(request.user).filter(status="succeeded"), pk=pk)


class RunPdfView(PermissionRequiredMixin, View):
    permission = "simulation.view"

    def get(self, request, pk):
        from reports.charts import chart_svg
        from reports.pdf import html_to_pdf

        run = _succeeded(request, pk)
        ctx = run_results(run, request.user)
        ctx["month_svg"] = chart_svg({**ctx["month_chart"], "type": "bar"})
        ctx["histogram_svg"] = chart_svg({**ctx["histogram_chart"], "labels": [h["short"] for h in ctx["histogram"]]})
        ctx["printed_at"] = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        ctx["user_label"] = request.user.get_full_name() or request.user.get_username()
        logger.info("simulation export pdf run=%s user=%s", run.pk, request.user.pk)
        pdf = html_to_pdf(render_to_string("simulation/run_pdf.html", ctx, request=request))
        resp = HttpResponse(pdf, content_type="application/pdf")
        resp["Content-Disposition"] = f'inline; filename="simulation-{run.pk}.pdf"'
        return resp


class RunXlsxView(PermissionRequiredMixin, View):
    permission = "simulation.view"

    def get(self, request, pk):
        import openpyxl

        from organizations.exports import safe_cell

        run = _succeeded(request, pk)
        ctx = run_results(run, request.user)
        t = ctx["totals"]
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = _("汇总")
        for label, value in [(_("测算方案"), run.draft.scenario), (_("测算期间"), f"{run.period_start} – {run.period_end}"),
                             (_("现行政策救助总额"), t["base"]), (_("草拟政策救助总额"), t["draft"]), (_("差额"), t["diff"]),
                             (_("人年数"), t["person_years"]), (_("结算单数"), t["bills"]), (_("增加人数"), t["gainers"]),
                             (_("减少人数"), t["losers"]), (_("新达到封顶人数"), t["newly_capped"]),
                             (_("依申请救助（现行）"), ctx["applications"]["base"]),
                             (_("依申请救助（草拟）"), ctx["applications"]["draft"])]:
            sheet.append([safe_cell(label), safe_cell(value)])
        cells = book.create_sheet(_("区县×类别×就诊类别"))
        cells.append([_("区县"), _("救助对象类别"), _("就诊类别"), _("现行政策"), _("草拟政策"), _("差额"), _("现行笔数"), _("草拟笔数")])
        for r in ctx["rows"]:
            cells.append([safe_cell(v) for v in (r["district"], r["category"], r["visit_class"], r["base"], r["draft"], r["diff"],
                                                 r["base_bills"], r["draft_bills"])])
        months = book.create_sheet(_("月度支出"))
        months.append([_("月份"), _("现行政策"), _("草拟政策")])
        for m in ctx["months"]:
            months.append([m["month"], m["base"], m["draft"]])
        dist = book.create_sheet(_("变化分布"))
        dist.append([_("变化（元）"), _("人数")])
        for h in ctx["histogram"]:
            dist.append([safe_cell(h["label"]), h["people"]])
        losers = book.create_sheet(_("减少最多的20人"))
        losers.append([_("姓名"), _("身份证号（脱敏）"), _("区县"), _("年度"), _("现行政策"), _("草拟政策"), _("差额")])
        for py in ctx["losers"]:
            losers.append([safe_cell(v) for v in (py.person.name, py.person.masked_id_number, py.district.name, py.year,
                                                 py.base_total, py.draft_total, py.difference)])
        buf = io.BytesIO()
        book.save(buf)
        logger.info("simulation export xlsx run=%s user=%s", run.pk, request.user.pk)
        resp = HttpResponse(buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        resp["Content-Disposition"] = f'attachment; filename="simulation-{run.pk}.xlsx"'
        return resp


class PersonView(PermissionRequiredMixin, View):
    """One person-year's bills: the explanation now and under the draft, side by side, clause by clause."""

    permission = "simulation.view"

    def get(self, request, pk, person_id):
        from claims.recalc import B_END, B_ID

        run = _succeeded(request, pk)
        py = get_object_or_404(access_person_years(request.user, run), person_id=person_id,
                               year=request.GET.get("year") or run.period_end.year)
        spec = replay.draft_spec_for_period(run.draft.rules, start=run.period_start)
        replays = replay.replay_people(region_id=run.region_id, district_id=run.district_id, start=run.period_start,
                                       end=run.period_end, draft_spec=spec, lo=person_id, hi=person_id, person_ids=[person_id])
        year = next((r for r in replays if r.year == py.year), None)
        bills = []
        if year is not None:
            from claims.models import Bill

            numbers = dict(Bill.objects.filter(pk__in=[row[B_ID] for row in year.rows]).values_list("pk", "settlement_no"))
            for row, base, draft, policy in zip(year.rows, year.base, year.draft, year.base_policies, strict=True):
                bills.append({"id": row[B_ID], "number": numbers.get(row[B_ID], ""), "end": row[B_END], "base": base,
                              "draft": draft, "policy": policy, "pairs": explanation_pairs(base, draft)})
        return render(request, "simulation/person.html", {"run": run, "py": py, "year": year, "bills": bills})


class CompareView(PermissionRequiredMixin, View):
    """Two drafts side by side (two runs, each with its own now)."""

    permission = "simulation.view"

    def get(self, request):
        runs = access_runs(request.user).filter(status="succeeded")
        form = CompareForm(request.GET or None, runs=runs)
        ctx = {"form": form}
        if form.is_valid():
            a, b = form.cleaned_data["a"], form.cleaned_data["b"]
            ctx.update({"a": a, "b": b, "rows": compare_rows(a, b),
                        "same_period": (a.period_start, a.period_end, a.district_id) == (b.period_start, b.period_end, b.district_id),
                        "ra": run_results(a, request.user)["totals"], "rb": run_results(b, request.user)["totals"]})
        return render(request, "simulation/compare.html", ctx)


class DraftStructuredEditView(StructuredEditView):
    """The structured editor on a draft: the diff is against the version it was copied from."""

    permission = "simulation.run"

    saved_message = _lazy("草拟规则已保存（计算引擎校验通过）。")

    def get_object(self, request, pk):
        return get_object_or_404(access_drafts(request.user).select_related("base"), pk=pk)

    def check_permission(self, request, obj):
        if not _admin(request.user):
            raise PermissionDenied(_("只有系统管理员可以草拟政策和发起测算。"))

    def make_form(self, request, obj, data=None):
        return DraftStructuredForm(data, draft=obj)

    def in_force(self, request, obj):
        base = obj.base
        return base, _("复制的现行版本 v%(version)s（%(from)s 起）") % {"version": base.version,
                                                                   "from": base.effective_from.isoformat()}

    def save(self, request, obj, form):
        data = form.cleaned_data
        services.draft_update(draft=obj, rules=data["rules"], scenario=data["scenario"], note=data["note"],
                              by=request.user)
        return reverse("simulation:draft", args=[obj.pk])

    def context(self, request, obj):
        return {"title": obj.scenario, "kind": "draft", "cancel_url": reverse("simulation:draft", args=[obj.pk]),
                "json_url": reverse("simulation:draft", args=[obj.pk]) + "#draft-form"}
