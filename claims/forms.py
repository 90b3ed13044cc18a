"""Forms: validation only; views call services to write."""
from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaries.forms import IdNumberField
from beneficiaries.models import Person
from organizations.dates import clean_date_field
from organizations.models import Institution

from .models import AttachmentKind, Bill, RejectionReason
from .services import bill_validate

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ClaimForm(forms.Form):
    id_number = IdNumberField(label=_("申请人身份证号"))
    applied_on = forms.DateField(label=_("申请日期"), widget=DATE, initial=timezone.localdate)
    payee_account = forms.CharField(label=_("收款账户"), max_length=100, required=False)
    note = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, persons=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.persons = persons if persons is not None else Person.objects.all()

    def clean_applied_on(self):
        return clean_date_field(self, "applied_on")

    def clean_id_number(self) -> Person:
        number = self.cleaned_data["id_number"]  # normalised and checked by IdNumberField
        person = self.persons.filter(id_number=number).select_related("hukou_district").first()
        if person is None:
            raise ValidationError(_("本辖区未登记该身份证号的人员。"), code="unknown_person")
        return person


class BillForm(forms.ModelForm):
    """One bill of a manual claim; POLICY.md §1 checks name the offending field."""

    class Meta:
        model = Bill
        fields = ["institution", "settlement_no", "visit_type", "admission_date", "discharge_date", "diagnosis_code",
                  "diagnosis_name", "major_disease", "rare_disease", "good_samaritan_injury", "referral_compliant",
                  "in_province", "total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid"]
        widgets = {"admission_date": DATE, "discharge_date": DATE}

    def __init__(self, *args, institutions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = institutions if institutions is not None else Institution.objects.all()

    def clean(self):
        data = super().clean()
        try:
            bill_validate({k: data.get(k) for k in ("total_cost", "policy_scope_cost", "basic_paid", "critical_paid",
                                                    "other_paid", "admission_date", "discharge_date")})
        except ValidationError as exc:
            for name, errors in exc.error_dict.items():
                for error in errors:
                    self.add_error(name, error)
        institution, no = data.get("institution"), data.get("settlement_no")
        same = Bill.objects.filter(institution=institution, settlement_no=no)
        if self.instance.pk:  # editing a draft's bill: its own number is not a duplicate
            same = same.exclude(pk=self.instance.pk)
        if institution and no and same.exists():
            self.add_error("settlement_no", ValidationError(_("该机构的结算单号已存在。"), code="duplicate"))
        return data

    def bill_data(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items()}

    def validate_unique(self) -> None:  # checked in clean() with a clear message
        pass

    def _post_clean(self) -> None:  # the model instance is built by the service, not here
        pass


class ClaimEditForm(forms.Form):
    applied_on = forms.DateField(label=_("申请日期"), widget=DATE)
    payee_account = forms.CharField(label=_("收款账户"), max_length=100, required=False)
    note = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_applied_on(self):
        return clean_date_field(self, "applied_on")


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("撤回原因"), max_length=500)


class DecisionForm(forms.Form):
    ACTIONS = [("approve", _("批准")), ("reject", _("不予救助")), ("return", _("退回补正"))]
    action = forms.ChoiceField(label=_("审核决定"), choices=ACTIONS, widget=forms.RadioSelect)
    reason = forms.ChoiceField(label=_("不予救助原因"), choices=[("", "---------"), *RejectionReason.choices], required=False)
    note = forms.CharField(label=_("审核意见"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        data = super().clean()
        if data.get("action") == "reject" and not data.get("reason"):
            self.add_error("reason", ValidationError(_("请选择不予救助原因。"), code="required"))
        if data.get("action") == "return" and not (data.get("note") or "").strip():
            self.add_error("note", ValidationError(_("退回时请说明需要补正的内容。"), code="required"))
        return data


class MarkPaidForm(forms.Form):
    reference = forms.CharField(label=_("支付凭证号"), max_length=100)


class ResolveForm(forms.Form):
    note = forms.CharField(label=_("处理说明"), max_length=500)


class UploadForm(forms.Form):
    file = forms.FileField(label=_("结算数据文件（CSV 或 XLSX）"))

    def clean_file(self):
        f = self.cleaned_data["file"]
        name = f.name.lower()
        if not name.endswith((".csv", ".xlsx")):
            raise ValidationError(_("仅支持 CSV 或 XLSX 文件。"), code="format")
        if f.size > 100 * 1024 * 1024:
            raise ValidationError(_("文件不能超过 100 MB。"), code="too_large")
        return f


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("材料类型"), choices=AttachmentKind.choices)
    file = forms.FileField(label=_("文件（PDF、JPG、PNG）"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"}))
