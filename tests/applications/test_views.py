"""Screens: every list/detail/action is scoped (404 outside), role-gated, and shows the work."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from applications.models import Application, Status
from organizations import dashboard

from .conftest import bill, receipt
from .workflow import receive, to_gathering, to_reviewing

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def reviewing(household, patient, spouse, hospital, caseworker, civil_certifier):
    bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9), settlement_no="ZY-2023-0001")
    bill(spouse, hospital, admission_date=date(2023, 8, 1), discharge_date=date(2023, 8, 9), settlement_no="ZY-2023-0002")
    return to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                        caseworker=caseworker, certifier=civil_certifier)


def test_index_lists_queue_with_days_since_received(client, reviewing, reviewer):
    response = login(client, reviewer).get(reverse("applications:index") + "?queue=to_decide")
    assert response.status_code == 200
    text = response.content.decode()
    assert reviewing.number in text
    assert f"{(date.today() - reviewing.received_on).days} 天" in text
    assert reviewing.applicant.id_number not in text  # masked


def test_index_no_n_plus_one(client, household, patient, caseworker, django_assert_max_num_queries, district):
    from tests.factories import HouseholdFactory, PersonFactory

    for _ in range(15):
        h = HouseholdFactory(district=district)
        p = PersonFactory(hukou_district=district, household=h)
        receive(household=h, patient=p, caseworker=caseworker)
    login(client, caseworker)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("applications:index"))
    assert response.status_code == 200 and len(response.context["applications"]) == 15


def test_other_district_sees_nothing(client, reviewing, other_caseworker, civil_certifier_other):
    for user in (other_caseworker, civil_certifier_other):
        login(client, user)
        assert reviewing.number not in client.get(reverse("applications:index") + "?queue=open").content.decode()
        for name in ("detail", "household", "assess", "extra_bill"):
            assert client.get(reverse(f"applications:{name}", args=[reviewing.pk])).status_code in (404, 403), name
        for name in ("send", "gather", "compute", "decide", "return"):
            assert client.post(reverse(f"applications:{name}", args=[reviewing.pk])).status_code in (404, 403), name
    login(client, other_caseworker)
    assert client.get(reverse("applications:detail", args=[reviewing.pk])).status_code == 404
    assert client.post(reverse("applications:decide", args=[reviewing.pk]), {"decision": "approve"}).status_code == 403
    reviewing.refresh_from_db()
    assert reviewing.status == Status.REVIEWING


def test_certifier_sees_assessment_work_not_bills(client, reviewing, civil_certifier, caseworker, household, patient):
    login(client, civil_certifier)
    detail = client.get(reverse("applications:detail", args=[reviewing.pk]))
    assert detail.status_code == 200
    assert "ZY-2023-0001" not in detail.content.decode()
    page = client.get(reverse("applications:household", args=[reviewing.pk])).content.decode()
    assert reviewing.applicant.name in page and "ZY-2023-0001" not in page
    # the caseworker sees them
    login(client, caseworker)
    assert "ZY-2023-0001" in client.get(reverse("applications:household", args=[reviewing.pk])).content.decode()


def test_certifier_does_not_see_applications_not_sent_to_civil_affairs(client, household, spouse, caseworker, civil_certifier):
    application = receive(household=household, patient=spouse, caseworker=caseworker)
    login(client, civil_certifier)
    assert client.get(reverse("applications:detail", args=[application.pk])).status_code == 404


def test_household_view_members_identities_bills_and_computation(client, reviewing, reviewer, spouse):
    page = login(client, reviewer).get(reverse("applications:household", args=[reviewing.pk])).content.decode()
    assert reviewing.applicant.name in page and spouse.name in page
    assert "因病致贫" in page  # the identity granted by the assessment
    assert "ZY-2023-0002" in page  # member's counted bill
    assert "京医保发〔2022〕37号 六(三)" in page  # the clause of the explanation
    assert spouse.id_number not in page


def test_create_by_id_number(client, household, patient, caseworker):
    login(client, caseworker)
    assert client.get(reverse("applications:create")).status_code == 200
    response = client.post(reverse("applications:create"), {
        "patient_id_number": patient.id_number, "received_on": "2024-03-01", "channel": "window",
        "contact_name": "王小明", "contact_phone": "13800000000"})
    application = Application.objects.get()
    assert response.status_code == 302 and response.url == reverse("applications:detail", args=[application.pk])
    # the second in the same year: the form shows the refusal, naming the first
    response = client.post(reverse("applications:create"), {
        "patient_id_number": patient.id_number, "received_on": "2024-05-01", "channel": "window"})
    assert response.status_code == 200 and application.number in response.content.decode()


def test_create_refuses_person_outside_district(client, caseworker, other_district):
    from tests.factories import HouseholdFactory, PersonFactory

    outsider = PersonFactory(hukou_district=other_district, household=HouseholdFactory(district=other_district))
    response = login(client, caseworker).post(reverse("applications:create"), {
        "patient_id_number": outsider.id_number, "received_on": "2024-03-01", "channel": "window"})
    assert response.status_code == 200 and not Application.objects.exists()
    assert "patient_id_number" in response.context["form"].errors


def test_reviewer_cannot_create(client, reviewer):
    assert login(client, reviewer).get(reverse("applications:create")).status_code == 403


def test_full_workflow_through_screens(client, household, patient, hospital, caseworker, civil_certifier, reviewer):
    bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9))
    application = receive(household=household, patient=patient, caseworker=caseworker)
    login(client, caseworker).post(reverse("applications:send", args=[application.pk]))
    login(client, civil_certifier)
    assert client.get(reverse("applications:assess", args=[application.pk])).status_code == 200
    client.post(reverse("applications:assess", args=[application.pk]), {
        "annual_income": "20000", "assets": "5000", "members_count": "2", "result": "certified", "reason": "",
        "document_ref": "京朝民〔2024〕3号"})
    login(client, caseworker)
    client.post(reverse("applications:extra_bill", args=[application.pk]), {
        "person": patient.pk, "institution_name": "外地医院", "designated": "on", "settlement_no": "W1",
        "visit_type": "inpatient", "admission_date": "2023-10-01", "discharge_date": "2023-10-05",
        "total_cost": "12000", "policy_scope_cost": "12000", "basic_paid": "2000", "critical_paid": "0",
        "other_paid": "0", "assistance_paid": "0", "receipt": receipt()})
    client.post(reverse("applications:compute", args=[application.pk]), {"confirmed": "1"})  # after the figure is shown
    application.refresh_from_db()
    assert application.status == Status.REVIEWING and application.burden == Decimal("30000.00")
    login(client, reviewer)
    detail = client.get(reverse("applications:detail", args=[application.pk]))
    assert "9000.00" in detail.content.decode()
    client.post(reverse("applications:decide", args=[application.pk]), {"decision": "approve", "payment_route": "银行代发", "confirmed": "1"})
    application.refresh_from_db()
    assert application.status == Status.APPROVED and application.relief == Decimal("9000.00")


def test_refusal_shown_as_message_not_lost(client, reviewing, caseworker):
    response = login(client, caseworker).post(reverse("applications:send", args=[reviewing.pk]), follow=True)
    assert response.status_code == 200
    assert "不能办理此环节" in response.content.decode()


def test_extra_bill_form_errors_name_the_field(client, household, patient, caseworker, civil_certifier):
    application = to_gathering(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    response = login(client, caseworker).post(reverse("applications:extra_bill", args=[application.pk]), {
        "person": patient.pk, "institution_name": "外地医院", "designated": "on", "settlement_no": "W1",
        "visit_type": "inpatient", "admission_date": "2023-10-01", "discharge_date": "2023-10-05",
        "total_cost": "100", "policy_scope_cost": "12000", "basic_paid": "0", "critical_paid": "0",
        "other_paid": "0", "assistance_paid": "0", "receipt": receipt()})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["policy_scope_cost"] and not form.non_field_errors()
    assert form.has_error("policy_scope_cost", "invalid_amounts")


def test_documents_download_scoped(client, household, patient, caseworker, other_caseworker):
    from applications import services

    application = receive(household=household, patient=patient, caseworker=caseworker)
    document = services.document_attach(application=application, by=caseworker, file=receipt(), kind="other")
    url = reverse("applications:document", args=[application.pk, document.pk])
    assert login(client, caseworker).get(url).status_code == 200
    assert login(client, other_caseworker).get(url).status_code == 404
    login(client, caseworker)
    response = client.post(reverse("applications:document_upload", args=[application.pk]),
                           {"kind": "id_card", "file": receipt("id.pdf"), "description": "身份证复印件"})
    assert response.status_code == 302 and application.documents.count() == 2


def test_create_from_warning_prefills_household(client, household, patient, spouse, caseworker, other_caseworker):
    from monitoring.models import EarlyWarning

    warning = EarlyWarning.objects.create(household=household, year=2023, kind="illness_poverty",
                                          burden=Decimal("60000"), threshold=Decimal("30000"))
    url = reverse("applications:create_from_warning", args=[warning.pk])
    assert login(client, other_caseworker).get(url).status_code == 404
    page = login(client, caseworker).get(url)
    assert page.status_code == 200 and spouse.name in page.content.decode()
    response = client.post(url, {"applicant": spouse.pk, "received_on": "2024-02-01"})
    application = Application.objects.get()
    assert response.status_code == 302 and application.household == household and application.applicant == spouse
    warning.refresh_from_db()
    assert warning.status == "referred" and application.warning_id == warning.pk


def test_dashboard_queues_per_role(reviewing, caseworker, reviewer, civil_certifier, household, spouse):
    titles = {q.title.split("（")[0]: q.count for q in dashboard.work_queues(reviewer) if "依申请" in q.title}
    assert titles == {"依申请救助：待审核决定": 1}
    assert any("家庭经济状况核对" in q.title and q.count == 0 for q in dashboard.work_queues(civil_certifier))
    receive(household=household, patient=spouse, caseworker=caseworker, on=date(2025, 1, 5))
    cw = {q.title.split("（")[0]: q.count for q in dashboard.work_queues(caseworker) if "依申请" in q.title}
    assert cw == {"依申请救助：待转民政核对": 1, "依申请救助：待归集计算": 0}
    assert any("最久已受理" in q.title for q in dashboard.work_queues(caseworker))


def test_letter_content(reviewing, reviewer, monkeypatch):
    import sys
    import types

    from applications import services
    from applications.letters import letter_content

    monkeypatch.setitem(sys.modules, "reports.services", types.ModuleType("reports.services"))
    services.application_decide(application=reviewing, by=reviewer, approve=True, payment_route="银行代发")
    reviewing.refresh_from_db()
    content = letter_content(reviewing)
    assert content["decision"] == "approved" and content["amount"] == Decimal("13000.00")
    assert content["recipient_masked_id"] == reviewing.applicant.masked_id_number
    assert content["recipient_masked_id"] != reviewing.applicant.id_number
    assert {b["settlement_no"] for b in content["bills"]} == {"ZY-2023-0001", "ZY-2023-0002"}
    assert all(b["counted"] for b in content["bills"])
    assert any("六(三)" in line["clause"] for line in content["explanation"])
    assert content["payment_route"] == "银行代发" and content["district_name"] == "朝阳区"
    assert content["policy_document"].startswith("京医保发〔2022〕37号")
    keys = {"recipient_name", "recipient_masked_id", "district_name", "decision", "amount", "bills", "explanation",
            "clauses", "reason", "payment_route", "policy_document"}
    assert keys <= set(content)


def test_detail_and_household_queries_bounded(client, reviewing, reviewer, caseworker, django_assert_max_num_queries,
                                             hospital, patient):
    from applications import services

    services.application_return(application=reviewing, by=reviewer, note="补充费用")
    for i in range(10):
        bill(patient, hospital, admission_date=date(2023, 10, 1), discharge_date=date(2023, 10, 2 + i % 5))
    services.relief_compute(application=reviewing, by=caseworker)
    assert reviewing.counted_bills.count() == 12
    login(client, reviewer)
    client.get(reverse("applications:detail", args=[reviewing.pk]))  # warm the role/profile caches
    with django_assert_max_num_queries(25):
        assert client.get(reverse("applications:detail", args=[reviewing.pk])).status_code == 200
    with django_assert_max_num_queries(25):
        assert client.get(reverse("applications:household", args=[reviewing.pk])).status_code == 200


def test_city_level_auditor_reads_but_cannot_act(client, reviewing, auditor):
    login(client, auditor)
    page = client.get(reverse("applications:detail", args=[reviewing.pk]))
    assert page.status_code == 200 and "ZY-2023-0001" in page.content.decode()
    assert client.post(reverse("applications:decide", args=[reviewing.pk]), {"decision": "approve"}).status_code == 403
    assert client.get(reverse("applications:create")).status_code == 403


def test_index_offers_open_warnings_of_the_district(client, household, patient, caseworker, other_caseworker,
                                                    django_assert_max_num_queries):
    from monitoring.models import EarlyWarning

    warning = EarlyWarning.objects.create(household=household, year=2025, kind="illness_poverty",
                                          burden=Decimal("61000"), threshold=Decimal("40000"))
    url = reverse("applications:create_from_warning", args=[warning.pk])
    login(client, caseworker)
    with django_assert_max_num_queries(14):
        page = client.get(reverse("applications:index")).content.decode()
    assert url in page and patient.name in page
    assert url not in login(client, other_caseworker).get(reverse("applications:index")).content.decode()
