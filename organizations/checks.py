"""``manage.py check --deploy``: stored files are encrypted at rest (issue 15)."""
from __future__ import annotations

from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_files_encrypted_at_rest(app_configs=None, **kwargs):
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured
    from django.core.files.storage import default_storage
    from django.db import models

    from . import fieldcrypto, filecrypto

    errors = []
    try:
        if filecrypto.decrypt(filecrypto.encrypt(b"check")) != b"check":  # pragma: no cover - cannot differ
            raise fieldcrypto.DecryptionError("round trip")
    except (ImproperlyConfigured, fieldcrypto.DecryptionError) as exc:
        errors.append(checks.Error(
            f"Stored files cannot be encrypted: {exc}",
            hint="Set FIELD_ENCRYPTION_KEY (base64 of 32 random bytes, openssl rand -base64 32); it encrypts ID and "
                 "account numbers, TOTP secrets and every uploaded or generated file (docs/security.md).",
            id="organizations.E101"))
    storages = [("STORAGES['default']", default_storage)]
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                storages.append((f"{model._meta.label}.{field.name}", field.storage))
    for label, storage in storages:
        if not isinstance(storage, filecrypto.EncryptedFileSystemStorage):
            errors.append(checks.Error(
                f"{label} stores files unencrypted ({type(storage).__module__}.{type(storage).__qualname__}).",
                hint="Use organizations.filecrypto.EncryptedFileSystemStorage (or a subclass): uploads and letters "
                     "carry personal data and are encrypted at rest (docs/security.md, 'Encryption at rest').",
                id="organizations.E102"))
    return errors
