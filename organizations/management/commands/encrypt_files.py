"""``manage.py encrypt_files``: encrypt, in place, every stored file that is not yet encrypted
under the current ``FIELD_ENCRYPTION_KEY``/algorithm (issue 15).

Run once after installing the encrypted storage (files uploaded or generated before it are
plain), and after a key rotation or a change of ``FIELD_ENCRYPTION_ALGORITHM`` (the previous
key in ``FIELD_ENCRYPTION_OLD_KEYS`` meanwhile), beside ``reencrypt_numbers``. It walks the
directories of every encrypted storage (``MEDIA_ROOT``, ``ATTACHMENTS_ROOT``), so orphan files
are covered too; each file is replaced by an atomic rename. Idempotent; ``--dry-run`` counts only."""
from __future__ import annotations

import os

from django.core.management.base import BaseCommand


def encrypted_storages():
    from django.apps import apps
    from django.core.files.storage import default_storage
    from django.db import models

    from organizations.filecrypto import EncryptedFileSystemStorage

    seen: dict[str, EncryptedFileSystemStorage] = {}
    candidates = [default_storage]
    for model in apps.get_models():
        candidates += [f.storage for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
    for storage in candidates:
        if isinstance(storage, EncryptedFileSystemStorage):
            seen.setdefault(os.path.abspath(storage.location), storage)
    return seen


class Command(BaseCommand):
    help = "Encrypt stored files (uploads, letters) that are plain or under an old key."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count the files to encrypt, change nothing")

    def handle(self, *args, dry_run=False, **options):
        from organizations.filecrypto import needs_reencryption

        total = 0
        for location, storage in sorted(encrypted_storages().items()):
            done = checked = 0
            for root, _dirs, files in os.walk(location):
                for filename in files:
                    if filename.endswith(".enc-tmp"):
                        continue
                    name = os.path.relpath(os.path.join(root, filename), location)
                    checked += 1
                    if dry_run:
                        done += needs_reencryption(storage.read_raw(name))
                    else:
                        done += storage.rewrite(name)
            total += done
            verb = "to encrypt" if dry_run else "encrypted"
            self.stdout.write(f"  {location}: {checked} files, {done} {verb}")
        self.stdout.write(self.style.SUCCESS(f"{total} files {'to encrypt' if dry_run else 'encrypted'}."))
