from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, pre_save
from django.utils.translation import gettext_lazy as _


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = _("机构与人员")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import checks, lookups, signals, textinput, twofactor  # noqa: F401 - checks registers the deploy check, lookups __any
        from .models import RegionStatistic
        from .roles import sync_role_permissions
        from .security import mark_login

        textinput.install()  # every text field of every form refuses control characters
        post_migrate.connect(sync_role_permissions, dispatch_uid="organizations.sync_role_permissions")
        user_logged_in.connect(mark_login, dispatch_uid="organizations.mark_login")
        user_logged_in.connect(twofactor.mark_login, dispatch_uid="organizations.twofactor.mark_login")
        post_delete.connect(signals.statistic_deleted, sender=RegionStatistic, dispatch_uid="organizations.statistic_deleted")
        pre_save.connect(signals.statistic_saving, sender=RegionStatistic, dispatch_uid="organizations.statistic_saving")
