from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("依申请救助")

    def ready(self) -> None:
        from organizations import access, dashboard

        from .dashboard import queues
        from .selectors import persons_requested_of_agency

        dashboard.register(queues)
        access.register_agency_requests(persons_requested_of_agency)
