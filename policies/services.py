"""Writes of the policies app: revise a policy (a new version), confirm a template, sync presets.

Past decisions keep the rules they were computed with: a revision never changes an existing
version's rules; it saves ``version + 1`` that supersedes it. Bills and applications keep their
foreign key to the version they were computed under; new computations pick the version in force
on the settlement date (:func:`policies.selectors.policy_in_force`).
"""
from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from organizations import roles
from organizations.models import Region

from .models import Policy

__all__ = ["policy_confirm", "policy_is_used", "policy_revise", "preset_sync", "validate_rules"]


def validate_rules(rules: Any) -> Any:
    """The engine's spec of ``rules``; ``ValidationError`` naming the bad field otherwise."""
    from .engine.types import PolicyError, PolicySpec

    try:
        return PolicySpec.from_dict(rules)
    except PolicyError as exc:
        raise ValidationError(
            _("规则字段 %(field)s 有误：%(message)s"),
            code="invalid_rules",
            params={"field": exc.field, "message": exc.message},
        ) from None


def _can_administer(user) -> bool:
    return user is None or roles.has_role(user, roles.ADMINISTRATOR)


@transaction.atomic
def policy_revise(*, policy: Policy, rules: dict, effective_from: date, note: str, by) -> Policy:
    """Save edited ``rules`` as a NEW version of ``policy`` (which must be the current one).

    - the new version starts on ``effective_from`` (not before the old one's start);
    - if it starts later, the old version is closed the day before (``effective_to``), so bills
      settled earlier are still computed under the old rules;
    - if it starts on the same day it is a correction: it wins for every date from then on
      (``policy_in_force`` prefers the highest version), while bills already computed keep
      their foreign key to the old version;
    - a template (``needs_confirmation`` in the rules) must be confirmed again.
    ``by`` is the administrator (None only for system jobs such as ``load_presets``).
    """
    if not _can_administer(by):
        raise PermissionDenied(_("只有系统管理员可以修改政策。"))
    old = Policy.objects.select_for_update().get(pk=policy.pk)
    if not old.is_current:
        raise ValidationError(_("只能修改当前版本（v%(version)s 已被替代）。"), code="not_current",
                              params={"version": old.version})
    if effective_from < old.effective_from:
        raise ValidationError({"effective_from": ValidationError(
            _("新版本的生效日期不能早于原版本的生效日期 %(date)s。"), code="before_previous",
            params={"date": old.effective_from.isoformat()})})
    new_rules = copy.deepcopy(rules)
    new_rules["effective_from"] = effective_from.isoformat()
    new_rules["code"] = old.code
    spec = validate_rules(new_rules)
    if old.effective_to is not None and effective_from > old.effective_to:
        raise ValidationError({"effective_from": ValidationError(
            _("新版本的生效日期晚于原版本的失效日期 %(date)s，请另建政策。"), code="after_previous_end",
            params={"date": old.effective_to.isoformat()})})

    if effective_from > old.effective_from:
        closing = effective_from - timedelta(days=1)
        old.effective_to = closing
        old_rules = copy.deepcopy(old.rules)
        old_rules["effective_to"] = closing.isoformat()  # metadata only: rates and caps untouched
        old.rules = old_rules
    old.is_current = False
    old.save(update_fields=["is_current", "effective_to", "rules", "updated_at"])

    new = Policy(
        code=old.code,
        version=old.version + 1,
        region=old.region,
        document_no=spec.document_no,
        title=spec.title,
        effective_from=effective_from,
        effective_to=spec.effective_to,
        rules=new_rules,
        needs_confirmation=spec.needs_confirmation,
        is_current=True,
        supersedes=old,
        created_by=by,
        change_note=note[:200],
    )
    new.full_clean()
    new.save()
    return new


def policy_confirm(*, policy: Policy, by) -> Policy:
    """An administrator confirms a template (e.g. the national framework) for use."""
    if not _can_administer(by):
        raise PermissionDenied(_("只有系统管理员可以确认政策模板。"))
    if not policy.needs_confirmation:
        raise ValidationError(_("该政策无需确认。"), code="not_a_template")
    if policy.confirmed_at is not None:
        raise ValidationError(_("该政策已于 %(at)s 确认。"), code="already_confirmed",
                              params={"at": timezone.localtime(policy.confirmed_at).strftime("%Y-%m-%d %H:%M")})
    validate_rules(policy.rules)
    policy.confirmed_at = timezone.now()
    policy.confirmed_by = by
    policy.save(update_fields=["confirmed_at", "confirmed_by", "updated_at"])
    return policy


# Regions of the shipped presets (POLICY.md table); region None = national framework.
PRESET_REGIONS: dict[str, tuple[str, str, str] | None] = {
    "beijing-2023": ("110000", "北京市", "京"),
    "wuxi-2023": ("320200", "无锡市", "锡"),
    "ningbo-2019": ("330200", "宁波市", "甬"),
    "national-2021": None,
    "dongzhi-2022": ("341721", "东至县", "东至"),
}


def policy_is_used(policy) -> bool:
    """True if any row (a bill, an application, ...) points at this version."""
    for rel in policy._meta.related_objects:
        if rel.related_model is type(policy) or not (rel.one_to_many or rel.one_to_one):
            continue
        if rel.related_model._default_manager.filter(**{rel.field.name: policy}).exists():
            return True
    return False


def preset_sync(*, policy_model=Policy, region_model=Region, presets: dict | None = None) -> list[tuple[str, str]]:
    """Install or refresh the shipped presets as version 1 of their code. Idempotent.

    Used by the data migration (with historical models) and ``load_presets``:
    - no row yet: version 1 is created (with its Region, get_or_create);
    - v1 is still the only version and nothing was computed with it: refreshed in place;
    - v1 was used (only outside migrations): a new version is saved as a correction, so past
      decisions keep their rules;
    - an administrator already revised it (v2+ exists): kept, administrators' edits win.
    Returns ``[(code, "created" | "updated" | "revised" | "unchanged" | "kept")]``.
    """
    if presets is None:
        from .engine.presets import PRESETS

        presets = PRESETS
    report = []
    for code, preset in presets.items():
        rules = preset.to_dict() if hasattr(preset, "to_dict") else copy.deepcopy(dict(preset))
        region_info = PRESET_REGIONS.get(code, ...)
        if region_info is ...:  # a preset added later: its region must be listed above
            if rules.get("region") not in ("national", None, ""):
                raise ValueError(f"preset {code!r}: add its region (code, name, short name) to PRESET_REGIONS")
            region_info = None
        region = None
        if region_info is not None:
            region, _created = region_model.objects.get_or_create(
                code=region_info[0], defaults={"name": region_info[1], "short_name": region_info[2]})
        fields = {
            "region": region,
            "document_no": rules.get("document_no", "")[:100],
            "title": rules.get("title", "")[:200],
            "effective_from": date.fromisoformat(rules["effective_from"]),
            "effective_to": date.fromisoformat(rules["effective_to"]) if rules.get("effective_to") else None,
            "rules": rules,
            "needs_confirmation": bool(rules.get("needs_confirmation", False)),
        }
        existing = policy_model.objects.filter(code=code, version=1).first()
        if existing is None:
            policy_model.objects.create(code=code, version=1, is_current=True, change_note="preset", **fields)
            report.append((code, "created"))
            continue
        if policy_model.objects.filter(code=code, version__gt=1).exists():
            report.append((code, "kept"))
            continue
        if existing.rules == rules and existing.region_id == (region.pk if region else None):
            report.append((code, "unchanged"))
            continue
        if policy_is_used(existing):
            policy_revise(policy=existing, rules=rules, effective_from=existing.effective_from,
                          note="preset update", by=None)
            report.append((code, "revised"))
            continue
        for name, value in fields.items():
            setattr(existing, name, value)
        existing.save()
        report.append((code, "updated"))
    return report
