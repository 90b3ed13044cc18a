"""Letter files (issue 15): a rolled-back issuance leaves no PDF behind (so no two files carry one
number), letters under /media/ are never served without login and scope, even with DEBUG=True,
and letter PDFs are sent with Cache-Control: no-store and written to the access log."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import override_settings
from django.urls import clear_url_caches, reverse

from audit.models import AccessLog, Action
from reports import services
from reports.models import Letter, LetterKind
from reports.services import letter_correct, letter_issue_from_content

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def _pdfs() -> list[Path]:
    return sorted(Path(django_settings.MEDIA_ROOT).rglob("*.pdf"))


def test_a_rolled_back_letter_issuance_leaves_no_pdf(district, reviewer, approved_content, monkeypatch):
    def fail(*args, **kwargs):
        raise Boom

    # the last step of _issue, after the file and the row are saved, fails: everything rolls back
    monkeypatch.setattr(services.logger, "info", fail)
    with pytest.raises(Boom):
        letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    assert not Letter.objects.exists()
    assert _pdfs() == []  # was: the PDF stayed, carrying the number the next letter is given


def test_after_an_outer_rollback_the_number_is_on_one_file_only(district, reviewer, approved_content):
    with pytest.raises(Boom), transaction.atomic():
        rolled_back = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district,
                                                content=approved_content, by=reviewer)
        raise Boom  # the caller's next step fails: the letter and its number roll back
    assert not Letter.objects.exists()
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    assert letter.number == rolled_back.number and letter.file.name == rolled_back.file.name  # no "_abc123" copy beside
    assert _pdfs() == [Path(letter.file.path)]
    import hashlib

    with letter.file.open("rb") as fh:  # the stored file is encrypted at rest (issue 15); the hash is the PDF's
        assert hashlib.sha256(fh.read()).hexdigest() == letter.sha256


def test_a_failure_inside_a_correction_removes_the_new_pdf(district, reviewer, approved_content, monkeypatch):
    first = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    real_issue = services._issue

    def issue_then_fail(**kwargs):
        real_issue(**kwargs)
        raise Boom

    monkeypatch.setattr(services, "_issue", issue_then_fail)
    with pytest.raises(Boom):
        letter_correct(letter=first, reason="金额更正", by=reviewer)
    assert list(Letter.objects.all()) == [first]
    assert _pdfs() == [Path(first.file.path)]


def test_an_orphan_file_at_a_given_again_number_is_replaced_not_kept_beside(district, reviewer, approved_content):
    first = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    orphan = Path(first.file.path).with_name(f"{first.year}-{first.seq + 1:05d}.pdf")
    orphan.write_bytes(b"%PDF-1.4 left by a transaction rolled back outside the letter service")
    second = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    with second.file.open("rb") as fh:
        plain = fh.read()
    assert Path(second.file.path) == orphan and plain.startswith(b"%PDF") and b"rolled back" not in plain
    assert len(_pdfs()) == 2


@pytest.fixture
def debug_urls():
    """The URLconf as it is built with DEBUG=True (it used to add static(MEDIA_URL))."""
    import config.urls

    with override_settings(DEBUG=True):
        importlib.reload(config.urls)
        clear_url_caches()
        yield
    importlib.reload(config.urls)
    clear_url_caches()


def test_letters_under_media_need_login_and_scope_even_with_debug(client, debug_urls, district, reviewer,
                                                                 other_caseworker, approved_content):
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
    url = f"/media/{letter.file.name}"
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(other_caseworker)
    assert client.get(url).status_code == 404
    assert client.get("/media/letters/../../config/settings/base.py").status_code == 404
    client.force_login(reviewer)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == reverse("reports:letter_pdf", args=[letter.pk])


def test_letter_pdf_is_no_store_and_in_the_access_log(client, district, reviewer, person, approved_content):
    letter = letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content,
                                       by=reviewer, person=person)
    client.force_login(reviewer)
    response = client.get(reverse("reports:letter_pdf", args=[letter.pk]))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    entry = AccessLog.objects.get()
    assert (entry.action, entry.user, entry.person) == (Action.EXPORT, reviewer, person)
    assert "reports:letter_pdf" in entry.what
