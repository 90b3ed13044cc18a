"""名单导入: an agency's roster (CSV or XLSX) → certifications, one code path for web and command.

Why not django-import-export's ``Resource`` here: its row loop saves (and validates) one model
instance per row with a query or more each, which cannot reach 2,000 rows/s on 100,000 rows,
and our rows are not model rows (one line = a person *and* a certification with cross-row rules:
overlaps within the file, revoke-missing). So we read files with the stdlib ``csv`` module and
openpyxl (read-only mode, streaming), validate everything with a few batched lookups, and write
with ``bulk_create``/``bulk_update`` in chunks inside one transaction — through
django-simple-history's ``bulk_create_with_history``/``bulk_update_with_history``, so every
created or ended certification (and every newly registered person) still gets its history row,
attributed to the importing user with the change reason ``名单导入#<batch>``. The batch itself
(:class:`ImportBatch`: who, when, file name, sha256, counts, rejected rows) is the import's own
audit record.

Rules per row (the first failing one is reported as ``row N: field: message``):
- ``id_number``: 18 characters, digits, birth date and check character (idnumber.parse);
- ``name``: required; must match the registered name of an existing person;
- ``category``: a known code or Chinese name, certifiable by the importing agency's kind;
- ``valid_from``/``valid_until``: dates, until not before from;
- the person's 户籍区县 (registered, or from the ID number's address code, or the agency's
  district when the code is unknown) must lie in the agency's area;
- the period must not overlap another certification of the same person and category, nor an
  earlier row of the file. A row identical to an existing certification is ``unchanged`` (so
  re-importing a file changes nothing); a row that adds an end date to an open certification
  with the same start ends it (counted as ``revoked``).

Revoke-missing (``roster_date`` given): certifications of *this agency*, in the categories the
file contains, in force on the roster date, whose person+category is not in the file, end on
the roster date. A rejected row still counts as "in the file" (a typo must not revoke anyone).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from organizations import tabular, textinput
from organizations.dbstats import refresh_statistics
from organizations.exports import formula_safe
from organizations.fieldcrypto import EncryptedCharField, blind_index, prepare_raw_row
from organizations.models import Agency, District

from . import idnumber
from .models import Category, Certification, ImportBatch, ImportStatus, InsuranceType, Person

COLUMNS = ("id_number", "name", "category", "valid_from", "valid_until", "document_ref")
CHINESE_HEADERS = ("身份证号", "姓名", "类别", "起始日期", "终止日期", "文号")
REQUIRED_COLUMNS = ("id_number", "name", "category", "valid_from")
HEADER_ALIASES = {**{c: c for c in COLUMNS}, **dict(zip(CHINESE_HEADERS, COLUMNS, strict=True)),
                  "身份证号码": "id_number", "公民身份号码": "id_number", "认定类别": "category",
                  "开始日期": "valid_from", "结束日期": "valid_until", "认定文号": "document_ref"}
CHUNK = 2000
LOOKUP_CHUNK = 5000


class RosterFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, header)."""


@dataclass
class RawRow:
    line: int
    values: dict[str, object]


@dataclass
class RowError:
    line: int
    field: str
    message: str
    code: str
    values: dict[str, object]

    def as_text(self) -> str:
        return f"row {self.line}: {self.field}: {self.message}"

    def to_json(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.message, "code": self.code,
                "values": {k: _cell_text(self.values.get(k)) for k in COLUMNS}}


@dataclass
class Plan:
    """What an import would do; ``apply`` writes exactly this."""

    total: int = 0
    new_persons: dict[str, dict] = field(default_factory=dict)  # id_number -> Person field values (attnames)
    creates: list[tuple[object, int, date, date | None, str]] = field(default_factory=list)
    # (person pk or id_number of a new person, category pk, valid_from, valid_until, document_ref)
    ends: dict[int, date] = field(default_factory=dict)  # certification pk -> valid_until (end date from file)
    revokes: dict[int, date] = field(default_factory=dict)  # certification pk -> roster date (missing)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def created(self) -> int:
        return len(self.creates)

    @property
    def revoked(self) -> int:
        return len(self.ends) + len(self.revokes)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    def counts_line(self) -> str:
        return f"created {self.created}, unchanged {self.unchanged}, revoked {self.revoked}, rejected {self.rejected}"


# ------------------------------------------------------------------------------------------
# Reading files
# ------------------------------------------------------------------------------------------


def sha256_of(fileobj) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    for block in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(block)
    fileobj.seek(0)
    return digest.hexdigest()


def _cell_text(value: object) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return tabular.cell_text(value)


def _map_header(cells: list[object]) -> list[str | None]:
    try:
        return tabular.map_header(cells, HEADER_ALIASES, REQUIRED_COLUMNS,
                                  expected=f"{','.join(COLUMNS)} {_('或')} {','.join(CHINESE_HEADERS)}")
    except tabular.TabularFileError as exc:
        raise RosterFileError(str(exc)) from None


def _rows_from_cells(numbered: Iterable[tuple[int, list[object]]]) -> Iterator[RawRow]:
    try:
        for line, values in tabular.rows_of(numbered, HEADER_ALIASES, REQUIRED_COLUMNS,
                                            expected=f"{','.join(COLUMNS)} {_('或')} {','.join(CHINESE_HEADERS)}"):
            yield RawRow(line, values)
    except tabular.TabularFileError as exc:
        raise RosterFileError(str(exc)) from None


def max_rows() -> int:
    """Rows one roster may hold (``ROSTER_IMPORT_MAX_ROWS``): a preview answers for every number
    in the file, so an unbounded file would be a bulk lookup of the register (issue 15)."""
    return int(getattr(settings, "ROSTER_IMPORT_MAX_ROWS", 100_000))


def max_bytes() -> int:
    """Bytes one roster file may hold (``ROSTER_IMPORT_MAX_BYTES``), checked on upload."""
    return int(getattr(settings, "ROSTER_IMPORT_MAX_BYTES", 10 * 1024 * 1024))


def too_many_rows_message(limit: int) -> str:
    return _("名单超过%(n)s行，请拆分为多个文件导入。") % {"n": f"{limit:,}"}


def read_roster(fileobj, file_name: str) -> list[RawRow]:
    """All data rows of a CSV (UTF-8 ± BOM, or GB18030 as older Excel writes) or XLSX file,
    through the one reader every import uses (organizations.tabular); at most :func:`max_rows`."""
    fileobj.seek(0)
    limit = max_rows()
    rows: list[RawRow] = []
    try:
        for row in _rows_from_cells(tabular.file_lines(fileobj, file_name)):
            if len(rows) >= limit:
                raise RosterFileError(too_many_rows_message(limit))
            rows.append(row)
    except tabular.TabularFileError as exc:
        raise RosterFileError(str(exc)) from None
    return rows


PREVIEW_CACHE_KEY = "roster-previews:{user}:{minute}"


def preview_allowed(user) -> bool:
    """Rate limit of previews per user (``ROSTER_PREVIEWS_PER_MINUTE``, default 5), counted in
    the cache per calendar minute: each preview looks up every number of a file."""
    from django.core.cache import cache

    limit = int(getattr(settings, "ROSTER_PREVIEWS_PER_MINUTE", 5))
    key = PREVIEW_CACHE_KEY.format(user=user.pk, minute=int(timezone.now().timestamp() // 60))
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    return count <= limit


def log_preview(*, batch: ImportBatch, user, request=None) -> None:
    """Each preview is in the access log as a bulk lookup (who, which file, when, from where)."""
    from audit.models import Action
    from audit.services import record

    record(user=user, action=Action.BULK_LOOKUP, request=request,
           what=_("名单导入预览：%(f)s") % {"f": batch.file_name}, subjects=f"ImportBatch #{batch.pk}")


# ------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------


def parse_date(value: object) -> date | None:
    """2023-01-31, 2023/1/31, 2023.1.31, 20230131, an Excel date cell or serial. Empty → None."""
    try:
        return tabular.parse_date(value)
    except OverflowError:
        raise ValueError(str(value)) from None


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class RosterImport:
    """Validate (``plan``) and write (``apply``) one roster for one agency."""

    def __init__(self, *, agency: Agency, user=None, roster_date: date | None = None, revoke_missing: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.agency = agency
        self.user = user
        self.roster_date = roster_date
        self.revoke_missing = revoke_missing
        self.progress = progress or (lambda done, total: None)

    def _category_refusal(self, region_id: int | None, code: str, on: date) -> str | None:
        """``policies.selectors.category_refusal``, memoised per (region, category, year-month):
        policies change on dates, rosters hold thousands of rows."""
        from policies.selectors import category_refusal

        cache = self.__dict__.setdefault("_refusals", {})
        key = (region_id, code, on)
        if key not in cache:
            cache[key] = None if region_id is None else category_refusal(region=region_id, code=code, on=on)
        return cache[key]

    # -- the pure part ----------------------------------------------------------------------
    def plan(self, rows: list[RawRow]) -> Plan:
        plan = Plan(total=len(rows))
        agency = self.agency
        by_code: dict[str, Category] = {}
        for cat in Category.objects.all():
            by_code[cat.code] = cat
            by_code[cat.name] = cat
        districts = {d.code: d for d in District.objects.all()}
        today = timezone.localdate()

        parsed = []  # (row, info, category)
        seen_keys: set[tuple[str, int]] = set()  # (id_number, category pk) of every row that parsed
        for index, row in enumerate(rows, start=1):
            if index % CHUNK == 0:
                self.progress(index // 2, len(rows))
            v = row.values
            err = None
            bad = next((k for k, x in v.items() if textinput.has_control_characters(x)), None)
            if bad is not None:  # PostgreSQL refuses NUL in text: one bad row, never a dead file
                label = dict(zip(COLUMNS, CHINESE_HEADERS, strict=True)).get(bad, bad)
                plan.errors.append(RowError(row.line, bad, _("“%(field)s”含有控制字符（如NUL）") % {"field": label},
                                            "nul_byte" if "\x00" in v[bad] else "control_character", v))
                continue
            try:
                info = idnumber.parse(_cell_text(v.get("id_number")), today=today)
            except idnumber.IdNumberError as exc:
                plan.errors.append(RowError(row.line, "id_number", exc.message, exc.code, v))
                continue
            name = _cell_text(v.get("name"))
            cat_text = _cell_text(v.get("category"))
            category = by_code.get(cat_text) or by_code.get(cat_text.lower())
            if category is not None:
                seen_keys.add((info.number, category.pk))
            if not name:
                err = ("name", _("姓名不能为空"), "required")
            elif len(name) > 50:
                err = ("name", _("姓名过长"), "too_long")
            elif category is None:
                err = ("category", _("未知类别“%(c)s”") % {"c": cat_text}, "unknown_category")
            elif not category.certifiable_by(agency.kind):
                err = ("category", _("%(agency)s无权认定“%(c)s”") % {"agency": agency.name, "c": category.name},
                       "wrong_agency")
            if err is None:
                try:
                    valid_from = parse_date(v.get("valid_from"))
                    if valid_from is None:
                        err = ("valid_from", _("起始日期不能为空"), "required")
                except ValueError:
                    err = ("valid_from", _("起始日期格式错误：%(v)s") % {"v": _cell_text(v.get("valid_from"))}, "invalid_date")
            if err is None:
                try:
                    valid_until = parse_date(v.get("valid_until"))
                except ValueError:
                    err = ("valid_until", _("终止日期格式错误：%(v)s") % {"v": _cell_text(v.get("valid_until"))},
                           "invalid_date")
                else:
                    if valid_until is not None and valid_until < valid_from:
                        err = ("valid_until", _("终止日期不能早于起始日期"), "until_before_from")
            if err is None:
                # the region's policy in force must map the category (POLICY.md §9)
                why = self._category_refusal(agency.region_id, category.code, valid_from)
                if why is not None:
                    err = ("category", why, "category_not_in_policy")
            document_ref = _cell_text(v.get("document_ref"))
            if err is None and len(document_ref) > 100:
                err = ("document_ref", _("文号过长"), "too_long")
            if err is not None:
                plan.errors.append(RowError(row.line, err[0], err[1], err[2], v))
                continue
            parsed.append((row, info, name, category, valid_from, valid_until, document_ref))
        self.progress(len(rows) // 2, len(rows))

        # Persons: one query per LOOKUP_CHUNK numbers.
        # (rejected rows' numbers too: revoke-missing must treat them as present in the file)
        numbers = list({p[1].number for p in parsed} | {n for n, _c in seen_keys})
        persons: dict[str, tuple[int, str, int, int]] = {}
        for chunk in _chunks(numbers, LOOKUP_CHUNK):
            for number, pk, name, district_id, region_id in _where_in(Person.objects, "id_number", chunk).values_list(
                    "id_number", "pk", "name", "hukou_district_id", "hukou_district__region_id"):
                persons[number] = (pk, name, district_id, region_id)

        # Existing certifications of those persons in the file's categories.
        category_ids = {p[3].pk for p in parsed}
        existing: dict[tuple[int, int], list[tuple[int, date, date | None]]] = {}
        person_pks = [v[0] for v in persons.values()]
        for chunk in _chunks(person_pks, LOOKUP_CHUNK):
            for pk, person_id, category_id, vf, vu in _where_in(Certification.objects, "person_id", chunk).filter(
                    category_id__in=category_ids).values_list(
                    "pk", "person_id", "category_id", "valid_from", "valid_until"):
                existing.setdefault((person_id, category_id), []).append((pk, vf, vu))
        self.progress(int(len(rows) * 0.75), len(rows))

        pending: dict[tuple[object, int], list[tuple[int, date, date | None]]] = {}  # from earlier rows
        for row, info, name, category, valid_from, valid_until, document_ref in parsed:
            number = info.number
            known = persons.get(number)
            if known is not None:
                person_key: object = known[0]
                # scope first, and never the registered name: a message names no person the user
                # may not see (issue 15), so a roster cannot be used to look names up
                if not self._in_area(known[2], known[3]):
                    plan.errors.append(RowError(row.line, "id_number", _("该人员户籍不在本机构辖区"), "out_of_scope",
                                                row.values))
                    continue
                if known[1] != name:
                    plan.errors.append(RowError(row.line, "name", _("姓名与该身份证号的登记人员不一致"),
                                                "name_mismatch", row.values))
                    continue
            else:
                person_key = number
                new = plan.new_persons.get(number)
                if new is None:
                    district = districts.get(number[:6])
                    if district is None and agency.district_id is not None:
                        district = agency.district
                        plan.warnings.append(_("第%(line)s行：身份证号地址码%(code)s未知，户籍区县按本机构所在区县登记") % {
                            "line": row.line, "code": number[:6]})
                    if district is None:
                        plan.errors.append(RowError(row.line, "id_number", _("无法根据身份证号确定户籍区县，请先登记该人员"),
                                                    "unknown_district", row.values))
                        continue
                    if not self._in_area(district.pk, district.region_id):
                        plan.errors.append(RowError(row.line, "id_number", _("该人员户籍不在本机构辖区"), "out_of_scope",
                                                    row.values))
                        continue
                    plan.new_persons[number] = {
                        "id_number": number, "name": name, "gender": info.gender, "birth_date": info.birth_date,
                        "hukou_district_id": district.pk, "insured_region_id": district.region_id,
                        "insurance_type": InsuranceType.RESIDENT,
                    }
                elif new["name"] != name:
                    plan.errors.append(RowError(row.line, "name", _("姓名与本文件前面行的“%(n)s”不一致") % {"n": new["name"]},
                                                "name_mismatch", row.values))
                    continue
            key = (person_key, category.pk)
            action = None
            clash = None
            candidates = existing.get(key, ()) if known is not None else ()
            for pk, vf, vu in candidates:
                if vf == valid_from and vu == valid_until:
                    action = ("unchanged", pk)
                    break
                if vf == valid_from and vu is None and valid_until is not None and pk not in plan.ends:
                    action = ("end", pk)
                    continue
                if vf <= (valid_until or date.max) and (vu or date.max) >= valid_from:
                    clash = (vf, vu)
            if action is not None and action[0] == "unchanged":
                plan.unchanged += 1
                continue
            if clash is not None:
                plan.errors.append(RowError(row.line, "valid_from", _("与已有认定期间重叠（%(a)s 至 %(b)s）") % {
                    "a": clash[0], "b": clash[1] or _("今")}, "overlap", row.values))
                continue
            earlier = next((line for line, vf, vu in pending.get(key, ())
                            if vf <= (valid_until or date.max) and (vu or date.max) >= valid_from), None)
            if earlier is not None:
                plan.errors.append(RowError(row.line, "valid_from", _("与本文件第%(n)s行期间重叠") % {"n": earlier},
                                            "overlap", row.values))
                continue
            pending.setdefault(key, []).append((row.line, valid_from, valid_until))
            if action is not None:  # ("end", pk): the file ends an open certification
                plan.ends[action[1]] = valid_until
            else:
                plan.creates.append((person_key, category.pk, valid_from, valid_until, document_ref))

        if self.revoke_missing and self.roster_date is not None:
            self._plan_revokes(plan, seen_keys, persons, category_ids)
        plan.errors.sort(key=lambda e: e.line)
        self.progress(len(rows), len(rows))
        return plan

    def _in_area(self, district_id: int, region_id: int) -> bool:
        if self.agency.district_id is not None:
            return district_id == self.agency.district_id
        return region_id == self.agency.region_id

    def _plan_revokes(self, plan: Plan, seen_keys, persons, category_ids) -> None:
        day = self.roster_date
        present = {(persons[n][0], c) for n, c in seen_keys if n in persons}
        qs = (Certification.objects.filter(agency=self.agency, category_id__in=category_ids, valid_from__lte=day)
              .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=day))
              .values_list("pk", "person_id", "category_id"))
        for pk, person_id, category_id in qs.iterator(chunk_size=LOOKUP_CHUNK):
            if (person_id, category_id) not in present and pk not in plan.ends:
                plan.revokes[pk] = day

    # -- the writing part ---------------------------------------------------------------------
    def apply(self, rows: list[RawRow], *, batch: ImportBatch | None = None) -> Plan:
        """Plan again under a lock on the agency (state may have moved since a preview) and write.

        Valid rows are written atomically (all or none); rejected rows never are.
        """
        report = self.progress
        total = len(rows)
        self.progress = lambda done, _total: report(int(done * 0.6), total)  # validation = first 60%
        try:
            with transaction.atomic():
                list(Agency.objects.select_for_update().filter(pk=self.agency.pk).order_by().values_list("pk", flat=True))
                plan = self.plan(rows)
                reason = _("名单导入#%(pk)s") % {"pk": batch.pk} if batch is not None else _("名单导入")
                now = timezone.now()
                writer = _PostgresWriter if connection.vendor == "postgresql" else _OrmWriter
                writer(user=self.user, reason=reason, now=now).write(plan, agency=self.agency, batch=batch)
                report(int(total * 0.9), total)
                ended = list(plan.ends.items()) + list(plan.revokes.items())
                why = {pk: _("名单终止日期") for pk in plan.ends} | {
                    pk: _("名单（%(d)s）中已无此人") % {"d": day} for pk, day in plan.revokes.items()}
                for chunk in _chunks(ended, CHUNK):
                    objs = Certification.objects.in_bulk([pk for pk, _day in chunk])
                    changed = []
                    for pk, day in chunk:
                        cert = objs[pk]
                        cert.valid_until = day
                        cert.revocation_reason = f"{why[pk]}（{reason}）"[:200]
                        cert.revoked_by = self.user
                        cert.revoked_at = now
                        changed.append(cert)
                    bulk_update_with_history(changed, Certification,
                                             fields=["valid_until", "revocation_reason", "revoked_by", "revoked_at"],
                                             batch_size=CHUNK, default_user=self.user, default_change_reason=reason)
        finally:
            self.progress = report
        # statistics kept current after a bulk write (issue 20): a city's first roster adds most
        # of the people and certifications at once (organizations.dbstats)
        refresh_statistics({Person: len(plan.new_persons), Certification: plan.created + len(ended)})
        return plan


# ------------------------------------------------------------------------------------------
# Bulk lookups and writes
# ------------------------------------------------------------------------------------------


def _where_in(manager, column: str, values: list):
    """``column IN values`` for thousands of values.

    On PostgreSQL the list travels as ONE text parameter split server-side
    (``= ANY(string_to_array(...))``): psycopg's client-side quoting of a 5,000-element array
    costs more than the query. Values are validated ID numbers or integers (no commas).
    """
    if connection.vendor != "postgresql":
        return manager.filter(**{f"{column}__in": values})
    model = manager.model
    target = model._meta.get_field(column.removesuffix("_id") if column.endswith("_id") else column)
    if isinstance(target, EncryptedCharField):  # an encrypted number is found by its keyed hash
        target = model._meta.get_field(target.hash_field)
        values = [blind_index(v) for v in values]
    db_column = target.column
    cast = "::bigint[]" if column.endswith("_id") else ""
    return manager.extra(  # noqa: S610 - fixed SQL, values passed as a parameter
        where=[f'"{model._meta.db_table}"."{db_column}" = ANY(string_to_array(%s, \',\'){cast})'],
        params=[",".join(str(v) for v in values)],
    )


class _OrmWriter:
    """Portable path (SQLite in tests): bulk_create with simple-history's bulk history rows."""

    def __init__(self, *, user, reason: str, now) -> None:
        self.user, self.reason, self.now = user, reason, now

    def write(self, plan: Plan, *, agency: Agency, batch: ImportBatch | None) -> None:
        people = [Person(**values) for values in plan.new_persons.values()]
        for chunk in _chunks(people, CHUNK):
            bulk_create_with_history(chunk, Person, batch_size=CHUNK, default_user=self.user,
                                     default_change_reason=self.reason)
        person_pk = {p.id_number: p.pk for p in people}
        certs = [
            Certification(
                person_id=person_pk[key] if isinstance(key, str) else key, category_id=category_id,
                agency=agency, officer=self.user, document_ref=document_ref,
                valid_from=valid_from, valid_until=valid_until, import_batch=batch,
            )
            for key, category_id, valid_from, valid_until, document_ref in plan.creates
        ]
        for chunk in _chunks(certs, CHUNK):
            bulk_create_with_history(chunk, Certification, batch_size=CHUNK, default_user=self.user,
                                     default_change_reason=self.reason)


class _PostgresWriter(_OrmWriter):
    """PostgreSQL: COPY the new rows, then write their history rows with one INSERT … SELECT.

    The history rows are exactly what simple-history's ``bulk_history_create`` would write
    (every tracked column, history_type "+", history_date, history_user, change reason), built
    server-side from the rows just inserted, so no Python object is made per row.
    """

    def write(self, plan: Plan, *, agency: Agency, batch: ImportBatch | None) -> None:
        user_id = self.user.pk if self.user is not None else None
        person_pk: dict[str, int] = {}
        if plan.new_persons:
            defaults = {"disability_grade": None, "phone": "", "address": "", "household_id": None, "relation": "",
                        "contribution_paid_year": None, "registration_source": "", "created_at": self.now,
                        "updated_at": self.now}
            self._copy(Person, ({**defaults, **values} for values in plan.new_persons.values()))
            numbers = list(plan.new_persons)
            for chunk in _chunks(numbers, LOOKUP_CHUNK):
                person_pk.update(_where_in(Person.objects, "id_number", chunk).values_list("id_number", "pk"))
            ids = list(person_pk.values())
            for chunk in _chunks(ids, LOOKUP_CHUNK * 4):
                self._history(Person, "id = ANY(string_to_array(%s, ',')::bigint[])", [",".join(map(str, chunk))])
        if plan.creates:
            if batch is None:  # history rows are selected by batch: make one for direct callers
                batch = ImportBatch.objects.create(agency=agency, uploaded_by=self.user, file_name="(direct)", sha256="",
                                                   source="command", status=ImportStatus.APPLYING)
            rows = (
                {"person_id": person_pk[key] if isinstance(key, str) else key, "category_id": category_id,
                 "agency_id": agency.pk, "officer_id": user_id, "document_ref": document_ref,
                 "valid_from": valid_from, "valid_until": valid_until, "revocation_reason": "",
                 "revoked_by_id": None, "revoked_at": None, "import_batch_id": batch.pk, "created_at": self.now}
                for key, category_id, valid_from, valid_until, document_ref in plan.creates
            )
            self._copy(Certification, rows)
            self._history(Certification, "import_batch_id = %s", [batch.pk])

    @staticmethod
    def _columns(model) -> list:
        return [f for f in model._meta.concrete_fields if not f.primary_key]

    def _copy(self, model, rows: Iterable[dict]) -> None:
        fields = self._columns(model)
        names = [f.attname for f in fields]
        columns = ", ".join(f'"{f.column}"' for f in fields)
        with connection.cursor() as cursor, \
                cursor.cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                # COPY bypasses the fields: keyed hashes and encryption as save() would do them
                row = prepare_raw_row(fields, row)
                copy.write_row([row[n] for n in names])

    def _history(self, model, where: str, params: list) -> None:
        history_model = model.history.model
        source = {f.column for f in model._meta.concrete_fields}
        columns, exprs, values = [], [], []
        for f in history_model._meta.concrete_fields:
            if f.attname == "history_id":
                continue
            columns.append(f'"{f.column}"')
            if f.attname == "history_date":
                exprs.append("%s")
                values.append(self.now)
            elif f.attname == "history_change_reason":
                exprs.append("%s")
                values.append(self.reason[:100])
            elif f.attname == "history_type":
                exprs.append("'+'")
            elif f.attname == "history_user_id":
                exprs.append("%s")
                values.append(self.user.pk if self.user is not None else None)
            elif f.column in source:
                exprs.append(f'"{f.column}"')
            else:
                raise RuntimeError(f"history column {f.column} has no source in {model.__name__}")
        # identifiers from the models' meta, values as parameters
        sql = (f'INSERT INTO "{history_model._meta.db_table}" ({", ".join(columns)}) '  # noqa: S608
               f'SELECT {", ".join(exprs)} FROM "{model._meta.db_table}" WHERE {where}')
        with connection.cursor() as cursor:
            cursor.execute(sql, values + params)


# ------------------------------------------------------------------------------------------
# Batches (web and command share these)
# ------------------------------------------------------------------------------------------


def _batch_progress(batch: ImportBatch) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        # ImportBatch is not an audited model: a plain UPDATE keeps the progress bar cheap.
        ImportBatch.objects.filter(pk=batch.pk).update(processed_rows=done, total_rows=total)
    return report


def _side_progress(batch: ImportBatch):
    """Progress reports from inside the apply transaction, visible to the polling page.

    On PostgreSQL they go through a second, autocommit connection (rows written by the open
    transaction are invisible to others until it commits). Elsewhere they are dropped: SQLite
    has a single writer, so the bar keeps the preview's figure until the import finishes.
    """
    if connection.vendor != "postgresql" or batch.pk is None:
        return (lambda done, total: None), None
    from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

    side = connections.create_connection(DEFAULT_DB_ALIAS)
    table = ImportBatch._meta.db_table

    def report(done: int, total: int) -> None:
        try:
            with side.cursor() as cursor:
                cursor.execute(f'UPDATE "{table}" SET processed_rows = %s, total_rows = %s WHERE id = %s',  # noqa: S608
                               [done, total, batch.pk])
        except DatabaseError:  # progress is cosmetic: never fail an import over it
            pass

    return report, side


def _open_batch_file(batch: ImportBatch):
    batch.file.open("rb")
    return batch.file


def _store_result(batch: ImportBatch, plan: Plan, status: str) -> None:
    batch.status = status
    batch.total_rows = plan.total
    batch.processed_rows = plan.total
    batch.created_count = plan.created
    batch.unchanged_count = plan.unchanged
    batch.revoked_count = plan.revoked
    batch.rejected_count = plan.rejected
    batch.persons_created = len(plan.new_persons)
    batch.errors = [e.to_json() for e in plan.errors]
    batch.message = "\n".join(plan.warnings[:200])


def batch_rows(batch: ImportBatch) -> list[RawRow]:
    fileobj = _open_batch_file(batch)
    try:
        return read_roster(fileobj, batch.file_name)
    finally:
        fileobj.close()


ENDINGS_SHOWN = 2000


def ending_rows(plan: Plan, *, limit: int = ENDINGS_SHOWN) -> list[dict]:
    """Each certification the plan ends: who (masked ID), which category, old → new end date,
    whether the end moves EARLIER than the end already recorded, and why (issue 18: the
    preview used to say only "终止 5"). At most ``limit`` rows, people in name order."""
    wanted = {**{pk: (day, "file") for pk, day in plan.ends.items()},
              **{pk: (day, "missing") for pk, day in plan.revokes.items()}}
    if not wanted:
        return []
    rows = []
    for chunk in _chunks(sorted(wanted), LOOKUP_CHUNK):
        for cert in Certification.objects.filter(pk__in=chunk).select_related("person", "category"):
            new, why = wanted[cert.pk]
            old = cert.valid_until
            rows.append({"certification": cert.pk, "person": cert.person_id, "name": cert.person.name,
                         "id_masked": idnumber.mask(cert.person.id_number), "category": cert.category.name,
                         "valid_from": cert.valid_from.isoformat(), "old_until": old.isoformat() if old else "",
                         "new_until": new.isoformat(), "earlier": old is not None and new < old, "reason": why})
    rows.sort(key=lambda r: (r["name"], r["category"], r["certification"]))
    return rows[:limit]


def batch_validate(batch: ImportBatch) -> ImportBatch:
    """Preview: plan without writing; stores counts and rejected rows on the batch."""
    if batch.status not in (ImportStatus.UPLOADED, ImportStatus.VALIDATING):
        return batch  # idempotent: a re-delivered task does nothing
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.VALIDATING)
    try:
        rows = batch_rows(batch)
        importer = RosterImport(agency=batch.agency, user=batch.uploaded_by, roster_date=batch.roster_date,
                                revoke_missing=batch.revoke_missing, progress=_batch_progress(batch))
        plan = importer.plan(rows)
    except RosterFileError as exc:
        batch.status = ImportStatus.FAILED
        batch.message = str(exc)
        batch.save(update_fields=["status", "message"])
        return batch
    _store_result(batch, plan, ImportStatus.PREVIEWED)
    batch.endings = ending_rows(plan)
    earlier = sum(1 for row in batch.endings if row["earlier"])
    if earlier:
        batch.message = "\n".join(filter(None, [_("其中 %(n)s 个认定的终止日期将早于原定终止日期（见下表“提前”）。") % {"n": earlier},
                                                batch.message]))
    batch.validated_at = timezone.now()
    batch.save()
    return batch


def batch_confirm(*, batch: ImportBatch, by) -> ImportBatch:
    """Confirm a previewed batch (the caller holds its row lock): the roster is applied by a task."""
    from operations.outbox import enqueue
    from organizations.permissions import require

    require(by, "imports.roster", district_id=batch.agency.district_id, region_id=batch.agency.region_id)
    if batch.status != ImportStatus.PREVIEWED:
        raise ValidationError(_("该批次当前状态不能确认导入。"), code="not_previewed")
    batch.status = ImportStatus.APPLYING
    batch.applied_by = by
    batch.processed_rows = 0
    batch.save(update_fields=["status", "applied_by", "processed_rows"])
    from .tasks import apply_roster

    enqueue(apply_roster, batch.pk)
    return batch


def batch_apply(batch: ImportBatch) -> ImportBatch:
    """Confirmed: write valid rows atomically; rejected rows are kept on the batch."""
    if batch.status != ImportStatus.APPLYING:
        return batch  # only a confirmed batch applies, and only once
    try:
        rows = batch_rows(batch)
        progress, side = _side_progress(batch)
        importer = RosterImport(agency=batch.agency, user=batch.applied_by or batch.uploaded_by,
                                roster_date=batch.roster_date, revoke_missing=batch.revoke_missing,
                                progress=progress)
        try:
            plan = importer.apply(rows, batch=batch)
        finally:
            if side is not None:
                side.close()
    except RosterFileError as exc:
        batch.status = ImportStatus.FAILED
        batch.message = str(exc)
        batch.save(update_fields=["status", "message"])
        return batch
    _store_result(batch, plan, ImportStatus.APPLIED)
    batch.applied_at = timezone.now()
    batch.save()
    return batch


def import_file(*, path: str, agency: Agency, user=None, dry_run: bool = False,
                roster_date: date | None = None) -> tuple[Plan, ImportBatch | None]:
    """The command's path: read, plan (dry run) or apply with a recorded batch."""
    with open(path, "rb") as fileobj:
        digest = sha256_of(fileobj)
        rows = read_roster(fileobj, os.path.basename(path))
    importer = RosterImport(agency=agency, user=user, roster_date=roster_date, revoke_missing=roster_date is not None)
    if dry_run:
        return importer.plan(rows), None
    batch = ImportBatch.objects.create(
        agency=agency, uploaded_by=user, applied_by=user, source="command", file_name=os.path.basename(path)[:200],
        sha256=digest, roster_date=roster_date, revoke_missing=roster_date is not None,
        status=ImportStatus.APPLYING, total_rows=len(rows),
    )
    try:
        plan = importer.apply(rows, batch=batch)
    except Exception as exc:
        ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.FAILED, message=type(exc).__name__)
        raise
    _store_result(batch, plan, ImportStatus.APPLIED)
    batch.applied_at = timezone.now()
    batch.save()
    return plan, batch


# ------------------------------------------------------------------------------------------
# Error file (CSV, formula-escaped, ID numbers masked)
# ------------------------------------------------------------------------------------------


escape_formula = formula_safe  # one rule for every export (organizations.exports)


def error_file_rows(errors: list[dict]) -> Iterator[list[str]]:
    yield [_("行号"), _("错误字段"), _("错误信息"), *CHINESE_HEADERS]
    for e in errors:
        values = dict(e.get("values") or {})
        if values.get("id_number"):
            values["id_number"] = idnumber.mask(values["id_number"])
        yield [escape_formula(x) for x in (e["line"], e["field"], e["message"], *(values.get(c, "") for c in COLUMNS))]
