"""The letter's CJK faces, subset once per machine, and one WeasyPrint font configuration per thread.

Why (issue 20, docs/benchmarks/reports.md): WeasyPrint subsets every embedded face on every
render, and it keeps the glyph ids of the face it was given. The installed Noto CJK faces hold
65,535 glyphs each (a 20–27 MB collection), so each render ran HarfBuzz twice over ~60,000 glyphs
for each of the three CJK faces (≈ 60 % of a warm render's subsetting and compression) and
embedded ~130 KiB per face even for 20 glyphs.

What: the same three faces (Noto Serif CJK SC Regular and Bold, Noto Sans CJK SC Bold), cut by
HarfBuzz to GB 2312 plus ASCII, Latin-1, general and CJK punctuation, full-width forms and
circled numbers, keeping every OpenType layout feature, name and script (so shaping is the
same), into ~14,000 glyphs; and the rest of each face (every other character) into a second
file. Both are registered under their own family names (:data:`SERIF`, :data:`SANS`, and the
same with `` Rest``) with ``@font-face`` in a per-thread :class:`FontConfiguration` that every
render reuses; the letter's stylesheet names the main cut, then the rest, then the installed
faces. A character outside GB 2312 (a rare name: 喆, 堃) is drawn from the rest cut, the same
glyph; the rest cut is embedded only in such a letter. (Falling back to the *installed* face
instead would make that one line 0.7 px taller: Pango measures a line mixing an application
font with a system font differently, tests/reports/test_letter_fonts.py.)
If anything is missing (no HarfBuzz subsetter, no installed face) nothing is registered and the
letter is drawn by the installed faces exactly as before.

Built in about a second per face (HarfBuzz), cached under ``LETTER_FONT_DIR`` (default: the
system temp dir), keyed by the source file, its size and mtime, the face index and
:data:`CHARSET_VERSION`, written atomically, so processes share one copy.
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

SERIF = "Letter Serif SC"
SANS = "Letter Sans SC"

# (css family, css weight, installed family, fontconfig weight): the faces the letter uses
FACES = (
    (SERIF, 400, "Noto Serif CJK SC", 80),
    (SERIF, 700, "Noto Serif CJK SC", 200),
    (SANS, 700, "Noto Sans CJK SC", 200),
)
CHARSET_VERSION = "gb2312-1"

_CDEF = """
typedef struct hb_blob_t hb_blob_t; typedef struct hb_face_t hb_face_t; typedef struct hb_set_t hb_set_t;
typedef struct hb_subset_input_t hb_subset_input_t; typedef uint32_t hb_codepoint_t;
hb_blob_t *hb_blob_create_from_file_or_fail (const char *file_name);
hb_face_t *hb_face_create (hb_blob_t *blob, unsigned int index);
void hb_blob_destroy (hb_blob_t *blob);
void hb_face_destroy (hb_face_t *face);
hb_blob_t *hb_face_reference_blob (hb_face_t *face);
const char *hb_blob_get_data (hb_blob_t *blob, unsigned int *length);
void hb_set_add (hb_set_t *set, hb_codepoint_t codepoint);
void hb_set_del (hb_set_t *set, hb_codepoint_t codepoint);
void hb_set_clear (hb_set_t *set);
void hb_set_invert (hb_set_t *set);
hb_subset_input_t *hb_subset_input_create_or_fail (void);
void hb_subset_input_destroy (hb_subset_input_t *input);
hb_set_t *hb_subset_input_unicode_set (hb_subset_input_t *input);
hb_set_t *hb_subset_input_set (hb_subset_input_t *input, int set_type);
void hb_subset_input_set_flags (hb_subset_input_t *input, unsigned int value);
hb_face_t *hb_subset_or_fail (hb_face_t *source, const hb_subset_input_t *input);

typedef struct _FcPattern FcPattern; typedef struct _FcConfig FcConfig;
typedef unsigned char FcChar8; typedef int FcBool; typedef int FcResult;
FcPattern *FcNameParse (const FcChar8 *name);
FcBool FcConfigSubstitute (FcConfig *config, FcPattern *p, int kind);
void FcDefaultSubstitute (FcPattern *pattern);
FcPattern *FcFontMatch (FcConfig *config, FcPattern *p, FcResult *result);
FcResult FcPatternGetString (const FcPattern *p, const char *object, int n, FcChar8 **s);
FcResult FcPatternGetInteger (const FcPattern *p, const char *object, int n, int *i);
void FcPatternDestroy (FcPattern *p);
"""
# hb_subset_sets_t: 4 name ids, 5 name languages, 6 layout features, 7 layout scripts
_KEEP_ALL_SETS = (4, 5, 6, 7)
_HB_SUBSET_FLAGS_NOTDEF_OUTLINE = 0x40


def charset() -> list[int]:
    """GB 2312 (all 7,445 characters) plus what official text mixes in."""
    chars = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))  # ASCII, Latin-1
    chars |= set(range(0x2000, 0x2070)) | set(range(0x2460, 0x2500))  # punctuation — “” …, ①
    chars |= set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0))  # 、。〔〕《》, full-width forms
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.update(map(ord, bytes((hi, lo)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return sorted(chars)


@lru_cache(maxsize=1)
def _libs():
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(_CDEF)
    hb = ffi.dlopen("libharfbuzz.so.0")
    hb_subset = ffi.dlopen("libharfbuzz-subset.so.0")
    fc = ffi.dlopen("libfontconfig.so.1")
    return ffi, hb, hb_subset, fc


def installed_face(family: str, weight: int) -> tuple[str, int] | None:
    """(file, index) of the installed face fontconfig gives for ``family`` at ``weight``, or None
    when it gives another family (the face is not installed)."""
    ffi, _hb, _hbs, fc = _libs()
    pattern = fc.FcNameParse(f"{family}:weight={weight}".encode())
    fc.FcConfigSubstitute(ffi.NULL, pattern, 0)  # FcMatchPattern
    fc.FcDefaultSubstitute(pattern)
    result = ffi.new("FcResult *")
    match = fc.FcFontMatch(ffi.NULL, pattern, result)
    fc.FcPatternDestroy(pattern)
    if match == ffi.NULL:
        return None
    try:
        value, index = ffi.new("FcChar8 **"), ffi.new("int *")
        if fc.FcPatternGetString(match, b"family", 0, value) != 0 or ffi.string(value[0]).decode() != family:
            return None
        if fc.FcPatternGetInteger(match, b"weight", 0, index) != 0 or index[0] != weight:
            return None
        if fc.FcPatternGetString(match, b"file", 0, value) != 0:
            return None
        path = ffi.string(value[0]).decode()
        if fc.FcPatternGetInteger(match, b"index", 0, index) != 0:
            return None
        return path, index[0]
    finally:
        fc.FcPatternDestroy(match)


def subset_face(path: str, index: int, codepoints: list[int], *, complement: bool = False) -> bytes:
    """The face cut to ``codepoints`` (and what its layout features reach), by HarfBuzz; with
    ``complement``, to every character of the face except ``codepoints``."""
    ffi, hb, hbs, _fc = _libs()
    blob = hb.hb_blob_create_from_file_or_fail(path.encode())
    if blob == ffi.NULL:
        raise OSError(f"cannot read {path}")
    face = hb.hb_face_create(blob, index)
    subset_input = hbs.hb_subset_input_create_or_fail()
    try:
        unicodes = hbs.hb_subset_input_unicode_set(subset_input)
        if complement:
            hb.hb_set_clear(unicodes)
            hb.hb_set_invert(unicodes)
            for codepoint in codepoints:
                hb.hb_set_del(unicodes, codepoint)
        else:
            for codepoint in codepoints:
                hb.hb_set_add(unicodes, codepoint)
        for set_type in _KEEP_ALL_SETS:  # every feature, script and name: shaping stays the same
            kept = hbs.hb_subset_input_set(subset_input, set_type)
            hb.hb_set_clear(kept)
            hb.hb_set_invert(kept)
        hbs.hb_subset_input_set_flags(subset_input, _HB_SUBSET_FLAGS_NOTDEF_OUTLINE)
        subset = hbs.hb_subset_or_fail(face, subset_input)
        if subset == ffi.NULL:
            raise ValueError(f"HarfBuzz could not subset {path}#{index}")
        try:
            out = hb.hb_face_reference_blob(subset)
            length = ffi.new("unsigned int *")
            data = ffi.unpack(hb.hb_blob_get_data(out, length), length[0])
            hb.hb_blob_destroy(out)
        finally:
            hb.hb_face_destroy(subset)
    finally:
        hbs.hb_subset_input_destroy(subset_input)
        hb.hb_face_destroy(face)
        hb.hb_blob_destroy(blob)
    if not data:
        raise ValueError(f"HarfBuzz returned an empty subset of {path}#{index}")
    return data


def font_dir() -> Path:
    configured = getattr(settings, "LETTER_FONT_DIR", "") or ""
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"letter-fonts-{os.getuid()}"


def subset_file(path: str, index: int, *, rest: bool = False) -> Path:
    """The cached subset of ``path``#``index`` (``rest``: the face's other characters), built
    (atomically) if missing."""
    stat = os.stat(path)
    part = "rest" if rest else "main"
    key = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{index}|{CHARSET_VERSION}|{part}".encode()).hexdigest()[:20]
    target = font_dir() / f"{Path(path).stem}-{index}-{part}-{key}.otf"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    data = subset_face(path, index, charset(), complement=rest)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".otf")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)  # another process may have built it meanwhile: same bytes
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("letter font subset built: %s (%d KiB)", target, len(data) // 1024)
    return target


def font_face_css() -> str:
    """``@font-face`` rules for the subset faces that could be built (empty if none)."""
    rules = []
    for css_family, css_weight, family, fc_weight in FACES:
        try:
            face = installed_face(family, fc_weight)
            if face is None:
                logger.warning("letter font %s (weight %s) is not installed; letters use the fallback", family, fc_weight)
                continue
            main, rest = subset_file(*face), subset_file(*face, rest=True)
        except Exception:  # no HarfBuzz subsetter, unreadable file: the installed faces draw the letter
            logger.exception("could not build the letter subset of %s (weight %s)", family, fc_weight)
            continue
        for name, path in ((css_family, main), (f"{css_family} Rest", rest)):
            rules.append(f'@font-face {{ font-family: "{name}"; font-weight: {css_weight}; '
                         f'src: url("{path.as_uri()}"); }}')
    return "\n".join(rules)


_local = threading.local()


def font_config():
    """This thread's WeasyPrint :class:`FontConfiguration`, with the subset faces registered.

    Built once per thread and reused by every render: fontconfig and Pango then keep the faces
    loaded between documents (WeasyPrint documents one font configuration shared by several
    documents).
    """
    config = getattr(_local, "config", None)
    if config is None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        config = FontConfiguration()
        rules = font_face_css()
        if rules:
            CSS(string=rules, font_config=config)  # registers the faces in ``config``
        _local.config = config
        _local.registered = bool(rules)
        if threading.current_thread() is threading.main_thread():
            atexit.register(reset)  # WeasyPrint's __del__ fails if it runs during interpreter teardown
    return config


def reset() -> None:
    """Forget this thread's font configuration (tests)."""
    _local.__dict__.clear()
