"""API fixtures: a hospital client in the person's district, one in another district, a civil-affairs agency client."""
from __future__ import annotations

from datetime import date

import pytest

from api import services
from tests.factories import AgencyFactory, CertificationFactory, InstitutionFactory, PersonFactory


@pytest.fixture
def institution(district):
    return InstitutionFactory(district=district, code="H11010500011", name="中日友好医院")


@pytest.fixture
def person(district):
    p = PersonFactory(hukou_district=district)
    CertificationFactory(person=p, valid_from=date(2022, 1, 1))
    return p


@pytest.fixture
def hospital(institution):
    client, token = services.api_client_create(name="中日友好医院HIS", institution=institution, rate_limit=10_000)
    client.token = token
    return client


@pytest.fixture
def other_hospital(other_district):
    inst = InstitutionFactory(district=other_district, code="H11010800001", name="海淀医院")
    client, token = services.api_client_create(name="海淀医院HIS", institution=inst, rate_limit=10_000)
    client.token = token
    return client


@pytest.fixture
def civil_agency(district):
    agency = AgencyFactory(kind="civil_affairs", district=district, region=district.region)
    client, token = services.api_client_create(name="民政系统", agency=agency, rate_limit=10_000)
    client.token = token
    return client


def auth(client) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {client.token}"}


def settlement(person, institution, setl_id="S1", **kw) -> dict:
    body = {
        "setl_id": setl_id, "mdtrt_id": "MD1", "psn_no": "P1", "psn_name": person.name, "certno": person.id_number,
        "insutype": "390", "psn_type": "11", "setl_time": "2023-03-10T10:30:00+08:00", "begndate": "2023-03-01",
        "enddate": "2023-03-10", "med_type": "21", "fixmedins_code": institution.code, "fixmedins_name": institution.name,
        "medfee_sumamt": "31000.00", "inscp_scp_amt": "30000.00", "hifp_pay": "10000.00",
    }
    body.update(kw)
    return body
