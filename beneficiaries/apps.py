from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BeneficiariesConfig(AppConfig):
    name = "beneficiaries"
    verbose_name = _("救助对象")

    def ready(self) -> None:
        from organizations import dashboard

        from . import queues

        dashboard.register(queues.beneficiary_queues)
