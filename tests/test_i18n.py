"""Interface language: Chinese by default (even for English browsers), English on request."""
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest
from asgiref.local import Local
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
SCRIPT = Path(settings.BASE_DIR) / "scripts" / "translate_en.py"


def ensure_english_compiled() -> None:
    """Compile locale/en when the .mo is missing or older than the .po (``make`` does it too)."""
    po, mo = LOCALE / "django.po", LOCALE / "django.mo"
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        if shutil.which("msgfmt") is None:
            pytest.skip("gettext (msgfmt) is not installed: scripts/sysdeps.sh installs it")
        call_command("compilemessages", locale=["en"], ignore_patterns=[".venv"], verbosity=0)
        # forget catalogues loaded before compiling (what Django does when LOCALE_PATHS changes)
        trans_real = translation.trans_real
        trans_real._translations = {}
        trans_real._default = None
        trans_real._active = Local()


@pytest.fixture(autouse=True)
def english_compiled():
    ensure_english_compiled()


def _translate_module():
    spec = importlib.util.spec_from_file_location("translate_en", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["translate_en"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db
def test_login_page_is_chinese_even_for_an_english_browser(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    body = response.content.decode()
    assert 'lang="zh-hans"' in body
    assert "工作人员登录" in body


@pytest.mark.django_db
def test_the_language_switcher_turns_the_interface_english(client, caseworker):
    client.force_login(caseworker)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    body = client.get(reverse("home")).content.decode()
    assert 'lang="en"' in body
    assert "Dashboard" in body and "Sign out" in body
    assert "退出" not in body


@pytest.mark.django_db
def test_base_layout_offers_both_languages(client, caseworker):
    client.force_login(caseworker)
    body = client.get(reverse("home")).content.decode()
    assert 'action="/i18n/setlang/"' in body
    assert 'value="en"' in body and 'value="zh-hans"' in body


def test_every_string_of_the_foundation_has_an_english_translation():
    """organizations/, config/ and the top-level templates are translated (other apps: the lead's
    final ``make messages`` run)."""
    module = _translate_module()
    entries = module.parse((LOCALE / "django.po").read_text(encoding="utf-8"))
    mine = ("organizations/", "templates/", "config/")

    def ours(entry) -> bool:
        paths = [p for c in entry.comments if c.startswith("#:") for p in c[2:].split()]
        return any(p.startswith(mine) for p in paths)

    untranslated = [
        e.get("msgid") for e in entries
        if e.get("msgid") and ours(e) and not (e.get("msgstr") or e.get("msgstr[0]"))
    ]
    assert untranslated == []


def test_translate_script_fills_only_missing_entries_and_keeps_placeholders(tmp_path):
    module = _translate_module()
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: \\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
        '#: a.py:1\nmsgid "保存"\nmsgstr ""\n\n'
        '#: a.py:2\nmsgid "退出"\nmsgstr "Log out"\n\n'
        '#: a.py:3\n#, fuzzy, python-format\n#| msgid "%(n)s条"\nmsgid "%(n)s人"\nmsgstr "%(n)s items"\n\n'
        '#: a.py:4\n#, python-format\nmsgid "%(name)s家庭"\nmsgstr ""\n\n'
        '#: a.py:5\nmsgid "未收录"\nmsgstr ""\n\n'
        '#: a.py:6\n#, fuzzy\n#| msgid "救助对象"\nmsgid "救助对象查询"\nmsgstr "Beneficiaries"\n',
        encoding="utf-8",
    )
    glossary = tmp_path / "g.tsv"
    glossary.write_text("# comment\n保存\tSave\n退出\tSign out\n%(n)s人\t%(n)s people\n%(name)s家庭\tthe household\n"
                        "救助对象查询\tBeneficiaries\n",
                        encoding="utf-8")
    assert module.main(["--po", str(po), "--glossary", str(glossary)]) == 0
    entries = {e.get("msgid"): e for e in module.parse(po.read_text(encoding="utf-8"))}
    assert entries["保存"].get("msgstr") == "Save"
    assert entries["退出"].get("msgstr") == "Log out", "a translation already made is kept"
    assert entries["%(n)s人"].get("msgstr") == "%(n)s people" and not entries["%(n)s人"].fuzzy
    assert entries["%(name)s家庭"].get("msgstr") == "", "placeholders differ: skipped, msgfmt stays happy"
    assert entries["未收录"].get("msgstr") == ""
    assert not entries["救助对象查询"].fuzzy, "a fuzzy guess the glossary confirms is no longer fuzzy"
    assert "Language: en" in entries[""].get("msgstr")
    if shutil.which("msgfmt"):
        import subprocess

        assert subprocess.run(["msgfmt", "-c", "-o", "/dev/null", str(po)]).returncode == 0
