"""``manage.py generate_synthetic --people N --claims M``: realistic, valid data at scale.

Fast: rows are built in Python with explicit primary keys and written in batches with
PostgreSQL ``COPY`` (``executemany`` on SQLite); sequences are moved past the new ids afterwards.
Simple-history tables are not written for synthetic rows (they are not user edits).

What is generated (Beijing region, deterministic for a given ``--seed``):

- households of 1–4 people in every district of the region (the 16 Beijing districts are created
  if the region has fewer than 3), valid GB 11643 ID numbers (``beneficiaries.idnumber``);
- certifications for about 60 % of people across the Beijing categories (and some ended ones),
  each by the owning agency;
- institutions per district (tertiary, secondary, county, primary, pharmacy; a few not designated);
- ``--claims`` bills across institutions, visit types and ``--years``: about 90 % one-stop
  settlement records (most with the assistance the hospital paid), 10 % manual bills grouped
  into reimbursement claims in every state.

Computed fields (assistance, explanation, ledgers, adjustments): on PostgreSQL the bills are
written ONCE with their figures, as the settlement import writes new bills (issue 20): each batch's
person-years go through THE recalculation core with the batch's bills not yet inserted
(``claims.services.bills_create_computed``: ``claims.recalc.recompute_chunk(unsaved=...)``, then
one COPY). So the data is "new data" as production receives it, and the first nightly run over it
finds its figures already written. ``--raw`` leaves the computed fields empty for the nightly run
(``manage.py recalculate --full``; the old behaviour, and the only one on SQLite); ``--compute``
then also runs ``claims.services.recompute_person_year`` for every person-year (slow at scale).
"""
from __future__ import annotations

import json
import random
import time
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.utils import timezone

from beneficiaries import idnumber
from beneficiaries.models import Category, Certification, Household, Person
from claims.models import Bill, BillSource, BillStatus, Claim, ClaimStatus
from organizations.fieldcrypto import prepare_raw_row
from organizations.models import Agency, AgencyKind, District, Institution, InstitutionLevel, Region

BEIJING_DISTRICTS = [
    ("110101", "东城区", "京东"), ("110102", "西城区", "京西"), ("110105", "朝阳区", "京朝"),
    ("110106", "丰台区", "京丰"), ("110107", "石景山区", "京石"), ("110108", "海淀区", "京海"),
    ("110109", "门头沟区", "京门"), ("110111", "房山区", "京房"), ("110112", "通州区", "京通"),
    ("110113", "顺义区", "京顺"), ("110114", "昌平区", "京昌"), ("110115", "大兴区", "京兴"),
    ("110116", "怀柔区", "京怀"), ("110117", "平谷区", "京平"), ("110118", "密云区", "京密"),
    ("110119", "延庆区", "京延"),
]
# Beijing categories with rough weights (most beneficiaries are 低保).
CATEGORY_WEIGHTS = [
    ("minimum_living", 45), ("extreme_poverty", 10), ("low_income_family", 12), ("hardship_allowance", 5),
    ("downsized_1960s_worker", 4), ("disabled_returned_youth", 2), ("marginal_family", 12),
    ("illness_poverty_patient", 5), ("entitled_group", 3), ("severe_disability", 2),
]
VISIT_WEIGHTS = [("outpatient", 45), ("outpatient_special", 20), ("inpatient", 30), ("maternity", 2), ("rehabilitation", 3)]
CLAIM_STATUS_WEIGHTS = [
    (ClaimStatus.PAID, 50), (ClaimStatus.APPROVED, 10), (ClaimStatus.SUBMITTED, 15), (ClaimStatus.RETURNED, 5),
    (ClaimStatus.REJECTED, 5), (ClaimStatus.DRAFT, 15),
]
DIAGNOSES = [
    ("C34.9", "肺恶性肿瘤"), ("I63.9", "脑梗死"), ("N18.5", "慢性肾脏病5期"), ("E11.9", "2型糖尿病"),
    ("I10", "原发性高血压"), ("J18.9", "肺炎"), ("C50.9", "乳腺恶性肿瘤"), ("K74.6", "肝硬化"),
    ("O80", "单胎顺产"), ("S72.0", "股骨颈骨折"), ("F20.9", "精神分裂症"), ("D66", "血友病A"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌海燕鹏辉波宁凤梅琳雪荣昊晨浩然雨欣子涵佳怡思博俊宇"
CENT = Decimal("0.01")


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


def _weighted(rng: random.Random, table):
    return rng.choices([k for k, _w in table], weights=[w for _k, w in table])[0]


class Writer:
    """Write plain rows (dicts of attname -> value) to a model's table, fast."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields]
        self.columns = [f.column for f in self.fields]
        self.defaults = {}
        for f in self.fields:
            if f.has_default():
                self.defaults[f.attname] = f.get_default()
            else:
                self.defaults[f.attname] = "" if (f.empty_strings_allowed and not f.null) else None

    def _value(self, field, value):
        if isinstance(field, models.JSONField):
            return json.dumps(value, ensure_ascii=False)
        return value

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        table = self.model._meta.db_table
        cols = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        # keyed hashes of ID numbers; COPY also needs them encrypted (get_db_prep_save does it below)
        copying = connection.vendor == "postgresql"
        rows = [prepare_raw_row(self.fields, row, encrypt_values=copying) for row in rows]
        if copying:
            with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([self._value(f, row.get(f.attname, self.defaults[f.attname])) for f in self.fields])
        else:
            placeholders = ", ".join(["%s"] * len(self.columns))
            values = [
                [f.get_db_prep_save(row.get(f.attname, self.defaults[f.attname]), connection) for f in self.fields]
                for row in rows
            ]
            with connection.cursor() as cursor:
                # identifiers from the model's meta, values as parameters
                cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({placeholders})", values)  # noqa: S608

    def next_id(self) -> int:
        return (self.model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1

    def reset_sequence(self) -> None:
        if connection.vendor == "postgresql":
            table = self.model._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - our table name
                               f"GREATEST((SELECT MAX(id) FROM {table}), 1))")


class Command(BaseCommand):
    help = "Fill the database with realistic synthetic people, certifications, institutions, bills and claims."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--people", type=int, default=1000)
        parser.add_argument("--claims", type=int, default=5000, help="number of bills (settlement records + claimed bills)")
        parser.add_argument("--years", default="2023,2024")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--batch-size", type=int, default=20000)
        parser.add_argument("--manual-share", type=float, default=0.10, help="share of bills claimed manually")
        parser.add_argument("--compute", action="store_true", help="recompute every person-year now (else: nightly run)")
        parser.add_argument("--raw", action="store_true",
                            help="leave the bills' computed fields for the nightly run (else, on PostgreSQL, "
                                 "bills are written once with their figures, as the settlement import does)")

    def handle(self, *args, **opts) -> None:
        t0 = time.monotonic()
        rng = random.Random(opts["seed"])  # noqa: S311 - synthetic data
        people, bills_wanted, batch = opts["people"], opts["claims"], opts["batch_size"]
        years = [int(y) for y in str(opts["years"]).split(",") if y.strip()]
        if people < 1 or bills_wanted < 0 or not years:
            raise CommandError("--people must be ≥ 1, --claims ≥ 0 and --years non-empty")
        region, districts = self._geography()
        institutions = self._institutions(districts)
        agencies = {(a.district_id, a.kind): a for a in Agency.objects.filter(district__in=districts)}
        for d in districts:
            for kind in AgencyKind:
                if (d.pk, kind.value) not in agencies:
                    agencies[(d.pk, kind.value)] = Agency.objects.get_or_create(
                        code=f"{d.code}-{kind.value}",
                        defaults={"kind": kind.value, "name": f"{d.name}{kind.label}", "region": region, "district": d})[0]
        categories = {c.code: c for c in Category.objects.all()}
        users = self._users()
        now = timezone.now()

        # People and households ------------------------------------------------------------------
        hh_w, person_w, cert_w = Writer(Household), Writer(Person), Writer(Certification)
        existing_ids = set(Person.objects.values_list("id_number", flat=True)) if Person.objects.exists() else set()
        hh_id, person_id, cert_id = hh_w.next_id(), person_w.next_id(), cert_w.next_id()
        first_person = person_id
        person_district: list[int] = []
        person_category: list[str] = []
        hh_rows, person_rows, cert_rows = [], [], []
        serial = 0
        created_people = 0
        base_day = date(1935, 1, 1)
        while created_people < people:
            district = districts[rng.randrange(len(districts))]
            size = min(rng.choice((1, 2, 2, 3, 3, 4)), people - created_people)
            hh_rows.append({"id": hh_id, "district_id": district.pk, "address": f"{district.name}第{hh_id}号院", "created_at": now})
            certified = rng.random() < 0.6
            hh_category = _weighted(rng, CATEGORY_WEIGHTS) if certified else ""
            for member in range(size):
                while True:
                    serial += 1
                    born = base_day + timedelta(days=(serial // 997) % 29000)
                    number = idnumber.make(district.code, born, serial % 997)
                    if number not in existing_ids:
                        break
                existing_ids.add(number)
                info = idnumber.parse(number)
                person_rows.append({
                    "id": person_id, "id_number": number,
                    "name": SURNAMES[rng.randrange(len(SURNAMES))] + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
                    "gender": info.gender, "birth_date": info.birth_date, "hukou_district_id": district.pk,
                    "insurance_type": "resident" if rng.random() < 0.8 else "employee", "insured_region_id": region.pk,
                    "disability_grade": rng.choice((1, 2, 3, 4)) if rng.random() < 0.05 else None,
                    "household_id": hh_id, "relation": "head" if member == 0 else rng.choice(("spouse", "child", "parent")),
                    "created_at": now, "updated_at": now,
                })
                category = hh_category if (certified and (member == 0 or rng.random() < 0.7)) else ""
                if category:
                    cat = categories[category]
                    valid_from = date(min(years) - rng.randint(0, 3), rng.randint(1, 12), rng.randint(1, 28))
                    ended = rng.random() < 0.08
                    cert_rows.append({
                        "id": cert_id, "person_id": person_id, "category_id": cat.pk,
                        "agency_id": agencies[(district.pk, cat.agency_kind)].pk,
                        "document_ref": f"京民认〔{valid_from.year}〕{cert_id}号", "valid_from": valid_from,
                        "valid_until": date(max(years), rng.randint(1, 12), 28) if ended else None,
                        "revocation_reason": "家庭收入超过标准" if ended else "", "created_at": now,
                    })
                    cert_id += 1
                person_district.append(district.pk)
                person_category.append(category)
                person_id += 1
                created_people += 1
            hh_id += 1
            if len(person_rows) >= batch:
                self._flush((hh_w, hh_rows), (person_w, person_rows), (cert_w, cert_rows))
        self._flush((hh_w, hh_rows), (person_w, person_rows), (cert_w, cert_rows))
        for w in (hh_w, person_w, cert_w):
            w.reset_sequence()
        t_people = time.monotonic() - t0
        self.stdout.write(f"people {people} in {t_people:.1f}s")

        # Bills and claims -----------------------------------------------------------------------
        bill_w, claim_w = Writer(Bill), Writer(Claim)
        bill_id, claim_id = bill_w.next_id(), claim_w.next_id()
        # issue 20: written once with their figures through the core (see the module docstring)
        self._computed_at_write = connection.vendor == "postgresql" and not opts["raw"] and not opts["compute"]
        self._institution_by_pk = {inst.pk: inst for inst in institutions}
        self._policy_cache = None
        if self._computed_at_write:  # the ids the core reserves from the sequence are the ones planned here
            with connection.cursor() as cursor:
                cursor.execute("SELECT setval(pg_get_serial_sequence('claims_bill', 'id'), %s, false)", [bill_id])
        inst_by_district: dict[int, list[Institution]] = {}
        for inst in institutions:
            inst_by_district.setdefault(inst.district_id, []).append(inst)
        all_inst = institutions
        # Bills per person, then in date order per person (so claims group a person's bills).
        owners = sorted(rng.randrange(people) for _ in range(bills_wanted))
        bill_rows, claim_rows = [], []
        written = 0
        open_claim: dict | None = None
        for index in owners:
            pid = first_person + index
            district_id = person_district[index]
            category = person_category[index]
            year = rng.choice(years)
            visit = _weighted(rng, VISIT_WEIGHTS)
            start = date(year, 1, 1) + timedelta(days=rng.randrange(355))
            stay = rng.randint(3, 25) if visit in ("inpatient", "maternity", "rehabilitation") else 0
            end = min(start + timedelta(days=stay), date(year, 12, 31))
            if visit == "outpatient":
                total = rng.uniform(80, 3000)
            elif visit == "outpatient_special":
                total = rng.uniform(500, 12000)
            else:
                total = min(rng.lognormvariate(9.6, 0.9), 900000)
            total_cost = _money(total)
            scope = _money(total * rng.uniform(0.7, 0.95))
            basic = _money(float(scope) * rng.uniform(0.45, 0.7))
            critical = _money(float(scope - basic) * rng.uniform(0.2, 0.5)) if scope > 30000 else Decimal("0.00")
            other = _money(float(scope - basic - critical) * 0.1) if rng.random() < 0.05 else Decimal("0.00")
            inst_pool = inst_by_district.get(district_id) if rng.random() < 0.75 else None
            inst = (inst_pool or all_inst)[rng.randrange(len(inst_pool or all_inst))]
            diag = DIAGNOSES[rng.randrange(len(DIAGNOSES))]
            row = {
                "id": bill_id, "person_id": pid, "district_id": district_id, "institution_id": inst.pk,
                "settlement_no": f"SYN{bill_id:010d}", "visit_type": visit, "admission_date": start, "discharge_date": end,
                "diagnosis_code": diag[0], "diagnosis_name": diag[1], "major_disease": diag[0].startswith("C"),
                "rare_disease": diag[0] == "D66", "referral_compliant": rng.random() < 0.97, "in_province": inst.in_province,
                "total_cost": total_cost, "policy_scope_cost": scope, "basic_paid": basic, "critical_paid": critical,
                "other_paid": other, "category": category, "created_at": now, "updated_at": now, "computation": {},
                "created_by_id": users["caseworker"].pk,
            }
            if category and rng.random() < opts["manual_share"]:
                row["source"] = BillSource.MANUAL
                if open_claim is None or open_claim["person_id"] != pid or open_claim["_n"] >= 3:
                    status = _weighted(rng, CLAIM_STATUS_WEIGHTS)
                    decided = status in (ClaimStatus.APPROVED, ClaimStatus.PAID, ClaimStatus.REJECTED)
                    open_claim = {
                        "id": claim_id, "person_id": pid, "district_id": district_id, "status": status,
                        "applied_on": end + timedelta(days=rng.randint(5, 60)), "created_by_id": users["caseworker"].pk,
                        "created_at": now, "updated_at": now,
                        "submitted_by_id": users["caseworker"].pk if status != ClaimStatus.DRAFT else None,
                        "submitted_at": now if status != ClaimStatus.DRAFT else None,
                        "reviewed_by_id": users["reviewer"].pk if decided else None,
                        "reviewed_at": now if decided else None,
                        "decision_reason": "documents" if status == ClaimStatus.REJECTED else "", "_n": 0,
                    }
                    claim_rows.append(open_claim)
                    claim_id += 1
                open_claim["_n"] += 1
                row["claim_id"] = open_claim["id"]
                row["status"] = open_claim["status"]
                if open_claim["status"] == ClaimStatus.PAID:
                    burden = max(Decimal("0.00"), scope - basic - critical - other)
                    row["paid_amount"] = (burden * Decimal("0.85")).quantize(CENT, ROUND_HALF_UP)
            else:
                row["source"] = BillSource.ONE_STOP
                burden = max(Decimal("0.00"), scope - basic - critical - other)
                if category and rng.random() < 0.8:
                    row["status"] = BillStatus.HOSPITAL_PAID
                    row["hospital_assistance_paid"] = (burden * Decimal("0.85")).quantize(CENT, ROUND_HALF_UP)
                else:
                    row["status"] = BillStatus.RECORDED
            bill_rows.append(row)
            bill_id += 1
            if len(bill_rows) >= batch:
                written += len(bill_rows)
                self._flush((claim_w, [{k: v for k, v in c.items() if k != "_n"} for c in claim_rows]), (bill_w, bill_rows))
                claim_rows.clear()
                if open_claim is not None:
                    open_claim = None
                self.stdout.write(f"  bills {written}/{bills_wanted} ({time.monotonic() - t0:.0f}s)")
        self._flush((claim_w, [{k: v for k, v in c.items() if k != "_n"} for c in claim_rows]), (bill_w, bill_rows))
        for w in (bill_w, claim_w):
            w.reset_sequence()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for table in ("claims_bill", "claims_claim", "beneficiaries_person", "beneficiaries_certification",
                              "beneficiaries_household", "organizations_district", "organizations_institution"):
                    cursor.execute(f"ANALYZE {table}")
        elapsed = time.monotonic() - t0
        self.stdout.write(self.style.SUCCESS(
            f"generated people {people}, bills {bills_wanted} in {elapsed:.1f}s "
            f"({bills_wanted / max(elapsed - t_people, 0.001):.0f} bills/s); computed fields: "
            + ("written with the bills (the recalculation core)" if self._computed_at_write
               else "computing now" if opts["compute"] else "left for the nightly run (manage.py recalculate --full)")))
        if opts["compute"]:
            self._compute(first_person, first_person + people)

    def _flush(self, *pairs) -> None:
        with transaction.atomic():
            for writer, rows in pairs:
                if writer.model is Bill and getattr(self, "_computed_at_write", False):
                    self._write_bills_computed(rows)  # after the claims: the core reads their statuses
                else:
                    writer.write(rows)
                rows.clear()

    def _write_bills_computed(self, rows: list[dict]) -> None:
        """The batch's bills written once with their figures: their person-years recomputed by the
        core with the bills still unsaved, then one COPY (``claims.services.bills_create_computed``,
        the settlement import's path). A person-year begun in the previous batch is recomputed
        whole (its stored bills with the new ones), as the import does. Caller holds a transaction."""
        from claims import money
        from claims.services import PolicyCache, bills_create_computed

        if not rows:
            return
        if self._policy_cache is None:
            self._policy_cache = PolicyCache()
        bills = []
        for row in rows:
            bill = Bill(**{k: v for k, v in row.items() if k != "id"})
            bill.institution = self._institution_by_pk[row["institution_id"]]
            bills.append(bill)
        # the person-years the core reads (a rejected bill's alone gets no ledger, as in the nightly run)
        pairs = {(bill.person_id, bill.discharge_date.year) for bill in bills if bill.status not in money.FROZEN_STATUSES}
        if bills_create_computed(bills=bills, person_years=pairs, cache=self._policy_cache) is None:
            raise CommandError("the database refused the generated bills")

    def _compute(self, first: int, last: int) -> None:
        from claims.services import PolicyCache, recompute_person_year

        t0 = time.monotonic()
        pairs = (Bill.objects.filter(person_id__gte=first, person_id__lt=last)
                 .values_list("person_id", "discharge_date__year").distinct().order_by("person_id", "discharge_date__year"))
        n = 0
        cache = PolicyCache()
        for person_id, year in pairs.iterator():
            recompute_person_year(person_id=person_id, year=year, cache=cache)
            n += 1
            if n % 5000 == 0:
                self.stdout.write(f"  recomputed {n} person-years ({time.monotonic() - t0:.0f}s)")
        self.stdout.write(self.style.SUCCESS(f"recomputed {n} person-years in {time.monotonic() - t0:.1f}s"))

    def _geography(self) -> tuple[Region, list[District]]:
        region, _ = Region.objects.get_or_create(code="110000", defaults={"name": "北京市", "short_name": "京"})
        for code, name, short in BEIJING_DISTRICTS:
            District.objects.get_or_create(code=code, defaults={"region": region, "name": name, "short_name": short})
        return region, list(District.objects.filter(region=region).order_by("code"))

    def _institutions(self, districts: list[District]) -> list[Institution]:
        levels = [InstitutionLevel.TERTIARY, InstitutionLevel.SECONDARY, InstitutionLevel.COUNTY,
                  InstitutionLevel.PRIMARY, InstitutionLevel.PRIMARY, InstitutionLevel.PHARMACY]
        names = {InstitutionLevel.TERTIARY: "第一医院", InstitutionLevel.SECONDARY: "区医院", InstitutionLevel.COUNTY: "县级医院",
                 InstitutionLevel.PRIMARY: "社区卫生服务中心", InstitutionLevel.PHARMACY: "大药房"}
        for d in districts:
            for i, level in enumerate(levels):
                code = f"SYN{d.code}{i:02d}"
                Institution.objects.get_or_create(code=code, defaults={
                    "name": f"{d.name}{names[level]}{'' if i != 4 else '（二）'}", "level": level, "district": d,
                    "designated": not (i == 4 and d.code.endswith("9")), "in_province": True})
        return list(Institution.objects.filter(district__in=districts).order_by("pk"))

    def _users(self) -> dict:
        User = get_user_model()
        return {
            "caseworker": User.objects.get_or_create(username="synthetic-caseworker", defaults={"is_active": False})[0],
            "reviewer": User.objects.get_or_create(username="synthetic-reviewer", defaults={"is_active": False})[0],
        }
