#!/usr/bin/env bash
# Install the system libraries PDF rendering needs, when they are missing and we can.
set -u
need=()
fc-list 2>/dev/null | grep -qiE "Noto (Serif|Sans) CJK SC|WenQuanYi" || need+=(fonts-noto-cjk fonts-wqy-microhei)
ldconfig -p 2>/dev/null | grep -q libpango-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || need+=(libharfbuzz-subset0)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v msgfmt >/dev/null || need+=(gettext)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${need[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 \
    || echo "warning: could not install ${need[*]}; PDFs may lack Chinese glyphs" >&2
else
  echo "note: please install ${need[*]} (needs root); PDFs may lack Chinese glyphs until then" >&2
fi
exit 0
