"""Issue 20: the letter's CJK faces are cut to GB 2312 once per machine and every render reuses one
font configuration, so WeasyPrint subsets a ~14,000-glyph font instead of a 65,535-glyph one —
without changing what the letter looks like (same boxes, same glyphs)."""
import io
from datetime import date

import pytest
from django.utils import translation
from pypdf import PdfReader

from reports import letter_fonts
from reports.pdf import letter_stylesheet, render_letter_html, render_letter_pdf

from .helpers import pdf_text

OFFICE = "北京市朝阳区医疗保障局"


def _fonts(pdf: bytes) -> dict[str, int]:
    """Embedded font name (without the subset tag) → size of its font file in the PDF."""
    out = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            descriptor = descendant["/FontDescriptor"].get_object()
            stream = next(descriptor[k] for k in ("/FontFile3", "/FontFile2", "/FontFile") if k in descriptor).get_object()
            out[str(font["/BaseFont"]).split("+", 1)[1]] = len(stream.get_data())
    return out


def _pdf(content, kind="claim_approved"):
    with translation.override("zh-hans"):
        return render_letter_pdf(content, "京朝医救决〔2026〕17号", date(2026, 12, 7), OFFICE, "ABCDEFGHJK", kind=kind)


def _boxes(html: str, font_config, stylesheets=None) -> list[tuple]:
    from weasyprint import HTML

    document = HTML(string=html).render(font_config=font_config, stylesheets=stylesheets)
    out = []

    def walk(box):
        out.append((type(box).__name__, round(box.position_x, 3), round(box.position_y, 3),
                    round(box.width or 0, 3), round(box.height or 0, 3), getattr(box, "text", "")))
        for child in getattr(box, "children", []):
            walk(child)

    for page in document.pages:
        walk(page._page_box)
    return out


def _installed_only(html: str) -> str:
    """The same letter as it was drawn before issue 20: the installed faces only."""
    for name in (letter_fonts.SERIF, letter_fonts.SANS):
        html = html.replace(f'"{name}", "{name} Rest", ', "")
    assert "font-family: \"Letter" not in html
    return html


def test_issue20_letter_embeds_the_gb2312_cut_not_the_65535_glyph_face(approved_content):
    fonts = _fonts(_pdf(approved_content))
    assert set(fonts) == {"Letter-Serif-SC", "Letter-Serif-SC-Bold", "Letter-Sans-SC-Bold", "DejaVu-Sans-Mono-Bold"}
    # the installed faces' subsets kept glyph ids up to ~63,000 (775 KiB for 192 glyphs)
    assert max(fonts.values()) < 300 * 1024


def test_issue20_character_outside_gb2312_is_drawn_from_the_rest_cut(approved_content):
    content = dict(approved_content, recipient_name="王喆堃")  # 喆, 堃: not in GB 2312
    pdf = _pdf(content)
    assert "王喆堃" in pdf_text(pdf)
    assert "Letter-Serif-SC-Rest" in _fonts(pdf)
    assert not any(name.startswith("Noto") for name in _fonts(pdf))


@pytest.mark.parametrize("name", ["张伟", "王喆堃"])
@pytest.mark.parametrize("kind", ["claim_approved", "claim_rejected"])
def test_issue20_letter_layout_is_box_for_box_the_installed_faces_layout(approved_content, name, kind):
    from weasyprint.text.fonts import FontConfiguration

    content = dict(approved_content, recipient_name=name)
    if kind == "claim_rejected":
        content.update(decision="rejected", reason="不属于医疗救助对象", amount=0)
    with translation.override("zh-hans"):
        html = render_letter_html(content, "京朝医救决〔2026〕17号", date(2026, 12, 7), OFFICE, "ABCDEFGHJK", kind=kind)
    assert _boxes(html, letter_fonts.font_config()) == _boxes(_installed_only(html), FontConfiguration())


def test_issue20_subset_keeps_all_of_gb2312():
    chars = set(letter_fonts.charset())
    assert len([c for c in chars if 0x4E00 <= c <= 0x9FFF]) == 6763  # GB 2312 level 1 + 2 hanzi
    assert {ord(c) for c in "〔〕《》（）：；、。—“”…①０１"} <= chars


def test_issue20_font_config_is_shared_by_renders_in_a_thread():
    assert letter_fonts.font_config() is letter_fonts.font_config()


def test_issue20_subset_is_cached_on_disk_and_rebuilt_atomically(tmp_path, settings):
    settings.LETTER_FONT_DIR = str(tmp_path)
    face = letter_fonts.installed_face("Noto Sans CJK SC", 200)
    assert face is not None
    first = letter_fonts.subset_file(*face)
    assert first.parent == tmp_path and first.stat().st_size > 1024 * 1024
    mtime = first.stat().st_mtime_ns
    assert letter_fonts.subset_file(*face) == first and first.stat().st_mtime_ns == mtime  # not rebuilt
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_issue20_without_the_subsetter_letters_use_the_installed_faces(approved_content, monkeypatch):
    monkeypatch.setattr(letter_fonts, "installed_face", lambda family, weight: None)
    letter_fonts.reset()
    try:
        fonts = _fonts(_pdf(approved_content))
    finally:
        letter_fonts.reset()
    assert {"Noto-Serif-CJK-SC", "Noto-Serif-CJK-SC-Bold", "Noto-Sans-CJK-SC-Bold"} <= set(fonts)


@pytest.mark.parametrize("kind", ["claim_approved", "claim_rejected"])
def test_issue20_stylesheet_parsed_once_gives_the_inline_sheets_layout(approved_content, kind):
    content = dict(approved_content, recipient_name="王喆堃")
    if kind == "claim_rejected":
        content.update(decision="rejected", reason="不属于医疗救助对象", amount=0)
    args = (content, "京朝医救决〔2026〕17号", date(2026, 12, 7), OFFICE, "ABCDEFGHJK")
    with translation.override("zh-hans"):
        inline = render_letter_html(*args, kind=kind)
        external = render_letter_html(*args, kind=kind, external_css=True)
    assert "<style>" in inline and "<style>" not in external
    assert letter_stylesheet() is letter_stylesheet()
    config = letter_fonts.font_config()
    assert _boxes(external, config, [letter_stylesheet()]) == _boxes(inline, config)
