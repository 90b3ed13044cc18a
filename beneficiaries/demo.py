"""Demo registry for ``manage.py seed_demo``: ~40 persons, 8 households, certifications.

Idempotent: persons are looked up by ID number, households by their head, certifications by
(person, category, valid_from). ID numbers are synthetic but valid (``idnumber.make`` with the
demo districts' codes and a fixed sequence), so runs always produce the same people.

Adds to ``ctx``: ``persons`` (list), ``person`` (dict key -> Person for the named cases below:
``multi_identity``, ``illness_poverty_patient``, ``illness_poverty_spouse``, ``minimum_living``,
``extreme_poverty``, ``ended``, ``haidian``, ``non_beneficiary``).
"""
from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from organizations.models import Agency, AgencyKind, District

from . import idnumber
from .models import Category, Certification, Household, InsuranceType, Person, Relation

# (key, name, district code, birth date, male, disability grade, insurance)
PEOPLE = [
    ("multi_identity", "张桂兰", "110105", date(1948, 3, 12), False, 2, InsuranceType.RESIDENT),
    ("illness_poverty_patient", "李建军", "110105", date(1969, 7, 4), True, None, InsuranceType.EMPLOYEE),
    ("illness_poverty_spouse", "王秀英", "110105", date(1971, 11, 23), False, None, InsuranceType.RESIDENT),
    ("illness_poverty_child", "李晓雨", "110105", date(2004, 5, 30), False, None, InsuranceType.RESIDENT),
    ("minimum_living", "刘志强", "110105", date(1975, 1, 18), True, None, InsuranceType.RESIDENT),
    ("minimum_living_spouse", "陈美华", "110105", date(1978, 9, 2), False, None, InsuranceType.RESIDENT),
    ("minimum_living_child", "刘子涵", "110105", date(2010, 6, 15), True, None, InsuranceType.RESIDENT),
    ("extreme_poverty", "赵德明", "110105", date(1941, 12, 1), True, 1, InsuranceType.RESIDENT),
    ("ended", "孙丽娟", "110105", date(1966, 4, 9), False, None, InsuranceType.RESIDENT),
    ("veteran", "周国庆", "110105", date(1952, 10, 1), True, 3, InsuranceType.RESIDENT),
    ("hardship_worker", "吴海燕", "110105", date(1973, 8, 21), False, None, InsuranceType.EMPLOYEE),
    ("severe_disability", "郑伟", "110105", date(1985, 2, 27), True, 1, InsuranceType.RESIDENT),
    ("low_income", "马淑珍", "110105", date(1958, 5, 5), False, None, InsuranceType.RESIDENT),
    ("hardship_allowance", "胡永昌", "110105", date(1950, 3, 3), True, None, InsuranceType.RESIDENT),
    ("returned_youth", "郭振华", "110105", date(1953, 6, 6), True, 2, InsuranceType.EMPLOYEE),
    ("downsized", "何玉兰", "110105", date(1938, 9, 19), False, None, InsuranceType.RESIDENT),
    ("marginal", "高文博", "110105", date(1980, 12, 12), True, None, InsuranceType.RESIDENT),
    ("marginal_spouse", "林晓红", "110105", date(1982, 1, 30), False, None, InsuranceType.RESIDENT),
    ("monitored", "罗长贵", "110105", date(1962, 7, 7), True, None, InsuranceType.RESIDENT),
    ("non_beneficiary", "梁宏伟", "110105", date(1970, 3, 8), True, None, InsuranceType.EMPLOYEE),
    ("non_beneficiary_2", "宋佳怡", "110105", date(1995, 4, 16), False, None, InsuranceType.EMPLOYEE),
    ("orphan", "唐小宝", "110105", date(2012, 8, 8), True, None, InsuranceType.RESIDENT),
    ("haidian", "许明辉", "110108", date(1964, 11, 11), True, None, InsuranceType.RESIDENT),
    ("haidian_spouse", "韩雪梅", "110108", date(1966, 2, 14), False, None, InsuranceType.RESIDENT),
    ("haidian_2", "冯建国", "110108", date(1949, 10, 1), True, 2, InsuranceType.RESIDENT),
    ("haidian_3", "邓丽萍", "110108", date(1977, 3, 21), False, None, InsuranceType.RESIDENT),
    ("haidian_4", "曹志远", "110108", date(1959, 9, 9), True, None, InsuranceType.RESIDENT),
    ("haidian_5", "彭玉珍", "110108", date(1945, 5, 20), False, None, InsuranceType.RESIDENT),
    ("haidian_6", "曾凡军", "110108", date(1988, 12, 3), True, 1, InsuranceType.RESIDENT),
    ("haidian_7", "萧婷", "110108", date(1992, 6, 18), False, None, InsuranceType.EMPLOYEE),
    ("haidian_8", "田守义", "110108", date(1955, 1, 1), True, None, InsuranceType.RESIDENT),
    ("dongcheng", "董秀芳", "110101", date(1957, 7, 17), False, None, InsuranceType.RESIDENT),
    ("dongcheng_spouse", "袁德胜", "110101", date(1955, 4, 4), True, 2, InsuranceType.RESIDENT),
    ("dongcheng_2", "潘志刚", "110101", date(1968, 10, 10), True, None, InsuranceType.RESIDENT),
    ("dongcheng_3", "蒋慧敏", "110101", date(1979, 2, 2), False, None, InsuranceType.RESIDENT),
    ("dongcheng_4", "蔡国华", "110101", date(1946, 8, 15), True, None, InsuranceType.RESIDENT),
    ("dongcheng_5", "余翠兰", "110101", date(1951, 11, 30), False, None, InsuranceType.RESIDENT),
    ("dongcheng_6", "杜明远", "110101", date(1990, 9, 1), True, None, InsuranceType.EMPLOYEE),
    ("dongcheng_7", "叶思琪", "110101", date(2008, 3, 3), False, None, InsuranceType.RESIDENT),
    ("dongcheng_8", "程金福", "110101", date(1943, 12, 24), True, 1, InsuranceType.RESIDENT),
]

# (head key, [(member key, relation)], address)
HOUSEHOLDS = [
    ("illness_poverty_patient", [("illness_poverty_spouse", Relation.SPOUSE), ("illness_poverty_child", Relation.CHILD)],
     "朝阳区劲松街道劲松三区"),
    ("minimum_living", [("minimum_living_spouse", Relation.SPOUSE), ("minimum_living_child", Relation.CHILD)],
     "朝阳区双井街道九龙社区"),
    ("marginal", [("marginal_spouse", Relation.SPOUSE)], "朝阳区潘家园街道华威西里"),
    ("multi_identity", [], "朝阳区八里庄街道红庙社区"),
    ("haidian", [("haidian_spouse", Relation.SPOUSE)], "海淀区中关村街道黄庄社区"),
    ("haidian_2", [("haidian_5", Relation.SPOUSE)], "海淀区万寿路街道"),
    ("dongcheng_spouse", [("dongcheng", Relation.SPOUSE), ("dongcheng_7", Relation.GRANDCHILD)], "东城区东四街道"),
    ("dongcheng_4", [("dongcheng_5", Relation.SPOUSE)], "东城区和平里街道"),
]

# (person key, category, valid_from, valid_until, document_ref)
CERTIFICATIONS = [
    ("multi_identity", "minimum_living", date(2021, 3, 1), None, "京朝民低〔2021〕15号"),
    ("multi_identity", "severe_disability", date(2020, 6, 1), None, "京朝残〔2020〕8号"),
    ("multi_identity", "entitled_group", date(2019, 1, 1), None, "京朝退役〔2019〕3号"),
    ("illness_poverty_patient", "illness_poverty_patient", date(2023, 4, 10), None, "京朝民医〔2023〕2号"),
    ("minimum_living", "minimum_living", date(2022, 1, 1), None, "京朝民低〔2022〕31号"),
    ("minimum_living_spouse", "minimum_living", date(2022, 1, 1), None, "京朝民低〔2022〕31号"),
    ("minimum_living_child", "minimum_living", date(2022, 1, 1), None, "京朝民低〔2022〕31号"),
    ("minimum_living_child", "distressed_child", date(2022, 9, 1), None, "京朝民儿〔2022〕4号"),
    ("extreme_poverty", "extreme_poverty", date(2018, 5, 1), None, "京朝民特〔2018〕7号"),
    ("ended", "minimum_living", date(2020, 1, 1), date(2023, 6, 30), "京朝民低〔2020〕9号"),
    ("ended", "marginal_family", date(2023, 7, 1), date(2024, 6, 30), "京朝民边〔2023〕12号"),
    ("veteran", "entitled_group", date(2015, 10, 1), None, "京朝退役〔2015〕21号"),
    ("hardship_worker", "hardship_worker", date(2023, 1, 1), date(2025, 12, 31), "京朝工困〔2023〕5号"),
    ("severe_disability", "severe_disability", date(2019, 8, 1), None, "京朝残〔2019〕14号"),
    ("low_income", "low_income_family", date(2023, 2, 1), None, "京朝民低收〔2023〕6号"),
    ("hardship_allowance", "hardship_allowance", date(2016, 1, 1), None, "京朝民补〔2016〕2号"),
    ("returned_youth", "disabled_returned_youth", date(2010, 1, 1), None, "京朝民知〔2010〕1号"),
    ("downsized", "downsized_1960s_worker", date(2008, 1, 1), None, "京朝民精〔2008〕1号"),
    ("marginal", "marginal_family", date(2023, 3, 1), None, "京朝民边〔2023〕3号"),
    ("marginal_spouse", "marginal_family", date(2023, 3, 1), None, "京朝民边〔2023〕3号"),
    ("monitored", "monitored_rural", date(2022, 5, 1), date(2024, 4, 30), "京朝振〔2022〕11号"),
    ("orphan", "orphan", date(2019, 9, 1), None, "京朝民孤〔2019〕2号"),
    ("haidian", "minimum_living", date(2022, 6, 1), None, "京海民低〔2022〕18号"),
    ("haidian_spouse", "minimum_living", date(2022, 6, 1), None, "京海民低〔2022〕18号"),
    ("haidian_2", "extreme_poverty", date(2017, 3, 1), None, "京海民特〔2017〕4号"),
    ("haidian_3", "marginal_family", date(2021, 1, 1), date(2023, 12, 31), "京海民边〔2021〕6号"),
    ("haidian_4", "entitled_group", date(2012, 8, 1), None, "京海退役〔2012〕9号"),
    ("haidian_6", "severe_disability", date(2020, 1, 1), None, "京海残〔2020〕2号"),
    ("haidian_8", "low_income_family", date(2023, 5, 1), None, "京海民低收〔2023〕3号"),
    ("dongcheng", "minimum_living", date(2021, 7, 1), None, "京东民低〔2021〕10号"),
    ("dongcheng_spouse", "minimum_living", date(2021, 7, 1), None, "京东民低〔2021〕10号"),
    ("dongcheng_2", "hardship_worker", date(2022, 1, 1), date(2023, 12, 31), "京东工困〔2022〕2号"),
    ("dongcheng_4", "extreme_poverty", date(2016, 4, 1), None, "京东民特〔2016〕5号"),
    ("dongcheng_8", "downsized_1960s_worker", date(2009, 1, 1), None, "京东民精〔2009〕2号"),
    ("dongcheng_3", "hardship_allowance", date(2022, 3, 1), date(2024, 2, 29), "京东民补〔2022〕1号"),
]


def _agency_for(kind: str, district: District) -> Agency:
    """The district agency of ``kind`` (organizations/demo.py creates them; create if missing)."""
    agency = Agency.objects.filter(kind=kind, district=district).first()
    if agency is None:
        agency, _ = Agency.objects.get_or_create(
            code=f"{district.code}-{kind}",
            defaults={"kind": kind, "name": f"{district.region.name}{district.name}{AgencyKind(kind).label}",
                      "region": district.region, "district": district},
        )
    return agency


def seed(ctx: dict) -> None:
    districts = {d.code: d for d in District.objects.filter(code__in={p[2] for p in PEOPLE}).select_related("region")}
    users = ctx.get("users", {})
    persons: dict[str, Person] = {}
    for seq, (key, name, code, born, male, grade, insurance) in enumerate(PEOPLE, start=101):
        district = districts.get(code)
        if district is None:
            continue
        number = idnumber.make(code, born, seq * 2 + (1 if male else 0), male=male)
        info = idnumber.parse(number)
        person, _ = Person.objects.get_or_create(
            id_number=number,
            defaults={"name": name, "gender": info.gender, "birth_date": info.birth_date, "hukou_district": district,
                      "insured_region": district.region, "insurance_type": insurance, "disability_grade": grade,
                      "phone": f"1390000{seq:04d}"},
        )
        persons[key] = person

    for head_key, members, address in HOUSEHOLDS:
        head = persons.get(head_key)
        if head is None:
            continue
        if head.household_id is None:
            household = Household.objects.create(district=head.hukou_district, address=address)
            head.household, head.relation = household, Relation.HEAD
            head.save(update_fields=["household", "relation", "updated_at"])
        for member_key, relation in members:
            member = persons.get(member_key)
            if member is not None and member.household_id is None:
                member.household, member.relation = head.household, relation
                member.save(update_fields=["household", "relation", "updated_at"])

    categories = {c.code: c for c in Category.objects.all()}
    for key, code, valid_from, valid_until, document_ref in CERTIFICATIONS:
        person = persons.get(key)
        if person is None:
            continue
        category = categories[code]
        agency = _agency_for(category.agency_kind, person.hukou_district)
        officer = users.get("agency_certifier") if agency.code == "110105-civil_affairs" else None
        if agency.code == "110105-veterans_affairs":
            officer = users.get("veterans_certifier")
        Certification.objects.get_or_create(
            person=person, category=category, valid_from=valid_from,
            defaults={"agency": agency, "valid_until": valid_until, "document_ref": document_ref, "officer": officer,
                      "revocation_reason": "期满未续" if valid_until else ""},
        )
    # One certification ending soon, so the certifier's "30天内到期的认定" queue has an item.
    orphan = persons.get("orphan")
    if orphan is not None:
        today = timezone.localdate()
        Certification.objects.get_or_create(
            person=orphan, category=categories["distressed_child"], valid_from=date(2024, 1, 1),
            defaults={"agency": _agency_for("civil_affairs", orphan.hukou_district), "document_ref": "京朝民儿〔2024〕2号",
                      "valid_until": today + timedelta(days=20), "officer": users.get("agency_certifier")},
        )
    ctx["persons"] = list(persons.values())
    ctx["person"] = persons
