from django.contrib import admin

from .models import PolicyDraft, SimulationRun


@admin.register(PolicyDraft)
class PolicyDraftAdmin(admin.ModelAdmin):
    list_display = ("scenario", "base", "region", "created_by", "updated_at")
    readonly_fields = ("base", "region", "rules", "created_by", "created_at", "updated_at")


@admin.register(SimulationRun)
class SimulationRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "draft", "region", "district", "period_start", "period_end", "status", "created_at")
    readonly_fields = [f.name for f in SimulationRun._meta.fields]
