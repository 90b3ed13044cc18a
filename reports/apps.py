from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("决定书与报表")

    def ready(self) -> None:
        from organizations import dashboard

        from .queues import letter_queues

        dashboard.register(letter_queues)
