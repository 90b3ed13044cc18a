"""Walk an application through the workflow with the real services."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from applications import services
from applications.models import AssessmentResult


def receive(*, household, patient, caseworker, on: date = date(2024, 3, 1), **kwargs):
    return services.application_create(household=household, applicant=patient, received_on=on, by=caseworker, **kwargs)


def to_gathering(application, *, caseworker, certifier):
    services.application_send_to_assessment(application=application, by=caseworker)
    services.assessment_record(application=application, by=certifier, annual_income=Decimal("36000.00"),
                               assets=Decimal("20000.00"), members_count=2, result=AssessmentResult.CERTIFIED,
                               document_ref="京朝民因病〔2024〕1号")
    application.refresh_from_db()
    return application


def to_reviewing(application, *, caseworker, certifier):
    to_gathering(application, caseworker=caseworker, certifier=certifier)
    services.relief_compute(application=application, by=caseworker)
    application.refresh_from_db()
    return application
