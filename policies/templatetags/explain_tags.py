"""``{{ lines|localized }}``: explanation lines in the reader's language (policies.explain)."""
from django import template

from policies.explain import localize

register = template.Library()


@register.filter
def localized(lines):
    return localize(lines)
