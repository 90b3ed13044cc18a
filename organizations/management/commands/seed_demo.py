"""``manage.py seed_demo``: demo organisations, users and every app's demo data (idempotent)."""
from __future__ import annotations

import importlib
import importlib.util
import random
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from organizations import demo

# Order matters: later apps use what earlier ones created (policies before bills, ...).
DEMO_APPS = ["organizations", "policies", "beneficiaries", "claims", "applications", "monitoring", "reports", "simulation"]


class Command(BaseCommand):
    help = "Load demo data: Beijing, three districts, one user per role, then each app's demo.seed(ctx)."

    def add_arguments(self, parser):
        parser.add_argument("--only", nargs="*", choices=DEMO_APPS, help="seed only these apps (organisations are always built)")

    def handle(self, *args, only=None, **options):
        # Policy presets (and role groups) are loaded by migrations: make sure they have run.
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            self.stdout.write("Applying pending migrations first ...")
            call_command("migrate", interactive=False, verbosity=0)

        with transaction.atomic():
            ctx = demo.build(random.Random(42))  # noqa: S311 - reproducible demo data
        for app in DEMO_APPS:
            if only and app not in only:
                continue
            module_name = f"{app}.demo"
            if importlib.util.find_spec(app) is None or importlib.util.find_spec(module_name) is None:
                continue
            module = importlib.import_module(module_name)
            if not hasattr(module, "seed"):
                continue
            started = time.monotonic()
            with transaction.atomic():
                module.seed(ctx)
            self.stdout.write(f"  {app:<14} {time.monotonic() - started:5.2f}s")
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins: see README.md (e.g. jingban / demo-jingban-2026)."))
        self.stdout.write(
            f"Second factor of shenhe and admin (TOTP): secret {demo.DEMO_TOTP_SECRET_BASE32} for an authenticator "
            "app; the demo's verification page also shows the current code."
        )
