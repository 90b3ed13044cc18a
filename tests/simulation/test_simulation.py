"""The what-if simulation (issue 19): drafts are never in force; a run replays the real bills
exactly as the engine gives them bill by bill; results are scoped."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from simulation import services
from simulation.models import SimulationPersonYear, SimulationRun

from .conftest import DEMO_YEAR, raised_cap_rules

pytestmark = pytest.mark.django_db
YEAR_START, YEAR_END = date(DEMO_YEAR, 1, 1), date(DEMO_YEAR, 12, 31)


def _draft(policy, user, cap="200000.00", scenario="BJ-3 住院限额 20 万"):
    draft = services.draft_create(base=policy, scenario=scenario, by=user)
    return services.draft_update(draft=draft, rules=raised_cap_rules(policy, cap), scenario=scenario, note="", by=user)


def _run(draft, user, django_capture_on_commit_callbacks, **kw):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_create(draft=draft, period_start=kw.get("start", YEAR_START),
                                  period_end=kw.get("end", YEAR_END), district=kw.get("district"), by=user)
    run.refresh_from_db()
    assert run.status == SimulationRun.Status.SUCCEEDED, run.error
    return run


def _real_rows():
    from claims.models import Bill, LedgerBucket, PaymentAdjustment, PersonYearLedger

    return (list(Bill.objects.order_by("pk").values_list("pk", "policy_id", "total_assistance", "computation_digest", "computed_at")),
            list(PersonYearLedger.objects.order_by("pk").values_list("pk", "total_assistance", "updated_at")),
            list(LedgerBucket.objects.order_by("pk").values_list("pk", "used", "cap")),
            PaymentAdjustment.objects.count())


def engine_bill_by_bill(region_id, draft_rules, start, end):
    """The expected figures, computed independently: every counted bill through the ORM adapters
    (``policies.adapters``) and ``assess_bill``, one person-year at a time, under the policy in force
    (``policy_in_force``) and under the draft spec."""
    from beneficiaries.models import Person
    from claims.models import Bill
    from claims.money import GRANTED_STATUSES
    from policies.adapters import bill_in, person_in
    from policies.engine import PolicySpec, YearState, assess_bill
    from policies.selectors import policy_in_force, region_stats, spec_of

    rules = dict(draft_rules, effective_from=start.isoformat(), effective_to=None)
    draft_spec = PolicySpec.from_dict(rules)
    stats = region_stats(region_id)
    bills = (Bill.objects.filter(person__insured_region_id=region_id, status__in=GRANTED_STATUSES,
                                 discharge_date__gte=start, discharge_date__lte=end)
             .select_related("institution").order_by("person_id", "discharge_date", "id"))
    by_py = defaultdict(list)
    for bill in bills:
        by_py[(bill.person_id, bill.discharge_date.year)].append(bill)
    out = {}
    for (person_id, year), rows in by_py.items():
        pin = person_in(Person.objects.get(pk=person_id))
        base_state, draft_state = YearState(year), YearState(year)
        base = draft = Decimal("0.00")
        for bill in rows:
            policy = policy_in_force(region=region_id, on=bill.discharge_date)
            if policy is not None:
                base += assess_bill(spec_of(policy), pin, bill_in(bill), base_state, stats).total
            draft += assess_bill(draft_spec, pin, bill_in(bill), draft_state, stats).total
        out[(person_id, year)] = (base, draft)
    return out


def test_bj3_inpatient_cap_200000_matches_the_engine_bill_by_bill(beijing_policy, admin_user, demo,
                                                                  django_capture_on_commit_callbacks):
    """Done-when 1: BJ-3's inpatient cap 160,000 → 200,000 in a draft, the demo year simulated:
    the totals and the gaining people are exactly what the engine gives bill by bill."""
    draft = _draft(beijing_policy, admin_user)
    run = _run(draft, admin_user, django_capture_on_commit_callbacks)
    expected = engine_bill_by_bill(beijing_policy.region_id, draft.rules, YEAR_START, YEAR_END)
    got = {(r.person_id, r.year): (r.base_total, r.draft_total)
           for r in SimulationPersonYear.objects.filter(run=run)}
    assert got == expected
    totals = run.summary["totals"]
    assert Decimal(totals["base"]) == sum(b for b, _d in expected.values())
    assert Decimal(totals["draft"]) == sum(d for _b, d in expected.values())
    gainers = {k: d - b for k, (b, d) in expected.items() if d > b}
    assert gainers, "nobody gains: the test would prove nothing"
    assert {(r.person_id, r.year): r.difference
            for r in SimulationPersonYear.objects.filter(run=run, difference__gt=0)} == gainers
    assert totals["gainers"] == len(gainers) and totals["losers"] == 0
    # the high-cost BJ-3 patient: 3 stays of 80,000 burden at 85 % = 204,000, capped at 160,000 now
    assert gainers[(demo["patient"].pk, DEMO_YEAR)] == Decimal("40000.00")
    # the cells and months add up to the same totals
    assert sum(Decimal(v[1]) for v in run.summary["cells"].values()) == Decimal(totals["draft"])
    assert sum(Decimal(v[0]) for v in run.summary["months"].values()) == Decimal(totals["base"])
    row = SimulationPersonYear.objects.get(run=run, person=demo["patient"])
    assert row.base_capped and row.draft_capped  # 204,000 due: capped at 160,000 now, at 200,000 under the draft


def test_a_draft_is_never_used_for_a_real_decision(beijing_policy, admin_user, demo, django_capture_on_commit_callbacks):
    """policy_in_force, the nightly picker and a recomputation ignore drafts; a simulation run
    writes no bill, ledger or payment adjustment."""
    from claims.models import Bill
    from claims.services import recompute_person_years
    from monitoring.bulk import PolicyPicker
    from policies.selectors import policy_in_force

    draft = _draft(beijing_policy, admin_user, cap="999999.00")
    on = date(DEMO_YEAR, 6, 1)
    assert policy_in_force(region=beijing_policy.region_id, on=on) == beijing_policy
    assert PolicyPicker.load().pick(beijing_policy.region_id, on) == beijing_policy
    before = _real_rows()
    run = _run(draft, admin_user, django_capture_on_commit_callbacks)
    assert run.summary["totals"]["gainers"] >= 1
    assert _real_rows() == before
    # a real recomputation of the patient still caps at 160,000 under the version in force
    patient = demo["patient"]
    recompute_person_years(person_years={(patient.pk, DEMO_YEAR)})
    bills = Bill.objects.filter(person=patient)
    assert {b.policy_id for b in bills} == {beijing_policy.pk}
    assert sum(b.total_assistance for b in bills) == Decimal("160000.00")


def test_only_administrators_draft_and_run(beijing_policy, demo):
    from django.contrib.auth import get_user_model

    caseworker = get_user_model().objects.get(username="jingban")
    with pytest.raises(PermissionDenied):
        services.draft_create(base=beijing_policy, scenario="x", by=caseworker)


def test_draft_rules_are_validated_by_the_engine(client, beijing_policy, admin_user):
    draft = services.draft_create(base=beijing_policy, scenario="坏规则", by=admin_user)
    rules = raised_cap_rules(beijing_policy, cap="-5")
    client.force_login(admin_user)
    import json

    response = client.post(reverse("simulation:draft", args=[draft.pk]),
                           {"scenario": "坏规则", "note": "", "rules": json.dumps(rules, ensure_ascii=False), "save_draft": "1"})
    assert response.status_code == 200
    assert "cap" in response.content.decode()  # the engine names the field
    draft.refresh_from_db()
    assert draft.rules == beijing_policy.rules


def test_pages_pdf_xlsx_person_and_compare(client, beijing_policy, admin_user, demo, django_capture_on_commit_callbacks):
    a = _run(_draft(beijing_policy, admin_user), admin_user, django_capture_on_commit_callbacks)
    b = _run(_draft(beijing_policy, admin_user, cap="120000.00", scenario="BJ-3 住院限额 12 万"), admin_user,
             django_capture_on_commit_callbacks)
    assert b.summary["totals"]["losers"] >= 1
    client.force_login(admin_user)
    page = client.get(reverse("simulation:run", args=[b.pk])).content.decode()
    patient = demo["patient"]
    assert patient.masked_id_number in page and patient.id_number not in page
    assert "month-chart" in page and "histogram-chart" in page
    pdf = client.get(reverse("simulation:pdf", args=[a.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    xlsx = client.get(reverse("simulation:xlsx", args=[b.pk]))
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    losers = list(book.worksheets[-1].iter_rows(values_only=True))
    assert losers[1][1] == patient.masked_id_number
    person = client.get(reverse("simulation:person", args=[a.pk, patient.pk]) + f"?year={DEMO_YEAR}").content.decode()
    assert "限额 160000.00" in person and "限额 200000.00" in person  # the cap line, now and draft, side by side
    compare = client.get(reverse("simulation:compare"), {"a": a.pk, "b": b.pk}).content.decode()
    assert "BJ-3 住院限额 12 万" in compare and "BJ-3 住院限额 20 万" in compare


def test_runs_are_scoped(client, beijing_policy, admin_user, demo, django_capture_on_commit_callbacks):
    """Another district's caseworker gets 404 for a Chaoyang run, its person page and exports; a
    user without a profile sees nothing."""
    from django.contrib.auth import get_user_model

    from tests.factories import UserFactory

    run = _run(_draft(beijing_policy, admin_user), admin_user, django_capture_on_commit_callbacks, district=demo["chaoyang"])
    draft = run.draft
    haidian = get_user_model().objects.get(username="haidian-jingban")
    for user in (haidian, UserFactory(username="nobody-sim")):
        client.force_login(user)
        for url in (reverse("simulation:run", args=[run.pk]), reverse("simulation:pdf", args=[run.pk]),
                    reverse("simulation:xlsx", args=[run.pk]), reverse("simulation:progress", args=[run.pk]),
                    reverse("simulation:person", args=[run.pk, demo["patient"].pk]),
                    reverse("simulation:draft", args=[draft.pk])):
            # another district's staff: 404; a user with no role at all is refused before (403)
            assert client.get(url).status_code in ((404,) if user is haidian else (403, 404)), url
        assert demo["patient"].name not in client.get(reverse("simulation:index")).content.decode()
    chaoyang = get_user_model().objects.get(username="jingban")
    client.force_login(chaoyang)
    assert client.get(reverse("simulation:run", args=[run.pk])).status_code == 200
    # editing drafts is the administrator's (simulation.run): refused before the draft is looked up
    assert client.post(reverse("simulation:draft", args=[999999])).status_code in (403, 404)


def test_relief_on_application_under_both(beijing_policy, admin_user, demo, django_capture_on_commit_callbacks):
    """六(三): the period's applications in review or approved are recomputed with their gathered
    bills; "now" equals the relief recorded on them, the draft's higher band rates give more."""
    from applications.models import Application, Status

    draft = services.draft_create(base=beijing_policy, scenario="依申请救助提高比例", by=admin_user)
    rules = raised_cap_rules(beijing_policy, cap="160000.00")
    for band in rules["application_schemes"][0]["bands"]:
        band["rate"] = "0.60"
    services.draft_update(draft=draft, rules=rules, scenario=draft.scenario, note="", by=admin_user)
    run = _run(draft, admin_user, django_capture_on_commit_callbacks, start=date(2025, 1, 1), end=date(2026, 12, 31))
    apps = Application.objects.filter(received_on__year__in=(2025, 2026), status__in=[Status.REVIEWING, Status.APPROVED])
    assert apps.exists(), "the demo holds no application in the period: the test would prove nothing"
    got = run.summary["applications"]
    assert got["count"] == apps.count() and got["errors"] == 0
    assert Decimal(got["base"]) == sum(a.relief for a in apps)
    assert Decimal(got["draft"]) > Decimal(got["base"]) and got["gainers"] == apps.count()


def test_simulation_tasks_go_to_their_own_queue(monkeypatch, beijing_policy, admin_user, django_capture_on_commit_callbacks):
    """Workers on their own queue: every simulation task is declared on ``simulation`` and the run
    is sent there (the default queue of the office's tasks is never used)."""
    from simulation import tasks

    assert {tasks.plan_simulation.queue, tasks.simulate_chunk.queue, tasks.finalize_simulation.queue} == {"simulation"}
    sent = []
    monkeypatch.setattr(tasks.plan_simulation, "apply_async", lambda args, **kw: sent.append((args, kw)))
    draft = services.draft_create(base=beijing_policy, scenario="队列", by=admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_create(draft=draft, period_start=YEAR_START, period_end=YEAR_END, by=admin_user)
    assert [(args, kw["queue"]) for args, kw in sent] == [([run.pk], "simulation")]  # through operations.outbox


def test_an_unchanged_copy_changes_nobody(beijing_policy, admin_user, demo, django_capture_on_commit_callbacks):
    """Same identities, same order, same year start: a draft that is an unchanged copy of the
    version in force gives every person-year exactly what it gets now."""
    draft = services.draft_create(base=beijing_policy, scenario="不变", by=admin_user)
    run = _run(draft, admin_user, django_capture_on_commit_callbacks)
    rows = SimulationPersonYear.objects.filter(run=run)
    assert rows.count() == run.person_years > 0
    assert not rows.exclude(difference=0).exists()
    assert run.summary["totals"]["base"] == run.summary["totals"]["draft"]
    assert all(v[0] == v[1] for v in run.summary["cells"].values())


def test_now_is_what_the_real_ledger_holds(beijing_policy, admin_user, demo, django_capture_on_commit_callbacks):
    """The simulated "now" of every person-year equals the assistance the real recalculation
    stored on its granted bills (the demo's bills were computed by claims.services)."""
    from django.db.models import Sum

    from claims import money
    from claims.models import Bill

    run = _run(services.draft_create(base=beijing_policy, scenario="现行核对", by=admin_user), admin_user,
               django_capture_on_commit_callbacks)
    stored = dict(money.bills_granted(Bill.objects.filter(discharge_date__year=DEMO_YEAR, computed_at__isnull=False))
                  .values("person_id").annotate(total=Sum("total_assistance")).values_list("person_id", "total"))
    simulated = dict(SimulationPersonYear.objects.filter(run=run).exclude(person=demo["patient"])
                     .values_list("person_id", "base_total"))
    assert stored and {k: v for k, v in simulated.items() if k in stored} == stored
    assert all(v == 0 for k, v in simulated.items() if k not in stored)  # granted bills never computed: 0 stored


def _editor_data(draft, **changes) -> dict:
    from simulation.forms import DraftStructuredForm

    form = DraftStructuredForm(draft=draft)
    data = {name: ("" if form.initial.get(name) is None else form.initial.get(name)) for name in form.fields}
    data.update(changes)
    return data


def test_bj3_cap_200000_through_the_structured_editor_matches_the_engine(client, beijing_policy, admin_user, demo,
                                                                        django_capture_on_commit_callbacks):
    """Issue 19 done-when 1, through the editor's form: the administrator copies the version in
    force, changes 第3档 住院 封顶线 160,000 → 200,000 in the structured editor (preview with the
    diff, nothing saved; then confirm), simulates the demo year: the totals and the gaining people
    are exactly what the engine gives bill by bill, and no real decision uses the draft."""
    from policies.selectors import policy_in_force

    client.force_login(admin_user)
    draft = services.draft_create(base=beijing_policy, scenario="BJ-3 住院限额 20 万", by=admin_user)
    url = reverse("simulation:draft_edit", args=[draft.pk])
    assert client.get(url).status_code == 200
    cap = "tiers__2__buckets__inpatient__cap"
    preview = client.post(url, _editor_data(draft, **{cap: "200,000", "action": "preview"}))
    text = preview.content.decode()
    assert preview.status_code == 200 and "第3档 住院 封顶线" in text and "160,000.00" in text and "200,000.00" in text
    draft.refresh_from_db()
    assert draft.rules == beijing_policy.rules  # nothing saved before confirming
    response = client.post(url, _editor_data(draft, **{cap: "200,000", "action": "confirm"}))
    assert response.status_code == 302 and response["Location"] == reverse("simulation:draft", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.rules == raised_cap_rules(beijing_policy)  # exactly that one figure changed
    assert policy_in_force(region=beijing_policy.region_id, on=date(DEMO_YEAR, 6, 1)) == beijing_policy
    run = _run(draft, admin_user, django_capture_on_commit_callbacks)
    expected = engine_bill_by_bill(beijing_policy.region_id, draft.rules, YEAR_START, YEAR_END)
    got = {(r.person_id, r.year): (r.base_total, r.draft_total) for r in SimulationPersonYear.objects.filter(run=run)}
    assert got == expected
    assert Decimal(run.summary["totals"]["draft"]) == sum(d for _b, d in expected.values())
    gainers = {k: d - b for k, (b, d) in expected.items() if d > b}
    assert gainers[(demo["patient"].pk, DEMO_YEAR)] == Decimal("40000.00")
    assert run.summary["totals"]["gainers"] == len(gainers)


def test_the_draft_editor_refuses_an_invalid_cap_naming_the_field(client, beijing_policy, admin_user):
    client.force_login(admin_user)
    draft = services.draft_create(base=beijing_policy, scenario="坏限额", by=admin_user)
    response = client.post(reverse("simulation:draft_edit", args=[draft.pk]),
                           _editor_data(draft, tiers__2__buckets__inpatient__cap="-5", action="confirm"))
    assert response.status_code == 200
    assert "第3档 住院 封顶线：必须是不小于0的金额" in response.content.decode()
    draft.refresh_from_db()
    assert draft.rules == beijing_policy.rules


def test_only_administrators_open_the_draft_editor(client, beijing_policy, admin_user, demo):
    from django.contrib.auth import get_user_model

    from organizations import roles
    from tests.factories import make_staff

    draft = services.draft_create(base=beijing_policy, scenario="权限", by=admin_user)
    url = reverse("simulation:draft_edit", args=[draft.pk])
    client.force_login(make_staff(roles.CASEWORKER, district=demo["chaoyang"], city_level=True, username="bj-city-worker"))
    assert client.get(reverse("simulation:draft", args=[draft.pk])).status_code == 200  # may read the draft
    assert client.get(url).status_code == 403
    assert client.post(url, _editor_data(draft, action="confirm")).status_code == 403
    client.force_login(get_user_model().objects.get(username="haidian-jingban"))
    assert client.get(reverse("simulation:draft_edit", args=[draft.pk])).status_code in (403, 404)
