from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from . import roles
from .models import Agency, District, Institution, Region, RegionStatistic, StaffProfile

admin.site.site_header = _("医疗救助经办系统 管理后台")
admin.site.site_title = _("医疗救助经办系统")
admin.site.index_title = _("系统管理")


class DistrictInline(admin.TabularInline):
    model = District
    extra = 0
    fields = ("code", "name", "short_name")
    show_change_link = True


class RegionStatisticInline(admin.TabularInline):
    model = RegionStatistic
    extra = 0
    fields = ("year", "per_capita_disposable_income", "resident_contribution")


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "short_name", "district_count")
    search_fields = ("code", "name")
    inlines = [DistrictInline, RegionStatisticInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_district_count=Count("districts"))

    @admin.display(description=_("区县数"), ordering="_district_count")
    def district_count(self, obj):
        return obj._district_count


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "short_name", "region", "staff_count")
    list_filter = ("region",)
    search_fields = ("code", "name", "short_name")
    list_select_related = ("region",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_staff_count=Count("staff"))

    @admin.display(description=_("工作人员数"), ordering="_staff_count")
    def staff_count(self, obj):
        return obj._staff_count


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "region", "district", "level")
    list_filter = ("kind", "region", ("district", admin.RelatedOnlyFieldListFilter))
    search_fields = ("code", "name")
    list_select_related = ("region", "district")

    @admin.display(description=_("层级"), boolean=False)
    def level(self, obj):
        return _("区县级") if obj.district_id else _("市级")


class CityLevelFilter(admin.SimpleListFilter):
    title = _("层级")
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [("city", _("市级")), ("district", _("区县级"))]

    def queryset(self, request, queryset):
        if self.value() == "city":
            return queryset.filter(district__isnull=True)
        if self.value() == "district":
            return queryset.filter(district__isnull=False)
        return queryset


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "full_name", "agency", "district", "title", "role_names", "is_active")
    list_filter = (CityLevelFilter, "agency__kind", "district", "user__groups", "user__is_active")
    search_fields = ("user__username", "user__first_name", "user__last_name", "agency__name", "title")
    autocomplete_fields = ("user", "agency")
    list_select_related = ("user", "agency", "district")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("user__groups")

    @admin.display(description=_("姓名"), ordering="user__first_name")
    def full_name(self, obj):
        return obj.user.get_full_name()

    @admin.display(description=_("角色"))
    def role_names(self, obj):
        return "、".join(str(roles.LABELS.get(g.name, g.name)) for g in obj.user.groups.all())

    @admin.display(description=_("启用"), boolean=True, ordering="user__is_active")
    def is_active(self, obj):
        return obj.user.is_active


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "district", "designated", "in_province")
    list_filter = ("level", "designated", "in_province", "district")
    search_fields = ("code", "name")
    list_select_related = ("district",)


@admin.register(RegionStatistic)
class RegionStatisticAdmin(admin.ModelAdmin):
    list_display = ("region", "year", "per_capita_disposable_income", "resident_contribution")
    list_filter = ("region", "year")
    search_fields = ("region__name", "year")
    list_select_related = ("region",)


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False
    fk_name = "user"
    autocomplete_fields = ("agency",)
    verbose_name_plural = _("工作人员信息（机构与数据范围）")


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Users with their staff profile inline: the agency and district decide what they see."""

    inlines = [StaffProfileInline]
    list_display = ("username", "first_name", "agency", "district", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups", "staff_profile__district")
    search_fields = ("username", "first_name", "last_name", "email", "staff_profile__agency__name")
    list_select_related = ("staff_profile__agency", "staff_profile__district")

    @admin.display(description=_("机构"), ordering="staff_profile__agency__name")
    def agency(self, obj):
        profile = getattr(obj, "staff_profile", None)
        return profile.agency if profile else "—"

    @admin.display(description=_("区县"), ordering="staff_profile__district__name")
    def district(self, obj):
        profile = getattr(obj, "staff_profile", None)
        if profile is None:
            return "—"
        return profile.district or _("市级")


# --- Second factor (issue 15): the encrypted devices replace django-otp's clear ones ------------

from django_otp.plugins.otp_static.models import StaticDevice  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from .otp_devices import RecoveryCodeDevice, SecureTOTPDevice  # noqa: E402

for _clear in (TOTPDevice, StaticDevice):  # their tables are empty since organizations 0005; no new clear secret
    if admin.site.is_registered(_clear):
        admin.site.unregister(_clear)


class _DeviceAdmin(admin.ModelAdmin):
    """Lost phone: the administrator deletes the user's devices; the user enrols again. The
    secret is never shown or edited here, and devices are created only by the user's enrolment."""

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username", "user__first_name")
    fields = ("user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count")
    readonly_fields = fields
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(SecureTOTPDevice, _DeviceAdmin)
admin.site.register(RecoveryCodeDevice, _DeviceAdmin)
