"""``manage.py recalculate``: the nightly recalculation, synchronously, with a summary."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from monitoring import services
from monitoring.models import RunStatus, RunTrigger


class Command(BaseCommand):
    help = "重算救助金额并刷新预警（与夜间任务相同的步骤，同步执行）。默认增量：仅重算上次成功运行后变动的人员年度。"

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="全量重算所有人员年度")
        parser.add_argument("--year", type=int, help="只重算该年度")
        parser.add_argument("--person", type=int, metavar="PK", help="只重算该人员（主键，不是身份证号）")
        parser.add_argument("--dry-run", action="store_true", help="只计算和报告，不写入")

    def handle(self, *args, full=False, year=None, person=None, dry_run=False, **options):
        try:
            run = services.run_synchronously(full=full, year=year, person_id=person, dry_run=dry_run,
                                             trigger=RunTrigger.COMMAND)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0
        lines = [
            f"run #{run.pk} {run.status}{' (dry run)' if run.dry_run else ''} in {seconds:.1f}s",
            f"  scope: {'full' if run.full else 'incremental since ' + str(run.since)}"
            + (f", year {run.year}" if run.year else "") + (f", person {run.person_id}" if run.person_id else ""),
            f"  expired certifications: {run.expired_certifications}",
            f"  chunks: {run.chunks_done}/{run.chunks_total}",
            f"  person-years recomputed: {run.person_years_total}",
            f"  bills changed: {run.bills_changed}",
            f"  payment adjustments: {run.adjustments_created}",
            f"  warnings created: {run.warnings_created}, closed as certified: {run.warnings_closed}",
            f"  invariant violations: {len(run.invariant_violations)}",
        ]
        for v in run.invariant_violations[:20]:
            lines.append(f"    {v['code']} person {v['person_id']} {v['year']} {v.get('bucket', '')}: {v}")
        for error in run.errors[:20]:
            lines.append(f"  error: {error}")
        self.stdout.write("\n".join(lines))
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"run #{run.pk} {run.status}")
