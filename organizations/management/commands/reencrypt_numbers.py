"""``manage.py reencrypt_numbers``: encrypt every ID and account number again under the current
``FIELD_ENCRYPTION_KEY``/algorithm and recompute the lookup hashes under the current
``FIELD_HASH_KEY``/hash algorithm. Run after a key rotation (old key in
``FIELD_ENCRYPTION_OLD_KEYS`` meanwhile) or a change of algorithm; idempotent."""
from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from organizations.fieldcrypto import EncryptedCharField, encrypt_column


def encrypted_columns():
    from django.apps import apps

    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedCharField):
                yield model, field.name


class Command(BaseCommand):
    help = "Re-encrypt ID and account numbers and recompute their lookup hashes under the current keys."

    def handle(self, *args, **options):
        for model, name in encrypted_columns():
            with transaction.atomic():
                encrypt_column(model, name)
            self.stdout.write(f"  {model._meta.label}.{name}: {model._base_manager.count()} rows")
        self.stdout.write(self.style.SUCCESS("Numbers re-encrypted; remove FIELD_ENCRYPTION_OLD_KEYS now."))
