"""Screens: the early-warning queue for civil affairs, and the recalculation runs (city level)."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views import View

from beneficiaries.models import Person, Relation
from organizations.permissions import PermissionRequiredMixin, has_perm

from . import selectors, services
from .filters import RunFilter, WarningFilter
from .forms import DismissForm, StartRunForm
from .models import RunTrigger, WarningStatus

PAGE_SIZE = 25


def _querystring(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _head_name():
    return Subquery(
        Person.objects.filter(household=OuterRef("household_id"), relation=Relation.HEAD).values("name")[:1]
    )


def application_url_for(warning) -> str | None:
    """``applications:create_from_warning`` if the applications app provides it, else None."""
    try:
        return reverse("applications:create_from_warning", kwargs={"pk": warning.pk})
    except NoReverseMatch:
        try:
            return reverse("applications:create_from_warning", args=[warning.pk])
        except NoReverseMatch:
            return None


class WarningListView(PermissionRequiredMixin, View):
    """预警队列: the landing page of the app."""

    permission = "warnings.view"

    def get(self, request):
        qs = selectors.access_warnings(request.user).annotate(head_name=_head_name())
        data = request.GET.copy()
        if "status" not in data:
            data["status"] = WarningStatus.OPEN
        warning_filter = WarningFilter(data, queryset=qs)
        page = Paginator(warning_filter.qs.order_by("-year", "-burden", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "monitoring/warning_list.html", {
            "filter": warning_filter, "page_obj": page, "warnings": page.object_list,
            "querystring": _querystring(request), "last_run": selectors.last_run(request.user),
            "can_see_runs": selectors.can_see_runs(request.user),
        })


class WarningDetailView(PermissionRequiredMixin, View):
    permission = "warnings.view"

    def get_warning(self, request, pk):
        return get_object_or_404(selectors.access_warnings(request.user), pk=pk)

    def context(self, request, warning, form=None):
        members = list(
            Person.objects.filter(household_id=warning.household_id)
            .select_related("hukou_district").prefetch_related("certifications__category").order_by("id")
        )
        head = next((m for m in members if m.relation == Relation.HEAD), members[0] if members else None)
        return {
            "warning": warning, "members": members, "head": head,
            "form": form or DismissForm(),
            "can_handle": has_perm(request.user, "warnings.dismiss") and warning.status == WarningStatus.OPEN,
            "application_url": application_url_for(warning) if warning.status == WarningStatus.OPEN else None,
            # Only caseworkers may start an application (applications:create_from_warning is theirs)
            "can_apply": has_perm(request.user, "applications.edit"),
        }

    def get(self, request, pk):
        warning = self.get_warning(request, pk)
        return render(request, "monitoring/warning_detail.html", self.context(request, warning))


class WarningDismissView(WarningDetailView):
    post_permission = "warnings.dismiss"

    def post(self, request, pk):
        warning = self.get_warning(request, pk)
        form = DismissForm(request.POST)
        if form.is_valid():
            try:
                services.warning_dismiss(warning=warning, by=request.user, note=form.cleaned_data["note"])
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.error_dict.items():
                        for error in errors:
                            form.add_error(field if field in form.fields else None, error)
                else:
                    form.add_error(None, exc)
            else:
                messages.success(request, _("预警已排除。同一家庭同一年度不会再次生成该预警。"))
                return redirect("monitoring:warning_detail", pk=warning.pk)
        return render(request, "monitoring/warning_detail.html", self.context(request, warning, form), status=400)


class RunListView(PermissionRequiredMixin, View):
    permission = "runs.view"

    def get(self, request):
        if not selectors.can_see_runs(request.user):
            raise Http404
        run_filter = RunFilter(request.GET, queryset=selectors.access_runs(request.user))
        page = Paginator(run_filter.qs.order_by("-started_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "monitoring/run_list.html", {
            "filter": run_filter, "page_obj": page, "runs": page.object_list, "querystring": _querystring(request),
            "can_start": can_start_runs(request.user), "start_form": StartRunForm(),
        })


def can_start_runs(user) -> bool:
    return has_perm(user, "runs.start")


class RunStartView(PermissionRequiredMixin, View):
    permission = "runs.start"

    def post(self, request):
        if not selectors.can_see_runs(request.user):  # city-level: a run is not a district's
            raise PermissionDenied
        form = StartRunForm(request.POST)
        form.is_valid()
        from .tasks import start_run

        with transaction.atomic():
            run = services.run_create(full=form.cleaned_data.get("full", False),
                                      dry_run=form.cleaned_data.get("dry_run", False),
                                      trigger=RunTrigger.MANUAL, by=request.user)
            start_run(run)
        messages.success(request, _("重算 #%(pk)s 已开始。") % {"pk": run.pk})
        return redirect("monitoring:run_detail", pk=run.pk)


class RunDetailView(PermissionRequiredMixin, View):
    permission = "runs.view"

    def get(self, request, pk):
        run = get_object_or_404(selectors.access_runs(request.user), pk=pk)
        chunks = list(run.chunks.order_by("index")[:500])
        return render(request, "monitoring/run_detail.html", {
            "run": run, "chunks": chunks, "chunks_failed": sum(1 for c in chunks if c.status == "failed"),
        })


class RunProgressView(PermissionRequiredMixin, View):
    """JSON for the progress bar (polled while a run is running)."""

    permission = "runs.view"

    def get(self, request, pk):
        run = get_object_or_404(selectors.access_runs(request.user), pk=pk)
        return JsonResponse({
            "status": run.status, "status_label": run.get_status_display(), "chunks_done": run.chunks_done,
            "chunks_total": run.chunks_total, "percent": run.progress_percent,
            "person_years": run.person_years_total, "bills_changed": run.bills_changed,
            "adjustments": run.adjustments_created, "warnings": run.warnings_created,
            "violations": len(run.invariant_violations), "errors": len(run.errors),
        })


IndexView = WarningListView
