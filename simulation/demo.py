"""Demo: one draft of Beijing's policy (BJ-3 inpatient cap 200,000) and its 2024 region-wide run,
computed in this process (no worker needed)."""
from __future__ import annotations

import copy
from datetime import date


def seed(ctx: dict) -> None:
    from django.contrib.auth import get_user_model

    from policies.models import Policy

    from . import services
    from .models import PolicyDraft, SimulationRun

    admin = get_user_model().objects.filter(username="admin").first()
    base = Policy.objects.filter(code="beijing-2023", is_current=True).first()
    scenario = "BJ-3 住院限额提高到 20 万元（示例）"
    if admin is None or base is None or PolicyDraft.objects.filter(scenario=scenario).exists():
        return  # idempotent: a second seed_demo changes nothing
    draft = services.draft_create(base=base, scenario=scenario, by=admin)
    rules = copy.deepcopy(draft.rules)
    for tier in rules["tiers"]:
        if tier["code"] == "BJ-3":
            tier["buckets"]["inpatient"]["cap"] = "200000.00"
    services.draft_update(draft=draft, rules=rules, scenario=draft.scenario, note="示例测算方案", by=admin)
    run = SimulationRun(draft=draft, region_id=draft.region_id, period_start=date(2024, 1, 1),
                        period_end=date(2024, 12, 31), created_by=admin)
    run.full_clean()
    run.save()
    services.run_synchronously(run=run)
