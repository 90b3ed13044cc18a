#!/usr/bin/env bash
# Install the system packages the product needs, when they are missing and we can (root + apt-get):
#   required: Pango (WeasyPrint), a Simplified-Chinese font, HarfBuzz subsetting (fast CJK PDFs),
#             gettext (English interface), poppler-utils (PDF previews in tests);
#   optional: Chromium for the browser tests (tests/browser skip with a reason without it;
#             SKIP_BROWSER=1 to not install it).
# Never fails the build: without root it prints what to install.
set -u
need=()
fc-list 2>/dev/null | grep -qiE "Noto (Serif|Sans) CJK SC|WenQuanYi" || need+=(fonts-noto-cjk fonts-wqy-microhei)
ldconfig -p 2>/dev/null | grep -q libpango-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || need+=(libharfbuzz-subset0)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v msgfmt >/dev/null || need+=(gettext)
optional=()
if [ "${SKIP_BROWSER:-0}" != "1" ] && [ ! -x /usr/bin/chromium ]; then
  optional+=(chromium)
fi
if [ ${#need[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then
  exit 0
fi

can_apt=0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  can_apt=1
fi
if [ $can_apt -eq 1 ]; then
  apt-get update -qq >/dev/null 2>&1 || true
fi
install() {  # $1: what for; rest: packages
  local why=$1; shift
  if [ $can_apt -eq 1 ]; then
    echo "Installing system packages ($why): $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
      || echo "warning: could not install $* ($why)" >&2
  else
    echo "note: please install $* ($why; needs root)" >&2
  fi
}
[ ${#need[@]} -gt 0 ] && install "PDF letters, Chinese fonts, English interface" "${need[@]}"
[ ${#optional[@]} -gt 0 ] && install "optional: browser tests" "${optional[@]}"
exit 0
