"""deploy/ (systemd, nginx, log retention) checked by scripts/check_deploy_files.py."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_deploy_files.py"


def _checker():
    spec = importlib.util.spec_from_file_location("check_deploy_files", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deploy_files_are_complete_with_one_beat_and_six_months_of_logs():
    assert _checker().problems() == []


def test_a_second_beat_unit_is_caught(tmp_path, monkeypatch):
    import shutil

    checker = _checker()
    copy = tmp_path / "deploy"
    shutil.copytree(checker.DEPLOY, copy)
    (copy / "systemd" / "medassist-beat2.service").write_text((copy / "systemd" / "medassist-beat.service").read_text())
    (copy / "logrotate" / "medassist").write_text("/var/log/x.log {\n daily\n rotate 30\n}\n")
    monkeypatch.setattr(checker, "DEPLOY", copy)
    found = checker.problems()
    assert any("exactly one beat" in p for p in found) and any("logrotate" in p for p in found)
