"""Forms: validation of input only; services do the writing (and re-check everything)."""
from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.models import Purpose
from organizations.dates import clean_date_field
from organizations.models import District, Region

from . import idnumber
from .models import Category, InsuranceType, Person, Relation, validate_contribution_paid_year


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class IdNumberField(forms.CharField):
    """18-character resident ID number, normalised (``idnumber.normalise``: full-width and
    Arabic-Indic digits, spaces, lower-case x) and validated (GB 11643). Every form that takes an
    ID number uses this field, so a number is read one way everywhere."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)  # of the normalised text; parse() names a wrong length
        kwargs.setdefault("label", _("身份证号"))
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return idnumber.normalise(value) if value else value

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        try:
            return idnumber.parse(value).number
        except idnumber.IdNumberError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


class IdSearchForm(forms.Form):
    """Find a person by full ID number: POSTed, so the number never appears in a URL."""

    id_number = IdNumberField(widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("18位身份证号")}))


class PersonRegisterForm(forms.Form):
    id_number = IdNumberField(widget=forms.TextInput(attrs={"autocomplete": "off"}))
    name = forms.CharField(label=_("姓名"), max_length=50)
    hukou_district = forms.ModelChoiceField(
        label=_("户籍区县"), queryset=District.objects.none(), required=False,
        help_text=_("留空则按身份证号前6位地址码确定。"),
    )
    insurance_type = forms.ChoiceField(label=_("参保类型"), choices=InsuranceType.choices, initial=InsuranceType.RESIDENT)
    disability_grade = forms.TypedChoiceField(
        label=_("残疾等级"), required=False, coerce=int, empty_value=None,
        choices=[("", _("无"))] + list(Person._meta.get_field("disability_grade").choices),
    )
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    address = forms.CharField(label=_("住址"), max_length=200, required=False)

    def __init__(self, *args, districts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if districts is not None:
            self.fields["hukou_district"].queryset = districts

    def clean_id_number(self):
        number = self.cleaned_data["id_number"]
        if Person.objects.filter(id_number=number).exists():
            raise forms.ValidationError(_("该身份证号已登记。"), code="duplicate")
        return number


class PersonEditForm(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=50)
    hukou_district = forms.ModelChoiceField(label=_("户籍区县"), queryset=District.objects.none())
    insurance_type = forms.ChoiceField(label=_("参保类型"), choices=InsuranceType.choices)
    disability_grade = forms.TypedChoiceField(
        label=_("残疾等级"), required=False, coerce=int, empty_value=None,
        choices=[("", _("无"))] + list(Person._meta.get_field("disability_grade").choices),
    )
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    address = forms.CharField(label=_("住址"), max_length=200, required=False)
    contribution_paid_year = forms.IntegerField(
        label=Person._meta.get_field("contribution_paid_year").verbose_name, required=False,
        help_text=Person._meta.get_field("contribution_paid_year").help_text,
        validators=[validate_contribution_paid_year], widget=forms.NumberInput(attrs={"placeholder": _("如2024；未知则留空")}),
    )

    def __init__(self, *args, districts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if districts is not None:
            self.fields["hukou_district"].queryset = districts


class CertificationForm(forms.Form):
    """Only the categories the user's agency kind may certify are offered (and accepted)."""

    category = forms.ModelChoiceField(label=_("类别"), queryset=Category.objects.none())
    valid_from = forms.DateField(label=_("起始日期"), widget=DateInput())
    valid_until = forms.DateField(label=_("终止日期"), widget=DateInput(), required=False,
                                  help_text=_("长期有效则留空。"))
    document_ref = forms.CharField(label=_("认定文号"), max_length=100)

    def __init__(self, *args, categories=None, **kwargs):
        super().__init__(*args, **kwargs)
        if categories is not None:
            self.fields["category"].queryset = categories
        self.fields["valid_from"].initial = timezone.localdate()

    def clean_valid_from(self):
        return clean_date_field(self, "valid_from", future=True)

    def clean_valid_until(self):
        return clean_date_field(self, "valid_until", future=True)

    def clean(self):
        data = super().clean()
        if data.get("valid_from") and data.get("valid_until") and data["valid_until"] < data["valid_from"]:
            self.add_error("valid_until", forms.ValidationError(_("终止日期不能早于起始日期。"), code="until_before_from"))
        return data


class RevokeForm(forms.Form):
    until = forms.DateField(label=_("终止日期"), widget=DateInput())
    reason = forms.CharField(label=_("终止原因"), max_length=200, widget=forms.TextInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["until"].initial = timezone.localdate()

    def clean_until(self):
        return clean_date_field(self, "until", future=True)


class RevealForm(forms.Form):
    """A full ID number is shown for a purpose chosen from a list (PIPL art. 6, 28), never for none."""

    purpose = forms.ChoiceField(label=_("查看事由"), choices=[("", _("请选择查看事由"))] + list(Purpose.choices))
    note = forms.CharField(label=_("说明（可选）"), max_length=200, required=False)


class HouseholdMemberForm(forms.Form):
    id_number = IdNumberField(label=_("成员身份证号"), widget=forms.TextInput(attrs={"autocomplete": "off"}))
    relation = forms.ChoiceField(label=_("与户主关系"), choices=[c for c in Relation.choices if c[0] != Relation.HEAD])


class RosterUploadForm(forms.Form):
    file = forms.FileField(label=_("名单文件"), help_text=_("CSV（UTF-8）或 XLSX；表头：身份证号,姓名,类别,起始日期,终止日期,文号"))
    revoke_missing = forms.BooleanField(label=_("终止名单外人员的认定"), required=False,
                                        help_text=_("本机构在名单所含类别中、于名单日期仍有效但名单中没有的认定，终止于名单日期。"))
    roster_date = forms.DateField(label=_("名单日期"), widget=DateInput(), required=False)

    def clean_file(self):
        from .imports import max_bytes, max_rows

        upload = self.cleaned_data["file"]
        name = upload.name.lower()
        if not (name.endswith(".csv") or name.endswith(".xlsx")):
            raise forms.ValidationError(_("请上传CSV或XLSX文件。"), code="file_type")
        if upload.size > max_bytes():
            raise forms.ValidationError(
                _("文件过大（上限%(mb)sMB、%(rows)s行），请拆分为多个文件导入。") % {
                    "mb": f"{max_bytes() / 1024 / 1024:g}", "rows": f"{max_rows():,}"}, code="file_size")
        return upload

    def clean(self):
        data = super().clean()
        if data.get("revoke_missing") and not data.get("roster_date"):
            self.add_error("roster_date", forms.ValidationError(_("终止名单外人员时须填写名单日期。"), code="required"))
        return data


class SubsidyRosterForm(forms.Form):
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100)
    region = forms.ModelChoiceField(label=_("参保地"), queryset=Region.objects.none(), required=False,
                                    empty_label=None)

    def __init__(self, *args, regions=None, **kwargs) -> None:
        """``regions``: the regions the user may choose (users without a region scope); otherwise
        the field is dropped and the user's own region is used."""
        super().__init__(*args, **kwargs)
        if regions is None:
            del self.fields["region"]
        else:
            self.fields["region"].queryset = regions
