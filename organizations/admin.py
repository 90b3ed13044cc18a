from django.contrib import admin

from .models import Agency, District, Institution, Region, RegionStatistic, StaffProfile


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "short_name")
    search_fields = ("code", "name")


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "short_name", "region")
    list_filter = ("region",)
    search_fields = ("code", "name")


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "region", "district")
    list_filter = ("kind", "region", "district")
    search_fields = ("code", "name")


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "agency", "district", "title")
    list_filter = ("agency__kind", "district")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user", "agency")


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "district", "designated", "in_province")
    list_filter = ("level", "designated", "district")
    search_fields = ("code", "name")


@admin.register(RegionStatistic)
class RegionStatisticAdmin(admin.ModelAdmin):
    list_display = ("region", "year", "per_capita_disposable_income", "resident_contribution")
    list_filter = ("region",)
