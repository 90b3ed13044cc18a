#!/usr/bin/env bash
# Backup and restore drill: PostgreSQL (pg_dump custom format) plus MEDIA_ROOT (letters' PDFs,
# uploaded documents and import files) in ONE archive, so a letter number in the database never
# points at a PDF the backup does not hold.
#
#   scripts/backup.sh backup  [DIR]       → DIR/medassist-YYYYmmddTHHMMSSZ.tar (default: backups/)
#   scripts/backup.sh restore FILE        → into DATABASE_URL, which must be an EMPTY database
#
# `make backup` / `make restore FILE=...` call this. DATABASE_URL (PostgreSQL) and MEDIA_ROOT come
# from the environment as for the application (MEDIA_ROOT defaults to ./media). Restore refuses a
# database that already has tables (no silent merge), and an existing non-empty MEDIA_ROOT.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "backup: $*" >&2; exit 1; }
: "${DATABASE_URL:?backup: DATABASE_URL is not set (postgres://USER@HOST:5432/NAME)}"
case "$DATABASE_URL" in postgres://*|postgresql://*) ;; *) die "DATABASE_URL must be PostgreSQL";; esac
MEDIA_ROOT="${MEDIA_ROOT:-$PWD/media}"
# libpq understands postgres:// URLs directly.
PGURL="$DATABASE_URL"

case "${1:-}" in
  backup)
    dir="${2:-backups}"
    mkdir -p "$dir"
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    pg_dump --format=custom --no-owner --no-privileges --file="$work/database.dump" "$PGURL"
    if [ -d "$MEDIA_ROOT" ]; then
      tar -C "$MEDIA_ROOT" -cf "$work/media.tar" .
    else
      tar -cf "$work/media.tar" --files-from /dev/null
    fi
    (cd "$work" && sha256sum database.dump media.tar > SHA256SUMS)
    printf 'created=%s\ngit=%s\n' "$stamp" "$(git rev-parse HEAD 2>/dev/null || echo unknown)" > "$work/MANIFEST"
    out="$dir/medassist-$stamp.tar"
    tar -C "$work" -cf "$out" MANIFEST SHA256SUMS database.dump media.tar
    echo "backup: $out ($(du -h "$out" | cut -f1))"
    ;;
  restore)
    file="${2:-}"
    [ -n "$file" ] && [ -f "$file" ] || die "restore needs FILE=<backup .tar> (got '${file}')"
    tables=$(psql "$PGURL" -tAc "select count(*) from pg_tables where schemaname = 'public'")
    [ "$tables" = "0" ] || die "the target database already has $tables tables: restore only into an empty database"
    if [ -d "$MEDIA_ROOT" ] && [ -n "$(ls -A "$MEDIA_ROOT" 2>/dev/null)" ]; then
      die "MEDIA_ROOT ($MEDIA_ROOT) is not empty: restore into an empty folder"
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    tar -C "$work" -xf "$file"
    (cd "$work" && sha256sum --quiet -c SHA256SUMS) || die "checksums do not match: the backup is damaged"
    pg_restore --no-owner --no-privileges --exit-on-error --dbname="$PGURL" "$work/database.dump"
    mkdir -p "$MEDIA_ROOT"
    tar -C "$MEDIA_ROOT" -xf "$work/media.tar"
    echo "backup: restored $(grep created "$work/MANIFEST") into the database and $MEDIA_ROOT"
    ;;
  *)
    die "usage: scripts/backup.sh backup [DIR] | restore FILE"
    ;;
esac
