"""Issue 18: claims take attachments (出院小结 ...): PDF/JPG/PNG only, decided by content, size
limited, stored outside the web root under a random name, served only through the scoped view."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from claims.models import ClaimAttachment

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _private(settings, tmp_path):
    settings.ATTACHMENTS_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(client, claim, name, data, kind="discharge_summary"):
    return client.post(reverse("claims:attach", args=[claim.pk]),
                       {"kind": kind, "file": SimpleUploadedFile(name, data)}, follow=True)


def test_pdf_is_stored_outside_media_and_served_to_the_district(client, caseworker, reviewer, make_claim, settings):
    claim = make_claim()
    client.force_login(caseworker)
    page = upload(client, claim, "出院小结.pdf", PDF)
    assert "材料已上传" in page.content.decode()
    attachment = ClaimAttachment.objects.get()
    stored = Path(attachment.file.path)
    assert stored.is_relative_to(settings.ATTACHMENTS_ROOT) and not stored.is_relative_to(settings.MEDIA_ROOT)
    assert "出院小结" not in stored.name and attachment.content_type == "application/pdf"
    client.force_login(reviewer)
    response = client.get(reverse("claims:attachment", args=[claim.pk, attachment.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf" and response["X-Content-Type-Options"] == "nosniff"


def test_other_district_gets_404(client, other_caseworker, caseworker, make_claim):
    claim = make_claim()
    client.force_login(caseworker)
    upload(client, claim, "a.png", PNG)
    attachment = ClaimAttachment.objects.get()
    client.force_login(other_caseworker)
    assert client.get(reverse("claims:attachment", args=[claim.pk, attachment.pk])).status_code == 404
    assert upload(client, claim, "b.png", PNG).status_code == 404


@pytest.mark.parametrize(("name", "data", "message"), [
    ("evil.pdf", b"<html><script>alert(1)</script></html>", "只接受 PDF、JPG 或 PNG"),
    ("photo.pdf", PNG, "与扩展名不符"),
    ("run.exe", b"MZ\x90\x00", "只接受 PDF、JPG 或 PNG"),
])
def test_type_is_checked_by_content(client, caseworker, make_claim, name, data, message):
    claim = make_claim()
    client.force_login(caseworker)
    assert message in upload(client, claim, name, data).content.decode()
    assert not ClaimAttachment.objects.exists()


def test_size_limit(client, caseworker, make_claim, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    claim = make_claim()
    client.force_login(caseworker)
    assert "不能超过" in upload(client, claim, "big.pdf", PDF + b"0" * 2048).content.decode()
    assert not ClaimAttachment.objects.exists()
