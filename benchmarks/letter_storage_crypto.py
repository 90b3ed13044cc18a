"""Benchmark (issue 15): what encrypting a stored letter PDF adds per letter, beside its render time.

Usage (no database needed; the loop alternates the encrypted storage with a plain
``FileSystemStorage`` on the same directory, the floor, so both see the same load):

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python benchmarks/letter_storage_crypto.py --letters 200

Renders one real letter with ``reports.pdf.render_letter_pdf`` (median of a few warm renders), then
saves and reads back the same PDF ``--letters`` times through
``organizations.filecrypto.EncryptedFileSystemStorage`` and through ``FileSystemStorage``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=200)
    parser.add_argument("--renders", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage

    from benchmarks.reports_letters import CONTENT
    from organizations.filecrypto import EncryptedFileSystemStorage
    from reports.pdf import render_letter_pdf

    def render(i: int) -> bytes:
        return render_letter_pdf(CONTENT, f"京朝医救决〔2023〕{i + 1}号", date(2023, 3, 15), "北京市朝阳区医疗保障局",
                                 "ABCDEFGHJK", kind="claim_approved")

    render(0)  # cold: fonts
    renders = []
    for i in range(args.renders):
        t = time.perf_counter()
        pdf = render(i)
        renders.append(time.perf_counter() - t)

    with tempfile.TemporaryDirectory() as root:
        encrypted, plain = EncryptedFileSystemStorage(location=root), FileSystemStorage(location=root)
        timings: dict[str, list[float]] = {"enc_save": [], "plain_save": [], "enc_open": [], "plain_open": []}
        for i in range(args.letters):
            for label, storage in (("enc", encrypted), ("plain", plain)):
                t = time.perf_counter()
                name = storage.save(f"letters/{label}-{i}.pdf", ContentFile(pdf))
                timings[f"{label}_save"].append(time.perf_counter() - t)
                t = time.perf_counter()
                with storage.open(name, "rb") as fh:
                    assert fh.read() == pdf
                timings[f"{label}_open"].append(time.perf_counter() - t)
    med = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    render_ms = statistics.median(renders) * 1000
    added = (med["enc_save"] - med["plain_save"]) + (med["enc_open"] - med["plain_open"])
    print(f"letter PDF {len(pdf) / 1024:.0f} KiB; render median {render_ms:.0f} ms ({args.renders} warm renders)")
    print(f"save: encrypted {med['enc_save']:.2f} ms, plain (floor) {med['plain_save']:.2f} ms; "
          f"open+read: encrypted {med['enc_open']:.2f} ms, plain (floor) {med['plain_open']:.2f} ms "
          f"(medians of {args.letters})")
    print(f"added per letter (save + one read): {added:.2f} ms = {added / render_ms * 100:.2f} % of the render time")


if __name__ == "__main__":
    main()
