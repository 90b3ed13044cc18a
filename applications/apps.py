from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("依申请救助")

    def ready(self) -> None:
        from organizations import dashboard

        from .dashboard import queues

        dashboard.register(queues)
