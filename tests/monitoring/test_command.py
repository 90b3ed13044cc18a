"""manage.py recalculate, and policy versions in the incremental run."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitoring import services
from monitoring.models import RecalcRun

pytestmark = pytest.mark.django_db


def test_recalculate_command_prints_a_summary(world):
    out = StringIO()
    call_command("recalculate", "--full", stdout=out)
    text = out.getvalue()
    assert "succeeded" in text and "bills changed: 3" in text and "warnings created: 1" in text
    out = StringIO()
    call_command("recalculate", "--dry-run", "--person", str(world["alice"].pk), stdout=out)
    assert "(dry run)" in out.getvalue() and "person-years recomputed: 1" in out.getvalue()


def test_recalculate_command_names_the_bad_argument(world):
    with pytest.raises(CommandError) as info:
        call_command("recalculate", "--person", "999999")
    assert "person" in str(info.value)
    with pytest.raises(CommandError) as info:
        call_command("recalculate", "--year", "23")
    assert "year" in str(info.value)
    assert not RecalcRun.objects.exists()


def test_new_policy_version_touches_every_person_year_of_the_region(world):
    from policies.models import Policy

    services.run_synchronously(full=True)
    current = Policy.objects.get(code="beijing-2023", is_current=True)
    Policy.objects.create(code=current.code, version=current.version + 100, region=current.region,
                          document_no=current.document_no, title=current.title,
                          effective_from=current.effective_from, rules=current.rules, is_current=False)
    run = services.run_synchronously()
    assert run.status == "succeeded"
    assert run.person_years_total == 2  # Alice 2023 and Bob 2023: everyone of the region with bills
