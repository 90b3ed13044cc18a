"""Date rules for what people type (issue 18): no date before the policy era, no date in the
future where it cannot be (an application received, a service given, a bill settled).

Year 1 and year 9999 used to be accepted in eight date fields; an application received on
0001-01-01 then failed with a 500 on every "gather" (its counted period started before
``date.min`` plus the look-back). Every form and service that takes such a date calls
:func:`check_date`, so the message names the field.
"""
from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

# The medical-assistance system in this shape begins with the rural scheme of 2003 (民发〔2003〕158号);
# no bill, application or certification of this system can be dated before it.
POLICY_ERA_START = date(2003, 1, 1)
# Dates that may lie ahead (a certification's end) still cannot be absurdly far.
LATEST_PLANNED = date(2099, 12, 31)


def check_date(value: date | None, *, label: str | Promise, future: bool = False, today: date | None = None) -> None:
    """Raise ``ValidationError`` (code ``before_era`` / ``future`` / ``too_far``) naming ``label``
    (a lazy label is translated only when a message is built: issue 20, the import checks two dates a row)."""
    if value is None:
        return
    if value < POLICY_ERA_START:
        raise ValidationError(
            _("%(field)s（%(value)s）早于医疗救助制度实施（%(start)s），请检查年份。"), code="before_era",
            params={"field": label, "value": value.isoformat(), "start": POLICY_ERA_START.isoformat()})
    today = today or timezone.localdate()
    if not future and value > today:
        raise ValidationError(
            _("%(field)s（%(value)s）不能晚于今天（%(today)s）。"), code="future",
            params={"field": label, "value": value.isoformat(), "today": today.isoformat()})
    if future and value > LATEST_PLANNED:
        raise ValidationError(
            _("%(field)s（%(value)s）超出可登记的范围（最晚 %(last)s）。"), code="too_far",
            params={"field": label, "value": value.isoformat(), "last": LATEST_PLANNED.isoformat()})


def clean_date_field(form, name: str, *, future: bool = False) -> date | None:
    """For a form's ``clean_<name>``: the field's value after :func:`check_date` with its label."""
    value = form.cleaned_data.get(name)
    check_date(value, label=str(form.fields[name].label), future=future)
    return value
