"""Forms of the policies app: the administrator's rules editor (pretty JSON, validated by the engine)."""
from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .editor import StructuredRulesForm
from .models import Policy
from .services import validate_rules


class PrettyJSONField(forms.JSONField):
    """JSON shown indented, Chinese kept readable (no \\u escapes)."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError:
            raise ValidationError(_("规则不是有效的 JSON：请检查括号、引号和逗号。"), code="invalid_json") from None


# Styled by the class (static/css), not a style="" attribute: the CSP allows no inline styles.
RULES_WIDGET = forms.Textarea(attrs={"rows": 40, "cols": 120, "spellcheck": "false", "class": "rules-editor"})


class PolicyRulesMixin:
    """Validates ``rules`` through ``PolicySpec.from_dict``; the error names the bad field."""

    def clean_rules(self):
        rules = self.cleaned_data.get("rules")
        validate_rules(rules)
        return rules


class PolicyCreateForm(PolicyRulesMixin, forms.ModelForm):
    """A new policy (version 1): document number, title and dates are read from the rules."""

    rules = PrettyJSONField(label=_("规则"), widget=RULES_WIDGET,
                            help_text=_("计算引擎的政策参数（JSON），每条规则须注明条款出处 clause。"))

    class Meta:
        model = Policy
        fields = ["code", "region", "rules", "change_note"]

    def clean(self):
        cleaned = super().clean()
        rules = cleaned.get("rules")
        code = cleaned.get("code")
        if isinstance(rules, dict) and code and rules.get("code") not in (None, code):
            self.add_error("rules", ValidationError(
                _("规则中的 code（%(inner)s）与政策代码（%(code)s）不一致。"), code="code_mismatch",
                params={"inner": rules.get("code"), "code": code}))
        if code and Policy.objects.filter(code=code).exists():
            self.add_error("code", ValidationError(_("该政策代码已存在：请修改现有政策以生成新版本。"), code="duplicate"))
        return cleaned


class PolicyReviseForm(PolicyRulesMixin, forms.ModelForm):
    """Editing a policy saves a NEW version starting on ``new_effective_from``."""

    rules = PrettyJSONField(label=_("规则"), widget=RULES_WIDGET,
                            help_text=_("保存后生成新版本；已作出的决定仍按原版本规则。"))
    new_effective_from = forms.DateField(
        label=_("新版本生效日期"),
        help_text=_("晚于原生效日期时，原版本在前一日失效；相同日期表示更正原版本。"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    change_note = forms.CharField(label=_("修改说明"), max_length=200,
                                  help_text=_("必填：修改了什么、依据哪个文件。"))

    class Meta:
        model = Policy
        fields = ["rules", "change_note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk and not self.is_bound:
            self.fields["new_effective_from"].initial = self.instance.effective_from
            self.fields["change_note"].initial = ""
            self.initial["change_note"] = ""

    def clean_new_effective_from(self):
        value = self.cleaned_data["new_effective_from"]
        if self.instance.pk and value < self.instance.effective_from:
            raise ValidationError(_("新版本的生效日期不能早于原版本的生效日期 %(date)s。"), code="before_previous",
                                  params={"date": self.instance.effective_from.isoformat()})
        return value


# --------------------------------------------------------------------------------------------
# The structured editor (policies.editor): the same date and note rules as the JSON revision
# --------------------------------------------------------------------------------------------


def edit_stamp(obj) -> str:
    """What the confirmation must still find: the row and its last change (a concurrent edit in between is refused)."""
    return f"{obj.pk}:{obj.updated_at.isoformat() if obj.updated_at else ''}"


class StampedRulesForm(StructuredRulesForm):
    stamp = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, obj, **kwargs):
        self.obj = obj
        super().__init__(*args, **kwargs)
        self.initial.setdefault("stamp", edit_stamp(obj))

    def stamp_is_fresh(self) -> bool:
        return self.cleaned_data.get("stamp") == edit_stamp(self.obj)


class PolicyStructuredForm(StampedRulesForm):
    """A policy's parameters as fields; saved as a NEW version from ``new_effective_from``."""

    new_effective_from = forms.DateField(
        label=_("新版本生效日期"),
        help_text=_("晚于原生效日期时，原版本在前一日失效；相同日期表示更正原版本。"),
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"),
    )
    change_note = forms.CharField(label=_("修改说明"), max_length=200, help_text=_("必填：修改了什么、依据哪个文件。"),
                                  widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))

    def __init__(self, *args, policy: Policy, **kwargs):
        super().__init__(*args, rules=policy.rules, obj=policy, **kwargs)
        self.initial.setdefault("new_effective_from", policy.effective_from)

    def clean_new_effective_from(self):
        value = self.cleaned_data["new_effective_from"]
        if value < self.obj.effective_from:
            raise ValidationError(_("新版本的生效日期不能早于原版本的生效日期 %(date)s。"), code="before_previous",
                                  params={"date": self.obj.effective_from.isoformat()})
        return value

    def prepare_rules(self, rules):
        rules["code"] = self.obj.code
        if self.cleaned_data.get("new_effective_from"):
            rules["effective_from"] = self.cleaned_data["new_effective_from"].isoformat()
        return rules
