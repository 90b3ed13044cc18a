"""Encryption at rest of ID and bank account numbers, with a keyed hash (blind index) for lookup.

- :class:`EncryptedCharField` stores ``<tag>:<base64(nonce | ciphertext | GCM tag)>``: AES-256-GCM
  (tag ``a1``) or, where the deployment's 密评 asks for 商用密码, SM4-GCM (tag ``s1``), chosen by
  ``FIELD_ENCRYPTION_ALGORITHM``. Python code reads and writes plain text (decrypted on load,
  encrypted on save), so ``person.id_number`` is what it always was.
- :class:`BlindIndexField` holds HMAC-SHA256 (or HMAC-SM3 with SM4) of the normalised value
  under a *second* key, ``FIELD_HASH_KEY``: equal numbers have equal hashes, so exact lookups and
  uniqueness work without the plain text in the database. It is computed in ``pre_save`` from its
  source field, so ``save()`` and ``bulk_create`` both fill it.
- Lookups on an encrypted field go through its hash: ``filter(id_number=x)``,
  ``id_number__in=[...]``, ``__iexact`` (admin "=" search) are rewritten to the hash column;
  ``__endswith`` with 4 characters (the search by the last four digits shown in the mask) to the
  tail hash. Any other lookup (``contains``, ``startswith``, ordering by the number…) raises:
  a comparison with ciphertext would silently find nothing.

Keys come from the environment (base64 of 32 random bytes; SM4 uses the first 16). Rotation: see
docs/security.md ("Encryption at rest").
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Lookup

AES = "aes-gcm"
SM4 = "sm4-gcm"
TAGS = {AES: "a1", SM4: "s1"}
NONCE_BYTES = 12


class DecryptionError(ValueError):
    pass


def _key(name: str) -> bytes:
    return _decode(name=name, value=getattr(settings, name, ""))


def _decode(*, name: str, value: str) -> bytes:
    if not value:
        raise ImproperlyConfigured(f"{name} is not set (base64 of 32 random bytes)")
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{name} is not valid base64") from None
    if len(key) < 32:
        raise ImproperlyConfigured(f"{name} must decode to 32 bytes")
    return key[:32]


@lru_cache(maxsize=8)
def _keys(enc: str, mac: str) -> tuple[bytes, bytes]:
    return _key("FIELD_ENCRYPTION_KEY"), _key("FIELD_HASH_KEY")


def keys() -> tuple[bytes, bytes]:
    return _keys(getattr(settings, "FIELD_ENCRYPTION_KEY", ""), getattr(settings, "FIELD_HASH_KEY", ""))


def algorithm() -> str:
    name = getattr(settings, "FIELD_ENCRYPTION_ALGORITHM", AES)
    if name not in TAGS:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_ALGORITHM must be one of {sorted(TAGS)}")
    return name


def _aead(tag: str, key: bytes, nonce: bytes, data: bytes, *, encrypt: bool) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        if tag == TAGS[AES]:
            return AESGCM(key).encrypt(nonce, data, None) if encrypt else AESGCM(key).decrypt(nonce, data, None)
        if encrypt:
            enc = Cipher(algorithms.SM4(key[:16]), modes.GCM(nonce)).encryptor()
            return enc.update(data) + enc.finalize() + enc.tag
        dec = Cipher(algorithms.SM4(key[:16]), modes.GCM(nonce, data[-16:])).decryptor()
        return dec.update(data[:-16]) + dec.finalize()
    except InvalidTag:
        raise DecryptionError("ciphertext does not authenticate under FIELD_ENCRYPTION_KEY") from None


def encrypt(plain: str) -> str:
    tag = TAGS[algorithm()]
    nonce = os.urandom(NONCE_BYTES)
    body = _aead(tag, keys()[0], nonce, plain.encode("utf-8"), encrypt=True)
    return f"{tag}:{base64.b64encode(nonce + body).decode('ascii')}"


def is_encrypted(value: str) -> bool:
    return isinstance(value, str) and value[:3] in {f"{t}:" for t in TAGS.values()}


def old_keys() -> list[bytes]:
    """Earlier encryption keys (``FIELD_ENCRYPTION_OLD_KEYS``), still read during a rotation."""
    return [_decode(name="FIELD_ENCRYPTION_OLD_KEYS", value=v) for v in getattr(settings, "FIELD_ENCRYPTION_OLD_KEYS", [])]


def decrypt(stored: str) -> str:
    tag, _sep, payload = stored.partition(":")
    raw = base64.b64decode(payload)
    for key in (keys()[0], *old_keys()):
        try:
            return _aead(tag, key, raw[:NONCE_BYTES], raw[NONCE_BYTES:], encrypt=False).decode("utf-8")
        except DecryptionError:
            continue
    raise DecryptionError("ciphertext does not authenticate under FIELD_ENCRYPTION_KEY (nor an old key)")


def normalise(value: str) -> str:
    """What equal numbers share: no spaces, upper-case (ID check digit X)."""
    return "".join(str(value).split()).upper()


def hash_algorithm() -> str:
    """HMAC-SHA256, or HMAC-SM3 (``FIELD_HASH_ALGORITHM = "hmac-sm3"``, the default with SM4).
    Changing it (or ``FIELD_HASH_KEY``) needs ``manage.py reencrypt_numbers``."""
    default = "hmac-sm3" if algorithm() == SM4 else "hmac-sha256"
    return getattr(settings, "FIELD_HASH_ALGORITHM", "") or default


def blind_index(value: str) -> str:
    data = normalise(value).encode("utf-8")
    if hash_algorithm() == "hmac-sm3":
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives import hmac as chmac

        h = chmac.HMAC(keys()[1], hashes.SM3())
        h.update(data)
        return h.finalize().hex()
    return hmac.new(keys()[1], data, hashlib.sha256).hexdigest()


def tail_index(value: str, n: int = 4) -> str:
    """Keyed hash of the last ``n`` characters (search by the last four digits)."""
    return blind_index("tail:" + normalise(value)[-n:])


# ------------------------------------------------------------------------------------------
# Model fields
# ------------------------------------------------------------------------------------------

class EncryptedCharField(models.CharField):
    """A char field stored encrypted. ``max_length`` is the plain text's; the column is wider."""

    def __init__(self, *args, hash_field: str = "", tail_field: str = "", plain_max_length: int | None = None, **kwargs):
        self.hash_field = hash_field
        self.tail_field = tail_field
        self.plain_max_length = plain_max_length or kwargs.get("max_length") or 64
        kwargs["max_length"] = ciphertext_length(self.plain_max_length)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["plain_max_length"] = self.plain_max_length
        kwargs.pop("max_length", None)
        if self.hash_field:
            kwargs["hash_field"] = self.hash_field
        if self.tail_field:
            kwargs["tail_field"] = self.tail_field
        return name, path, args, kwargs

    def formfield(self, **kwargs):
        kwargs.setdefault("max_length", self.plain_max_length)
        return super().formfield(**kwargs)

    def from_db_value(self, value, expression, connection):
        if value is None or not is_encrypted(value):
            return value  # plain text not yet migrated (only inside the data migration)
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "" or is_encrypted(value):
            return value
        return encrypt(str(value))


def ciphertext_length(plain_max_length: int) -> int:
    # tag ":" base64(12-byte nonce + up to 4 bytes per character + 16-byte GCM tag)
    raw = NONCE_BYTES + 4 * plain_max_length + 16
    return 3 + 4 * ((raw + 2) // 3)


class BlindIndexField(models.CharField):
    """HMAC of another field's value, filled on every save (and bulk_create) from ``source``."""

    def __init__(self, *args, source: str = "", tail: bool = False, **kwargs):
        self.source = source
        self.tail = tail
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")  # filled in pre_save
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        if self.tail:
            kwargs["tail"] = True
        kwargs.pop("editable", None)
        if kwargs.get("default") == "":
            kwargs.pop("default")
        if kwargs.get("max_length") == 64:
            kwargs.pop("max_length")
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.source)
        digest = "" if value in (None, "") else (tail_index(value) if self.tail else blind_index(value))
        setattr(model_instance, self.attname, digest)
        return digest


class _HashedLookup(Lookup):
    """``encrypted_field <op> value`` compiled as ``hash_column = HMAC(value)``."""

    can_use_none_as_rhs = False
    prepare_rhs = False

    def _hash_col(self, tail: bool = False):
        field = self.lhs.target
        name = field.tail_field if tail else field.hash_field
        if not name:
            raise TypeError(f"{field.model.__name__}.{field.name} is encrypted and has no hash column for this lookup")
        return field.model._meta.get_field(name).get_col(self.lhs.alias)

    def get_db_prep_lookup(self, value, connection):
        return ("%s", [value])


class HashedExact(_HashedLookup):
    lookup_name = "exact"

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self._hash_col())
        return f"{sql} = %s", [*params, blind_index(self.rhs)]


class HashedIExact(HashedExact):
    lookup_name = "iexact"


class HashedIn(_HashedLookup):
    lookup_name = "in"

    def as_sql(self, compiler, connection):
        values = [blind_index(v) for v in self.rhs if v not in (None, "")]
        if not values:
            return "1 = 0", []
        sql, params = compiler.compile(self._hash_col())
        return f"{sql} IN ({', '.join(['%s'] * len(values))})", [*params, *values]


class HashedEndswith(_HashedLookup):
    """Only the last four characters (the part the mask shows), through the tail hash."""

    lookup_name = "endswith"

    def as_sql(self, compiler, connection):
        if len(normalise(self.rhs)) != 4:
            raise TypeError("an encrypted number can only be searched by its last four characters")
        sql, params = compiler.compile(self._hash_col(tail=True))
        return f"{sql} = %s", [*params, tail_index(self.rhs)]


class RefusedLookup(_HashedLookup):
    def as_sql(self, compiler, connection):
        raise TypeError(f"lookup '{self.lookup_name}' on an encrypted field would compare ciphertext")


for _lookup in (HashedExact, HashedIExact, HashedIn, HashedEndswith):
    EncryptedCharField.register_lookup(_lookup)
for _name in ("contains", "icontains", "startswith", "istartswith", "iendswith", "gt", "gte", "lt", "lte",
              "range", "regex", "iregex"):
    EncryptedCharField.register_lookup(type(f"Refused_{_name}", (RefusedLookup,), {"lookup_name": _name}))


# ------------------------------------------------------------------------------------------
# Data migrations
# ------------------------------------------------------------------------------------------

def encrypt_column(model, field_name: str, chunk: int = 2000) -> None:
    """Encrypt ``field_name`` of every row (plain or already encrypted: idempotent) and fill the
    blind-index fields computed from it. For ``RunPython`` with the migration's model state."""
    pk = model._meta.pk.attname
    hashes = [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField) and f.source == field_name]
    last = None
    while True:
        qs = model._base_manager.order_by(pk)
        if last is not None:
            qs = qs.filter(**{f"{pk}__gt": last})
        rows = list(qs[:chunk])
        if not rows:
            return
        for row in rows:
            for f in hashes:
                f.pre_save(row, False)
        model._base_manager.bulk_update(rows, [field_name, *[f.name for f in hashes]])
        last = getattr(rows[-1], pk)


def decrypt_column(model, field_name: str) -> None:
    """Reverse of :func:`encrypt_column`: write the plain text back (raw SQL: the field would
    encrypt it again)."""
    from django.db import connection

    field = model._meta.get_field(field_name)
    pk = model._meta.pk
    table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(field.column)
    rows = list(model._base_manager.values_list(pk.attname, field.attname))
    with connection.cursor() as cursor:
        for key, plain in rows:
            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {connection.ops.quote_name(pk.column)} = %s",  # noqa: S608 - identifiers from model meta
                           [plain, key])


class _Row:
    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


def prepare_raw_row(fields, row: dict, *, encrypt_values: bool = True) -> dict:
    """For writers that bypass the ORM (COPY, executemany): a row dict (attname -> value) with
    its keyed hashes computed from the plain values and, unless the caller's path encrypts
    (``get_db_prep_save``), its encrypted fields encrypted."""
    hashes = [f for f in fields if isinstance(f, BlindIndexField)]
    if not hashes and not encrypt_values:
        return row
    row = {**row, **{f.attname: f.pre_save(_Row(row), True) for f in hashes}}
    if encrypt_values:
        for f in fields:
            if isinstance(f, EncryptedCharField):
                row[f.attname] = f.get_prep_value(row.get(f.attname))
    return row
