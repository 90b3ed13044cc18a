"""Issue 15: uploaded and generated files are encrypted at rest (organizations.filecrypto,
docs/security.md "Encryption at rest"): the bytes on disk are not the plain file, the logged,
scoped views serve the plain file, files stored before are encrypted by ``encrypt_files``, and
production without the key fails ``check --deploy``."""
from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from claims.models import ClaimAttachment, SettlementImport
from organizations import checks, fieldcrypto, filecrypto
from reports.models import Letter, LetterKind
from reports.services import letter_issue_from_content
from tests.claims.conftest import institution, make_claim, person  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + "出院小结 张三 110105196202020041".encode() * 20
OTHER_KEY = base64.b64encode(b"another-field-encryption-key-32b").decode()
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _private(settings, tmp_path):
    from django.core.cache import cache

    settings.ATTACHMENTS_ROOT = tmp_path / "private"
    cache.clear()  # the roster preview rate limit counts per user id, and SQLite reuses ids across tests
    yield
    cache.clear()  # nor leave our preview counted against the next test's user


def on_disk(field_file) -> bytes:
    return Path(field_file.path).read_bytes()


def test_issue_15_claim_attachment_is_encrypted_on_disk_and_served_plain(client, caseworker, make_claim):  # noqa: F811
    claim = make_claim()
    client.force_login(caseworker)
    client.post(reverse("claims:attach", args=[claim.pk]),
                {"kind": "discharge_summary", "file": SimpleUploadedFile("出院小结.pdf", PDF)})
    attachment = ClaimAttachment.objects.get()
    raw = on_disk(attachment.file)
    assert raw.startswith(filecrypto.MAGIC) and b"%PDF" not in raw and "张三".encode() not in raw
    assert len(raw) == len(PDF) + filecrypto.OVERHEAD and attachment.file.size == len(PDF)
    response = client.get(reverse("claims:attachment", args=[claim.pk, attachment.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert int(response["Content-Length"]) == len(PDF)


def test_issue_15_letter_pdf_is_encrypted_on_disk_and_served_plain(client, district, reviewer, approved_content):
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content,
                                       by=reviewer)
    raw = on_disk(letter.file)
    assert raw.startswith(filecrypto.MAGIC) and b"%PDF" not in raw
    client.force_login(reviewer)
    response = client.get(reverse("reports:letter_pdf", args=[letter.pk]))
    body = b"".join(response.streaming_content)
    assert response.status_code == 200 and body.startswith(b"%PDF")
    import hashlib

    assert hashlib.sha256(body).hexdigest() == letter.sha256 == response["X-Content-SHA256"]


def test_issue_15_settlement_import_file_is_encrypted_on_disk(client, caseworker, person, institution):  # noqa: F811
    from tests.claims.test_imports import csv_bytes, good_row

    client.force_login(caseworker)
    data = csv_bytes(good_row(person, institution, no="U1"))
    client.post(reverse("claims:imports"), {"file": SimpleUploadedFile("s.csv", data)})
    job = SettlementImport.objects.get()
    raw = on_disk(job.file)
    assert raw.startswith(filecrypto.MAGIC) and person.id_number.encode() not in raw
    from claims.tasks import settlement_import_preview

    settlement_import_preview(job.pk)  # the import reads the plain rows through the storage
    job.refresh_from_db()
    assert (job.status, job.created, job.rejected) == ("previewed", 1, 0)


def test_issue_15_roster_import_file_is_encrypted_on_disk(client, civil_certifier, django_capture_on_commit_callbacks):
    from datetime import date

    from beneficiaries import idnumber
    from beneficiaries.models import ImportBatch
    from tests.beneficiaries.conftest import roster_csv

    number = idnumber.make("110105", date(1962, 2, 2), 41)
    client.force_login(civil_certifier)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("beneficiaries:import_list"),
                    {"file": SimpleUploadedFile("roster.csv", roster_csv([(number, "周八", "minimum_living", "2023-01-01", "", "")]))})
    batch = ImportBatch.objects.get()
    raw = on_disk(batch.file)
    assert raw.startswith(filecrypto.MAGIC) and number.encode() not in raw and "周八".encode() not in raw
    assert batch.created_count == 1  # the preview read it through the storage


def test_issue_15_an_upload_within_the_caps_is_never_written_to_a_temporary_file_in_clear(rf):
    from django.core.files.uploadedfile import InMemoryUploadedFile

    size = max(settings.ATTACHMENT_MAX_BYTES, settings.ROSTER_IMPORT_MAX_BYTES)
    request = rf.post("/", {"file": SimpleUploadedFile("big.pdf", b"%PDF" + b"x" * (size - 4))})
    assert isinstance(request.FILES["file"], InMemoryUploadedFile)  # Django's default: a temp file above 2.5 MiB


def test_issue_15_a_changed_file_fails_loudly_not_with_garbage():
    storage = filecrypto.EncryptedFileSystemStorage()
    name = storage.save("t/x.bin", ContentFile(b"secret bytes"))
    path = Path(storage.path(name))
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(fieldcrypto.DecryptionError):
        storage.open(name).read()


@override_settings(FIELD_ENCRYPTION_ALGORITHM="sm4-gcm")
def test_issue_15_sm4_gcm_files_for_a_deployment_whose_assessment_requires_it():
    storage = filecrypto.EncryptedFileSystemStorage()
    name = storage.save("t/sm4.pdf", ContentFile(PDF))
    raw = Path(storage.path(name)).read_bytes()
    assert raw[len(filecrypto.MAGIC) + 1:len(filecrypto.MAGIC) + 2] == b"s" and b"%PDF" not in raw
    assert storage.open(name).read() == PDF
    with override_settings(FIELD_ENCRYPTION_ALGORITHM="aes-gcm"):  # the tag says how: still read after a switch back
        assert storage.open(name).read() == PDF


def test_issue_15_encrypt_files_encrypts_existing_plain_uploads_and_rotates_keys(client, district, reviewer,
                                                                                  approved_content, make_claim,  # noqa: F811
                                                                                  caseworker):
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content,
                                       by=reviewer)
    with letter.file.open("rb") as fh:
        pdf = fh.read()
    # files as they were before the encrypted storage: plain on disk
    Path(letter.file.path).write_bytes(pdf)
    plain_storage = FileSystemStorage(location=settings.ATTACHMENTS_ROOT)
    claim = make_claim()
    name = plain_storage.save(f"claims/{claim.pk}/old.pdf", ContentFile(PDF))
    attachment = ClaimAttachment.objects.create(claim=claim, file=name, original_name="old.pdf", size=len(PDF),
                                                content_type="application/pdf", sha256="", uploaded_by=caseworker)
    orphan = Path(settings.MEDIA_ROOT) / "rosters" / "2020" / "01" / "orphan.csv"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes("身份证号\n110105196202020041\n".encode())

    out = io.StringIO()
    call_command("encrypt_files", "--dry-run", stdout=out)
    assert "3 files to encrypt" in out.getvalue() and on_disk(letter.file) == pdf
    call_command("encrypt_files", stdout=io.StringIO())
    for path in (Path(letter.file.path), Path(attachment.file.path), orphan):
        raw = path.read_bytes()
        assert raw.startswith(filecrypto.MAGIC) and b"%PDF" not in raw and b"110105196202020041" not in raw
    assert not list(Path(settings.MEDIA_ROOT).rglob("*.enc-tmp"))
    out = io.StringIO()
    call_command("encrypt_files", stdout=out)
    assert "0 files encrypted" in out.getvalue()  # idempotent
    client.force_login(reviewer)
    assert b"".join(client.get(reverse("reports:letter_pdf", args=[letter.pk])).streaming_content) == pdf
    client.force_login(caseworker)
    assert b"".join(client.get(reverse("claims:attachment", args=[claim.pk, attachment.pk])).streaming_content) == PDF

    # rotation: new key, the previous one still read until encrypt_files has run
    with override_settings(FIELD_ENCRYPTION_KEY=OTHER_KEY, FIELD_ENCRYPTION_OLD_KEYS=[settings.FIELD_ENCRYPTION_KEY]):
        call_command("encrypt_files", stdout=out)
        assert "3 files encrypted" in out.getvalue()
    with override_settings(FIELD_ENCRYPTION_KEY=OTHER_KEY):
        assert Letter.objects.get(pk=letter.pk).file.open("rb").read() == pdf
        assert filecrypto.decrypt(orphan.read_bytes()).startswith("身份证号".encode())


def test_issue_15_check_deploy_refuses_a_storage_that_does_not_encrypt():
    assert checks.check_files_encrypted_at_rest() == []
    plain = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    with override_settings(STORAGES=plain):
        from django.core.files.storage import storages

        storages._storages.clear()
        try:
            errors = checks.check_files_encrypted_at_rest()
        finally:
            storages._storages.clear()
    assert [e.id for e in errors if "STORAGES['default']" in e.msg] == ["organizations.E102"]


@pytest.mark.slow
def test_issue_15_production_without_the_key_fails_check_deploy_naming_the_files():
    from tests.operations.test_production_settings import production_env

    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=BASE_DIR,
                            env=production_env(FIELD_ENCRYPTION_KEY=None), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "FIELD_ENCRYPTION_KEY is not set" in result.stderr and "stored files" in result.stderr
    assert os.environ.get("DJANGO_SETTINGS_MODULE") != "config.settings.production"
