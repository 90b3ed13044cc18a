from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = _("医疗救助费用")

    def ready(self) -> None:
        from organizations.dashboard import register

        from .queues import claim_queues

        register(claim_queues)
