"""区级标准 (Beijing 七, POLICY.md §9): a district's dated override of named parameters."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from organizations import roles
from policies.districts import OverrideError, apply_overrides
from policies.engine.presets import PRESETS
from policies.models import DistrictPolicy, Policy
from policies.selectors import forget_spec, resolved_spec
from tests.factories import CertificationFactory, InstitutionFactory, PersonFactory, make_staff

D = Decimal


def tilted(threshold: str, rate: str) -> dict:
    return {"tilted": {"threshold": threshold, "rate": rate,
                       "required_flags": {"referral_compliant": True, "in_province": True}, "cap": None}}


def standard(district, doc: str, threshold: str, rate: str, **extra) -> DistrictPolicy:
    row = DistrictPolicy(district=district, policy_code="beijing-2023", document_no=doc, clause="三(二)",
                         effective_from=extra.pop("effective_from", date(2023, 1, 1)),
                         overrides=tilted(threshold, rate), **extra)
    row.full_clean()
    row.save()
    forget_spec()
    return row


def test_jing_7_override_replaces_named_parameter_and_cites_district_document():
    rules = apply_overrides(PRESETS["beijing-2023"], tilted("1000.00", "0.50"), "京朝医保发〔2023〕5号 三(二)")
    assert rules["tilted"]["clause"] == "京朝医保发〔2023〕5号 三(二)"
    assert PRESETS["beijing-2023"]["tilted"] is None  # the region's rules are untouched
    rate = apply_overrides(PRESETS["beijing-2023"], {"tiers.BJ-3.visit_classes.inpatient.rate": "0.90"}, "X 1")
    cls = next(t for t in rate["tiers"] if t["code"] == "BJ-3")["visit_classes"]["inpatient"]
    assert (cls["rate"], cls["clause"]) == ("0.90", "X 1")


@pytest.mark.parametrize("overrides, name", [
    ({"document_no": "x"}, "document_no"),
    ({"tiers.BJ-9.buckets.inpatient.cap": "1"}, "tiers.BJ-9.buckets.inpatient.cap"),
    ({"tiers.BJ-3.buckets.dental.cap": "1"}, "tiers.BJ-3.buckets.dental.cap"),
    ({"tilted": "60%"}, "tilted"),
])
def test_jing_7_only_named_parameters_may_be_overridden(overrides, name):
    with pytest.raises(OverrideError) as err:
        apply_overrides(PRESETS["beijing-2023"], overrides, "X")
    assert err.value.name == name


@pytest.mark.django_db
def test_jing_7_bills_of_each_district_are_computed_and_explained_with_their_own_standard(district, other_district):
    from claims import services

    from .test_district_helpers import referred_bill

    standard(district, "京朝医保发〔2023〕5号", "1000.00", "0.50")
    standard(other_district, "京海医保发〔2023〕9号", "2000.00", "0.30")
    results = {}
    for where in (district, other_district):
        person = PersonFactory(hukou_district=where)
        CertificationFactory(person=person, valid_from=date(2022, 1, 1))
        worker = make_staff(roles.CASEWORKER, district=where)
        institution = InstitutionFactory(district=where)
        claim = services.claim_create(person=person, district=where, applied_on=date(2023, 4, 1), by=worker,
                                      bills=[referred_bill(institution)], payee_account="6222 **** 1234")
        results[where.name] = claim.bills.get()
    chaoyang, haidian = results["朝阳区"], results["海淀区"]
    # burden 20000: 85% = 17000; remaining 3000 → 朝阳 (3000−1000)×50% = 1000, 海淀 (3000−2000)×30% = 300
    assert (chaoyang.assistance, chaoyang.tilted) == (D("17000.00"), D("1000.00"))
    assert (haidian.assistance, haidian.tilted) == (D("17000.00"), D("300.00"))
    tilted_line = {b: next(x for x in bill.computation["explanation"]["lines"] if x["key"] == "tilted:tilted")
                   for b, bill in results.items()}
    assert tilted_line["朝阳区"]["clause"] == "京朝医保发〔2023〕5号 三(二)"
    assert tilted_line["海淀区"]["clause"] == "京海医保发〔2023〕9号 三(二)"
    # lines that were not overridden still cite the municipal document
    rate_line = next(x for x in chaoyang.computation["explanation"]["lines"] if x["key"] == "rate")
    assert rate_line["clause"].startswith("京医保发〔2022〕37号")


@pytest.mark.django_db
def test_jing_7_standard_is_dated(district):
    policy = Policy.objects.get(code="beijing-2023", is_current=True)
    standard(district, "京朝医保发〔2023〕5号", "1000.00", "0.50", effective_from=date(2023, 7, 1))
    assert resolved_spec(policy, district=district, on=date(2023, 6, 30)).tilted is None
    assert resolved_spec(policy, district=district, on=date(2023, 7, 1)).tilted.threshold == D("1000.00")
    assert resolved_spec(policy, district=None, on=date(2023, 7, 1)).tilted is None


@pytest.mark.django_db
def test_jing_7_nightly_bulk_run_uses_the_district_standard(district, other_district):
    """monitoring.bulk computes like claims.services: the district's standard applied."""
    from claims import services
    from claims.models import Bill
    from monitoring import bulk

    from .test_district_helpers import referred_bill

    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person, valid_from=date(2022, 1, 1))
    institution = InstitutionFactory(district=district)
    services.claim_create(person=person, district=district, applied_on=date(2023, 4, 1),
                          by=make_staff(roles.CASEWORKER, district=district), bills=[referred_bill(institution)],
                          payee_account="6222 **** 1234")
    assert Bill.objects.get(person=person).tilted == D("0.00")
    standard(district, "京朝医保发〔2023〕5号", "1000.00", "0.50")
    bulk.recompute_chunk(lo=person.pk, hi=person.pk)
    assert Bill.objects.get(person=person).tilted == D("1000.00")


@pytest.mark.django_db
def test_jing_7_admin_of_a_district_edits_only_their_district(client, district, other_district):
    admin_user = make_staff(roles.ADMINISTRATOR, district=district, username="chaoyang-admin")
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    theirs = standard(other_district, "京海医保发〔2023〕9号", "2000.00", "0.30")
    client.force_login(admin_user)
    add = reverse("admin:policies_districtpolicy_add")
    form = {"district": other_district.pk, "policy_code": "beijing-2023", "document_no": "京海医保发〔2024〕1号",
            "clause": "一", "title": "", "effective_from": "2024-01-01", "effective_to": "",
            "tilted_threshold": "500.00", "tilted_rate": "0.70", "tilted_cap": "", "tilted_in_region": "on",
            "overrides": "{}"}
    response = client.post(add, form)
    assert response.status_code == 200  # refused: 海淀 is not among the choices
    assert not DistrictPolicy.objects.filter(document_no="京海医保发〔2024〕1号").exists()
    assert client.get(reverse("admin:policies_districtpolicy_change", args=[theirs.pk])).status_code == 302
    response = client.post(add, {**form, "district": district.pk, "document_no": "京朝医保发〔2024〕1号"})
    assert response.status_code == 302, response.content.decode()[:2000]
    row = DistrictPolicy.objects.get(document_no="京朝医保发〔2024〕1号")
    assert row.overrides["tilted"]["threshold"] == "500.00" and row.updated_by == admin_user
    caseworker = make_staff(roles.CASEWORKER, district=district)
    caseworker.is_staff = True
    caseworker.save(update_fields=["is_staff"])
    client.force_login(caseworker)
    assert client.post(add, {**form, "district": district.pk, "document_no": "X"}).status_code == 403


@pytest.mark.django_db
def test_jing_7_policy_page_shows_district_standards(client, district, caseworker):
    standard(district, "京朝医保发〔2023〕5号", "1000.00", "0.50")
    policy = Policy.objects.get(code="beijing-2023", is_current=True)
    client.force_login(caseworker)
    page = client.get(reverse("policies:detail", args=[policy.pk])).content.decode()
    assert "区级标准" in page and "京朝医保发〔2023〕5号 三(二)" in page and "1000.00" in page


@pytest.mark.django_db
def test_jing_7_standard_that_does_not_validate_is_refused_naming_the_field(district):
    from policies.admin import DistrictPolicyForm

    form = DistrictPolicyForm(data={"district": district.pk, "policy_code": "beijing-2023", "document_no": "X",
                                    "clause": "1", "effective_from": "2023-01-01",
                                    "overrides": '{"tilted": {"threshold": "1", "rate": "2"}}'})
    assert not form.is_valid()
    assert "tilted.rate" in str(form.errors)
    bad = DistrictPolicyForm(data={"district": district.pk, "policy_code": "beijing-2023", "document_no": "X",
                                   "clause": "1", "effective_from": "2023-01-01", "overrides": '{"title": "x"}'})
    assert not bad.is_valid() and "title" in bad.errors["overrides"][0]
