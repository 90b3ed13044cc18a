from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("重算与预警")

    def ready(self) -> None:
        from organizations.access import register_agency_requests
        from organizations.dashboard import register

        from .dashboard import queues
        from .selectors import persons_requested_of_agency

        register(queues)
        register_agency_requests(persons_requested_of_agency)
