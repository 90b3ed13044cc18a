"""Hostile text input, rejected in one place (issue 15, ASVS V5.1).

Every text field of every form — the product's forms, ModelForms, the admin, formsets — refuses
control characters (NUL, the other C0 codes except tab and line breaks, DEL, the C1 codes) with a
message naming the field: :func:`install` (called from ``OrganizationsConfig.ready``) gives each
``forms.CharField`` of a form a :class:`NoControlCharacters` validator when the form is built,
so a new form cannot forget it. Django's own ``ProhibitNullCharactersValidator`` (a message
without the field's name) is replaced by it. The imports check their cells with
:func:`control_character_error` and report a row error naming the column.

Before, a NUL reached PostgreSQL (which refuses it in text) and answered 500.
"""
from __future__ import annotations

import re

from django import forms
from django.core import validators
from django.core.exceptions import ValidationError
from django.forms.forms import BaseForm
from django.forms.utils import pretty_name
from django.utils.translation import gettext_lazy as _

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CODE = "control_character"


def has_control_characters(value) -> bool:
    return isinstance(value, str) and CONTROL.search(value) is not None


def control_character_error(label) -> ValidationError:
    return ValidationError(_("“%(field)s”不能包含控制字符（如NUL）。"), code=CODE, params={"field": label})


class NoControlCharacters:
    """Validator of one bound form field; the label is read when it runs (forms may relabel)."""

    def __init__(self, field: forms.Field, name: str):
        self.field = field
        self.name = name

    def __call__(self, value) -> None:
        if has_control_characters(value):
            raise control_character_error(self.field.label or pretty_name(self.name))

    def __eq__(self, other) -> bool:
        return isinstance(other, NoControlCharacters) and other.name == self.name


def protect(form: BaseForm) -> None:
    for name, field in form.fields.items():
        if not isinstance(field, forms.CharField):
            continue
        field.validators = [v for v in field.validators
                            if not isinstance(v, (validators.ProhibitNullCharactersValidator, NoControlCharacters))]
        field.validators.append(NoControlCharacters(field, name))


_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    original = BaseForm.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        protect(self)

    __init__.__wrapped__ = original  # type: ignore[attr-defined]
    BaseForm.__init__ = __init__  # type: ignore[method-assign]
    _installed = True
