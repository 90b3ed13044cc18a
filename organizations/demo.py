"""Demo organisation data for ``manage.py seed_demo``: Beijing, three districts, agencies, staff.

Demo passwords live here and in README.md only; migrations never create users. Everything is
created with ``get_or_create`` so a second run changes nothing (an administrator who changed a
demo password keeps it).

``build(rng)`` returns the context every app's ``demo.seed(ctx)`` receives:

- ``region``: the Beijing :class:`Region`;
- ``districts``: ``[朝阳区, 海淀区, 东城区]`` (朝阳 first: the demo caseworker's district);
- ``district``: dict code -> District;
- ``agencies``: dict agency code (``"110105-civil_affairs"``, ``"110000-medical_security"``) -> Agency;
- ``users``: dict role -> User for the main demo users (``roles.CASEWORKER`` -> ``jingban`` ...),
  plus ``"veterans_certifier"`` (``tuijun``) and ``"haidian_caseworker"`` (``haidian-jingban``);
- ``users_by_name``: dict username -> User;
- ``institutions``: dict code -> Institution (filled by :func:`seed`);
- ``rng``: ``random.Random(42)``, shared in app order so runs are reproducible.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from . import roles, twofactor
from .models import Agency, AgencyKind, District, Institution, InstitutionLevel, Region, RegionStatistic, StaffProfile
from .otp_devices import SecureTOTPDevice

REGION = ("110000", "北京市", "京")
DISTRICTS = [
    ("110105", "朝阳区", "京朝"),
    ("110108", "海淀区", "京海"),
    ("110101", "东城区", "京东"),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    full_name: str
    role: str
    agency_code: str
    district_code: str | None  # None: city level
    title: str
    context_key: str
    superuser: bool = False


# Documented in README.md ("Demo logins"). Demo only: never use these anywhere else.
DEMO_USERS = [
    DemoUser("jingban", "demo-jingban-2026", "王静", roles.CASEWORKER, "110105-medical_security", "110105",
             "医疗救助经办员", roles.CASEWORKER),
    DemoUser("shenhe", "demo-shenhe-2026", "李审", roles.REVIEWER, "110105-medical_security", "110105",
             "医疗救助审核员", roles.REVIEWER),
    DemoUser("minzheng", "demo-minzheng-2026", "赵敏", roles.CERTIFIER, "110105-civil_affairs", "110105",
             "民政局 社会救助科", roles.CERTIFIER),
    DemoUser("tuijun", "demo-tuijun-2026", "孙军", roles.CERTIFIER, "110105-veterans_affairs", "110105",
             "退役军人事务局 优抚科", "veterans_certifier"),
    DemoUser("shenji", "demo-shenji-2026", "周计", roles.AUDITOR, "110000-medical_security", None,
             "审计监督员", roles.AUDITOR),
    DemoUser("admin", "demo-admin-2026", "系统管理员", roles.ADMINISTRATOR, "110000-medical_security", None,
             "系统管理员", roles.ADMINISTRATOR, superuser=True),
    DemoUser("haidian-jingban", "demo-haidian-2026", "陈海", roles.CASEWORKER, "110108-medical_security", "110108",
             "海淀区 医疗救助经办员", "haidian_caseworker"),
]

# The demo reviewer's and administrator's TOTP secret (second factor, organizations.twofactor),
# hex as django-otp stores it; base32 for an authenticator app in DEMO_TOTP_SECRET_BASE32 and
# README.md. On the demo (SHOW_DEMO_LOGINS) the verification page also shows the current code.
# Demo only: a real device's key is random (enrolment screen).
DEMO_TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test secret "12345678901234567890"
DEMO_TOTP_SECRET_BASE32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # noqa: S105 - demo only, documented

# 定点医药机构 (codes follow the national medical-insurance pattern H + division code + serial).
INSTITUTIONS = [
    ("H11010500011", "中日友好医院", InstitutionLevel.TERTIARY, "110105", True),
    ("H11010500012", "首都医科大学附属北京朝阳医院", InstitutionLevel.TERTIARY, "110105", True),
    ("H11010500231", "朝阳区双井社区卫生服务中心", InstitutionLevel.PRIMARY, "110105", True),
    ("P11010500078", "朝阳区金象大药房劲松店", InstitutionLevel.PHARMACY, "110105", True),
    ("H11010500999", "朝阳区某民营诊所（非定点）", InstitutionLevel.PRIMARY, "110105", False),
    ("H11010800003", "北京大学第三医院", InstitutionLevel.TERTIARY, "110108", True),
    ("H11010800041", "北京市海淀医院", InstitutionLevel.SECONDARY, "110108", True),
    ("H11010100001", "北京协和医院", InstitutionLevel.TERTIARY, "110101", True),
    ("H11010100027", "东城区第一人民医院", InstitutionLevel.SECONDARY, "110101", True),
]

# 北京市居民人均可支配收入 (北京市统计局 statistical communiqués), by year.
PER_CAPITA_DISPOSABLE_INCOME = {
    2021: Decimal("75002.00"),
    2022: Decimal("77415.00"),
    2023: Decimal("81752.00"),
    2024: Decimal("85415.00"),
}


def build(rng: random.Random | None = None) -> dict:
    """Region, districts, one agency per kind and district, city-level medical security, users."""
    if Group.objects.filter(name__in=roles.LABELS).count() < len(roles.LABELS):
        # Role groups come from migrations; a test database flushed since (transactional tests)
        # lacks them: recreate them with their permissions rather than fail.
        roles.sync_role_permissions()
    region, _ = Region.objects.get_or_create(code=REGION[0], defaults={"name": REGION[1], "short_name": REGION[2]})
    districts = [
        District.objects.get_or_create(code=code, defaults={"region": region, "name": name, "short_name": short})[0]
        for code, name, short in DISTRICTS
    ]
    agencies: dict[str, Agency] = {}
    for district in districts:
        for kind in AgencyKind:
            agencies[f"{district.code}-{kind.value}"] = _agency(region, district, kind)
    agencies[f"{region.code}-{AgencyKind.MEDICAL_SECURITY.value}"] = _agency(region, None, AgencyKind.MEDICAL_SECURITY)

    by_code = {d.code: d for d in districts}
    users: dict[str, object] = {}
    users_by_name: dict[str, object] = {}
    for spec in DEMO_USERS:
        user = _user(spec, agencies[spec.agency_code], by_code.get(spec.district_code or ""))
        users[spec.context_key] = user
        users_by_name[spec.username] = user
    return {
        "region": region,
        "districts": districts,
        "district": by_code,
        "agencies": agencies,
        "users": users,
        "users_by_name": users_by_name,
        "institutions": {},
        "rng": rng or random.Random(42),  # noqa: S311 - demo data, not security
    }


def seed(ctx: dict) -> None:
    """Organisations' own demo rows: designated institutions and regional statistics."""
    by_code = ctx["district"]
    for code, name, level, district_code, designated in INSTITUTIONS:
        institution, _ = Institution.objects.get_or_create(
            code=code,
            defaults={"name": name, "level": level, "district": by_code[district_code], "designated": designated},
        )
        ctx["institutions"][code] = institution
    for year, income in PER_CAPITA_DISPOSABLE_INCOME.items():
        RegionStatistic.objects.get_or_create(
            region=ctx["region"], year=year, defaults={"per_capita_disposable_income": income},
        )


def _agency(region: Region, district: District | None, kind: AgencyKind) -> Agency:
    place = district or region
    name = f"{region.name}{district.name if district else ''}{kind.label}"
    agency, _ = Agency.objects.get_or_create(
        code=f"{place.code}-{kind.value}",
        defaults={"kind": kind.value, "name": name, "region": region, "district": district},
    )
    return agency


def _user(spec: DemoUser, agency: Agency, district: District | None):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=spec.username,
        defaults={"first_name": spec.full_name, "is_staff": spec.superuser, "is_superuser": spec.superuser},
    )
    if created:
        user.set_password(spec.password)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=spec.role))
    StaffProfile.objects.get_or_create(user=user, defaults={"agency": agency, "district": district, "title": spec.title})
    if twofactor.required_for(user) and not SecureTOTPDevice.objects.filter(user=user).exists():
        SecureTOTPDevice.objects.create(user=user, name=twofactor.TOTP_DEVICE_NAME, key=DEMO_TOTP_KEY, confirmed=True)
    return user
