"""Demo data of the policies app: the regional statistics Beijing's rules read. Idempotent.

Presets themselves are installed by migration (``policies/migrations/0003_presets.py``) and
re-synced by ``manage.py load_presets``; here we only make sure they are present and record the
statistics the demo needs: 北京市居民人均可支配收入 2022: 77,415 元, 2023: 81,752 元 (北京市统计局
statistical communiqués), and the 2024 居民医保个人缴费 used by premium subsidies (demo value).
"""
from __future__ import annotations

from decimal import Decimal

from organizations.models import Region, RegionStatistic

BEIJING_STATISTICS = {
    2022: {"per_capita_disposable_income": Decimal("77415.00")},
    2023: {"per_capita_disposable_income": Decimal("81752.00")},
    2024: {"resident_contribution": Decimal("380.00")},
}


def seed(ctx: dict) -> None:
    from .models import Policy
    from .services import preset_sync

    if not Policy.objects.filter(code="beijing-2023").exists():
        preset_sync()
    region = ctx.get("region") or Region.objects.get(code="110000")
    for year, values in BEIJING_STATISTICS.items():
        row, _created = RegionStatistic.objects.get_or_create(region=region, year=year)
        changed = [name for name, value in values.items() if getattr(row, name) != value]
        for name in changed:
            setattr(row, name, values[name])
        if changed:
            row.save(update_fields=changed)
