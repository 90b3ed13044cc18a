"""benchmarks/load_test.py (issue 20): bounded, loopback only, and every page beside its floor.

The script is what a district IT person runs on the server; these tests run it for real against
the test server with a signed-in caseworker, and check the contract of its report.
"""
from __future__ import annotations

import argparse
from datetime import date

import pytest

from benchmarks import load_test
from claims import services
from organizations import roles
from tests.factories import make_staff


@pytest.mark.parametrize("base", ["http://10.0.0.5:8000", "http://example.org", "ftp://127.0.0.1/"])
def test_issue_20_the_load_test_refuses_any_host_but_this_machine(base):
    with pytest.raises(SystemExit):
        load_test.loopback_only(base)


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"])
def test_issue_20_the_load_test_accepts_loopback(base):
    load_test.loopback_only(base)  # no SystemExit


def test_issue_20_the_load_test_mix_holds_its_floor_and_the_issues_pages():
    kinds = {kind for kind, _weight in load_test.MIX}
    assert load_test.FLOOR in kinds
    assert {"claim_list", "bill_list", "bill_deep", "claim_detail", "person_detail", "search",
            "application_list", "fund_report"} <= kinds


def test_issue_20_the_summary_gives_each_page_against_the_floor_of_the_same_run():
    lines = load_test.summary({load_test.FLOOR: [10.0] * 20, "claim_list": [30.0] * 18 + [80.0] * 2})
    header, *rows = lines
    assert "p50/floor" in header and "p95/floor" in header
    claim = next(r for r in rows if r.startswith("claim_list"))
    assert claim.split()[-2:] == ["3.0x", "8.0x"]  # p50 30 / 10; p95 (nearest rank) 80 / 10
    floor = next(r for r in rows if r.startswith(load_test.FLOOR))
    assert floor.split()[-2:] == ["1.0x", "1.0x"]


@pytest.mark.django_db(transaction=True)
def test_issue_20_the_load_test_runs_bounded_against_a_live_server_without_errors(live_server, capsys):
    user = make_staff(roles.CASEWORKER)
    user.set_password("load-test-pass-2026")
    user.save()
    args = argparse.Namespace(base=live_server.url, user=f"{user.username}:load-test-pass-2026", reviewer=None,
                              clients=2, requests=24, seconds=60, writes=False)
    assert load_test.run(args) == 0  # no status >= 400, no connection failure
    out = capsys.readouterr().out
    assert "24 requests from 2 clients" in out  # bounded: exactly the budget, no more
    assert "errors: 0" in out


def test_issue_20_totp_is_rfc_6238():
    # RFC 6238 appendix B, SHA-1, secret "12345678901234567890": T = 59 s gives 94287082 (8 digits)
    key = b"12345678901234567890".hex()
    assert load_test.totp(key, at=59, digits=8) == "94287082"
    assert load_test.totp(key, at=1111111109, digits=8) == "07081804"


@pytest.mark.django_db(transaction=True)
def test_issue_20_the_load_tests_reviewer_passes_the_second_factor_and_really_approves(live_server, capsys):
    """With --writes the reviewer signs in with the second factor and approves through the
    confirmation (a POST without it only renders the confirmation page and approves nothing)."""
    from claims.models import Claim, ClaimStatus
    from tests.claims.conftest import bill_data
    from tests.factories import CertificationFactory, InstitutionFactory, PersonFactory
    from tests.otp import confirmed_device

    caseworker = make_staff(roles.CASEWORKER)
    district = caseworker.staff_profile.district
    reviewer = make_staff(roles.REVIEWER, district=district)
    for user in (caseworker, reviewer):
        user.set_password("load-test-pass-2026")
        user.save()
    device = confirmed_device(reviewer)
    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person, valid_from=date(2022, 1, 1))
    institution = InstitutionFactory(district=district)
    claim = services.claim_create(person=person, district=district, applied_on=date(2023, 4, 1), by=caseworker,
                                  bills=[bill_data(institution)], payee_account="6222 **** 1234")
    services.claim_submit(claim=claim, by=caseworker)
    args = argparse.Namespace(base=live_server.url, user=f"{caseworker.username}:load-test-pass-2026",
                              reviewer=f"{reviewer.username}:load-test-pass-2026", reviewer_totp=device.key,
                              clients=1, requests=12, seconds=60, writes=True)
    assert load_test.run(args) == 0
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED
    assert "approve" in capsys.readouterr().out
