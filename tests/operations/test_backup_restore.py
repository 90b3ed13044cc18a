"""Backup and restore drill (``make backup`` / ``make restore FILE=``) on PostgreSQL.

The backup of this test's database and media is restored into a new, empty database and an empty
media folder; then every table is compared row for row (persons, bills, letters, the
simple-history audit tables, the access log: all of them) and every letter's PDF byte for byte.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from organizations import filecrypto
from reports.models import Letter, LetterKind
from reports.services import letter_issue_from_content
from tests.claims.conftest import institution, person  # noqa: F401 - fixtures
from tests.conftest import requires_postgres
from tests.factories import BillFactory, PersonFactory
from tests.reports.conftest import approved_content  # noqa: F401 - fixture

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]  # pg_dump sees committed rows


def url_of(name: str) -> str:
    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="") + (":" + quote(s["PASSWORD"], safe="") if s["PASSWORD"] else "")
    return f"postgres://{user}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Per table of the public schema: row count and an md5 of every row's text, in order."""
    out = {}
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public' order by 1")]
        for table in tables:
            count, digest = conn.execute(
                f'select count(*), md5(coalesce(string_agg(t::text, chr(10) order by t::text), \'\')) from "{table}" t'  # noqa: S608
            ).fetchone()
            out[table] = (count, digest)
    return out


def backup_sh(*args: str, database_url: str, media: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "MEDIA_ROOT": str(media)}
    return subprocess.run(["bash", "scripts/backup.sh", *args], cwd=BASE_DIR, env=env, capture_output=True,  # noqa: S603,S607
                          text=True, timeout=300)


@pytest.fixture
def empty_database():
    name = f"restore_{os.getpid()}"
    admin = url_of("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}"')
        conn.execute(f'create database "{name}"')
    yield url_of(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def test_a_restored_backup_is_identical(tmp_path, settings, district, reviewer, person, institution,  # noqa: F811
                                        approved_content, empty_database):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path / "media"
    others = PersonFactory.create_batch(3, hukou_district=district)
    for who in [person, *others]:
        BillFactory(person=who, institution=institution)
    letters = [letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content,
                                         by=reviewer) for _ in range(2)]
    person.name = "改名测试"  # one more audit (history) row
    person.save()
    source = url_of(connection.settings_dict["NAME"])

    made = backup_sh("backup", str(tmp_path / "backups"), database_url=source, media=settings.MEDIA_ROOT)
    assert made.returncode == 0, made.stderr
    [archive] = list((tmp_path / "backups").glob("medassist-*.tar"))

    restored_media = tmp_path / "restored-media"
    done = backup_sh("restore", str(archive), database_url=empty_database, media=restored_media)
    assert done.returncode == 0, done.stderr

    before, after = fingerprint(source), fingerprint(empty_database)
    assert before == after
    for table in ("beneficiaries_person", "claims_bill", "reports_letter", "beneficiaries_historicalperson"):
        assert before[table][0] > 0, table  # the comparison covered real rows
    for letter in letters:
        letter.refresh_from_db()
        original = Path(settings.MEDIA_ROOT) / letter.file.name
        copy = restored_media / letter.file.name
        assert original.read_bytes() == copy.read_bytes()  # the backup carries the files encrypted (issue 15)
        assert filecrypto.decrypt(copy.read_bytes()).startswith(b"%PDF")
    assert Letter.objects.count() == 2


def test_restore_refuses_a_database_that_is_not_empty(tmp_path):
    source = url_of(connection.settings_dict["NAME"])
    archive = tmp_path / "x.tar"
    archive.write_bytes(b"")
    result = backup_sh("restore", str(archive), database_url=source, media=tmp_path / "m")
    assert result.returncode == 1 and "restore only into an empty database" in result.stderr
