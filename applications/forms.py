"""Forms of the applications app: validation of input; the services enforce the rules."""
from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaries.forms import IdNumberField
from organizations.dates import clean_date_field

from .models import ApplicationDocument, AssessmentResult, Channel, DocumentKind, ExtraBill, HouseholdAssessment

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ApplicationForm(forms.Form):
    """受理: the patient is found by ID number (typed, posted; never in a URL)."""

    patient_id_number = IdNumberField(label=_("患者身份证号"),
                                      widget=forms.TextInput(attrs={"autocomplete": "off"}),
                                      help_text=_("申请人（重病患者）的18位身份证号，须已登记在家庭中"))
    received_on = forms.DateField(label=_("受理日期"), widget=DATE, initial=timezone.localdate)
    channel = forms.ChoiceField(label=_("申请渠道"), choices=[c for c in Channel.choices if c[0] != Channel.WARNING_REFERRAL])
    contact_name = forms.CharField(label=_("联系人"), max_length=50, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    proxy_name = forms.CharField(label=_("代办人"), max_length=50, required=False, help_text=_("社区委托代办时填写"))
    note = forms.CharField(label=_("备注"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def clean_received_on(self):
        return clean_date_field(self, "received_on")


class WarningApplicationForm(forms.Form):
    """From an early warning: the household is given; choose the patient among its members."""

    applicant = forms.ModelChoiceField(label=_("申请人（重病患者）"), queryset=None)
    received_on = forms.DateField(label=_("受理日期"), widget=DATE, initial=timezone.localdate)
    contact_name = forms.CharField(label=_("联系人"), max_length=50, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    note = forms.CharField(label=_("备注"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["applicant"].queryset = members

    def clean_received_on(self):
        return clean_date_field(self, "received_on")
        self.fields["applicant"].label_from_instance = lambda p: f"{p.name}（{p.masked_id_number}）{p.get_relation_display()}"


class AssessmentForm(forms.ModelForm):
    result = forms.ChoiceField(label=_("核对结果"), choices=AssessmentResult.choices, widget=forms.RadioSelect)
    category = forms.ChoiceField(label=_("认定类别"), required=False,
                                 help_text=_("只列出本地区政策规定依申请救助的类别"))
    valid_from = forms.DateField(label=_("认定起始日期"), required=False, widget=DATE,
                                 help_text=_("空为受理日期；依申请救助计入认定之日起的费用"))

    class Meta:
        model = HouseholdAssessment
        fields = ["annual_income", "assets", "members_count", "result", "reason", "document_ref"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = list(categories)
        if len(categories) <= 1:
            self.fields["category"].widget = forms.HiddenInput()
            if categories:
                self.fields["category"].initial = categories[0][0]

    def clean(self):
        data = super().clean()
        if data.get("result") == AssessmentResult.REFUSED and not (data.get("reason") or "").strip():
            self.add_error("reason", forms.ValidationError(_("不予认定须填写理由。"), code="reason_required"))
        return data


class ExtraBillForm(forms.ModelForm):
    class Meta:
        model = ExtraBill
        fields = ["person", "institution_name", "designated", "settlement_no", "visit_type", "admission_date",
                  "discharge_date", "total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid",
                  "assistance_paid", "receipt"]
        widgets = {"admission_date": DATE, "discharge_date": DATE}

    def __init__(self, *args, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = members
        self.fields["person"].label_from_instance = lambda p: f"{p.name}（{p.masked_id_number}）"

    def clean_admission_date(self):
        return clean_date_field(self, "admission_date")

    def clean_discharge_date(self):
        return clean_date_field(self, "discharge_date")

    def clean(self):
        data = super().clean()
        from .services import check_amounts

        names = ("total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid", "assistance_paid",
                 "admission_date", "discharge_date")
        if all(data.get(name) is not None for name in names):
            try:
                check_amounts(ExtraBill(**{name: data[name] for name in names}))
            except forms.ValidationError as exc:
                for name, errors in exc.error_dict.items():
                    self.add_error(name, errors)
        return data


class DocumentForm(forms.ModelForm):
    class Meta:
        model = ApplicationDocument
        fields = ["kind", "file", "description"]

    kind = forms.ChoiceField(label=_("材料类型"), choices=DocumentKind.choices)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("审核决定"), widget=forms.RadioSelect,
                                 choices=[("approve", _("批准救助")), ("reject", _("不予救助"))])
    reason = forms.CharField(label=_("不予救助理由"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    payment_route = forms.CharField(label=_("支付方式"), max_length=100, required=False,
                                    initial=_("社会化发放至申请人银行账户"))


class ReturnForm(forms.Form):
    note = forms.CharField(label=_("退回理由"), widget=forms.Textarea(attrs={"rows": 2}))
