import pytest

from tests.reports.conftest import approved_content  # noqa: F401  (a letter's content, shared)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
