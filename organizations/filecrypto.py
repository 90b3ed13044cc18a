"""Uploaded and generated files encrypted at rest (issue 15).

Every ``FileField`` of the project stores through :class:`EncryptedFileSystemStorage` (the
``default`` storage, and the claim attachments' own storage): a file is encrypted when it is
saved and decrypted when it is opened, so the code that reads ``letter.file.open("rb")``,
``batch.file`` or ``attachment.file`` sees the plain bytes as before, and the disk (and the
media backup) holds only ciphertext.

Format, one AEAD message per file::

    b"MAEF" | version 0x01 | algorithm (b"a" AES-256-GCM, b"s" SM4-GCM) | salt (16) | nonce (12)
    | ciphertext | GCM tag (16)

The header is the associated data (a changed header fails authentication). The file key is
HKDF (SHA-256, or SM3 with SM4) of ``FIELD_ENCRYPTION_KEY`` with the file's random salt and a
label of its own, so the numbers' key is never used directly on files and no two files share a
key/nonce pair. Decryption tries ``FIELD_ENCRYPTION_OLD_KEYS`` too (rotation, see
``manage.py encrypt_files``). A file on disk without the header is a file stored before this
storage was installed: it is read as it is, and ``manage.py encrypt_files`` encrypts it.

Files are decrypted into memory (they are capped: attachments ``ATTACHMENT_MAX_BYTES``, rosters
``ROSTER_IMPORT_MAX_BYTES``; letters are tens of KiB), never into a temporary file on disk.
"""
from __future__ import annotations

import io
import os

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage

from . import fieldcrypto

MAGIC = b"MAEF"
VERSION = 1
SALT_BYTES = 16
ALGORITHM_BYTE = {fieldcrypto.AES: b"a", fieldcrypto.SM4: b"s"}
TAG_OF_BYTE = {b"a": fieldcrypto.TAGS[fieldcrypto.AES], b"s": fieldcrypto.TAGS[fieldcrypto.SM4]}
HEADER_BYTES = len(MAGIC) + 2 + SALT_BYTES + fieldcrypto.NONCE_BYTES
OVERHEAD = HEADER_BYTES + 16
INFO = b"medassist media file v1"


def is_encrypted(data: bytes) -> bool:
    return data[:len(MAGIC)] == MAGIC and len(data) >= OVERHEAD


def _file_key(master: bytes, salt: bytes, algorithm_byte: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    digest = hashes.SM3() if algorithm_byte == b"s" else hashes.SHA256()
    return HKDF(algorithm=digest, length=32, salt=salt, info=INFO).derive(master)


def encrypt(plain: bytes) -> bytes:
    algorithm_byte = ALGORITHM_BYTE[fieldcrypto.algorithm()]
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(fieldcrypto.NONCE_BYTES)
    header = MAGIC + bytes([VERSION]) + algorithm_byte + salt + nonce
    key = _file_key(fieldcrypto.keys()[0], salt, algorithm_byte)
    return header + _aead(algorithm_byte, key, nonce, plain, header, encrypt=True)


def decrypt(data: bytes) -> bytes:
    if not is_encrypted(data):
        raise fieldcrypto.DecryptionError("not an encrypted file")
    header, body = data[:HEADER_BYTES], data[HEADER_BYTES:]
    if header[len(MAGIC)] != VERSION or header[len(MAGIC) + 1:len(MAGIC) + 2] not in TAG_OF_BYTE:
        raise fieldcrypto.DecryptionError("unknown file encryption version or algorithm")
    algorithm_byte = header[len(MAGIC) + 1:len(MAGIC) + 2]
    salt = header[len(MAGIC) + 2:len(MAGIC) + 2 + SALT_BYTES]
    nonce = header[-fieldcrypto.NONCE_BYTES:]
    for master in (fieldcrypto.keys()[0], *fieldcrypto.old_keys()):
        try:
            return _aead(algorithm_byte, _file_key(master, salt, algorithm_byte), nonce, body, header, encrypt=False)
        except fieldcrypto.DecryptionError:
            continue
    raise fieldcrypto.DecryptionError("file does not authenticate under FIELD_ENCRYPTION_KEY (nor an old key)")


def needs_reencryption(data: bytes) -> bool:
    """Plain, or encrypted under an old key or another algorithm than the current one."""
    if not is_encrypted(data):
        return True
    if data[len(MAGIC) + 1:len(MAGIC) + 2] != ALGORITHM_BYTE[fieldcrypto.algorithm()]:
        return True
    header = data[:HEADER_BYTES]
    algorithm_byte = header[len(MAGIC) + 1:len(MAGIC) + 2]
    salt, nonce = header[len(MAGIC) + 2:len(MAGIC) + 2 + SALT_BYTES], header[-fieldcrypto.NONCE_BYTES:]
    try:
        _aead(algorithm_byte, _file_key(fieldcrypto.keys()[0], salt, algorithm_byte), nonce, data[HEADER_BYTES:], header,
              encrypt=False)
    except fieldcrypto.DecryptionError:
        return True
    return False


def _aead(algorithm_byte: bytes, key: bytes, nonce: bytes, data: bytes, aad: bytes, *, encrypt: bool) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        if algorithm_byte == b"a":
            aead = AESGCM(key)
            return aead.encrypt(nonce, data, aad) if encrypt else aead.decrypt(nonce, data, aad)
        if encrypt:
            enc = Cipher(algorithms.SM4(key[:16]), modes.GCM(nonce)).encryptor()
            enc.authenticate_additional_data(aad)
            return enc.update(data) + enc.finalize() + enc.tag
        if len(data) < 16:
            raise InvalidTag
        dec = Cipher(algorithms.SM4(key[:16]), modes.GCM(nonce, data[-16:])).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(data[:-16]) + dec.finalize()
    except InvalidTag:
        raise fieldcrypto.DecryptionError("file does not authenticate") from None


class DecryptedFile(File):
    """The plain bytes of a stored file, in memory; reopening reads (and decrypts) it again."""

    def __init__(self, storage: EncryptedFileSystemStorage, name: str, plain: bytes) -> None:
        self._storage = storage
        super().__init__(io.BytesIO(plain), name=name)

    @property
    def size(self):  # type: ignore[override]
        return len(self.file.getbuffer())

    def open(self, mode=None):
        if not self.closed:
            self.seek(0)
        else:
            self.file = io.BytesIO(self._storage.read_plain(self.name))
        return self


class EncryptedFileSystemStorage(FileSystemStorage):
    """``FileSystemStorage`` that encrypts on save and decrypts on open (see the module)."""

    def _save(self, name, content):
        plain = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8") for chunk in content.chunks())
        return super()._save(name, ContentFile(encrypt(plain)))

    def read_raw(self, name) -> bytes:
        with super()._open(name, "rb") as fh:
            return fh.read()

    def read_plain(self, name) -> bytes:
        raw = self.read_raw(name)
        return decrypt(raw) if is_encrypted(raw) else raw  # a file from before: encrypt_files encrypts it

    def _open(self, name, mode="rb"):
        if any(c in mode for c in "wa+"):
            raise ValueError("encrypted files are written through save(), not opened for writing")
        return DecryptedFile(self, name, self.read_plain(name))

    def size(self, name):
        on_disk = super().size(name)
        with super()._open(name, "rb") as fh:
            head = fh.read(len(MAGIC))
        return on_disk - OVERHEAD if head == MAGIC and on_disk >= OVERHEAD else on_disk

    def rewrite(self, name) -> bool:
        """Encrypt a plain file, or re-encrypt one under an old key/algorithm, in place (atomic
        rename). Returns whether the file was rewritten."""
        raw = self.read_raw(name)
        if not needs_reencryption(raw):
            return False
        blob = encrypt(decrypt(raw) if is_encrypted(raw) else raw)
        path = self.path(name)
        tmp = f"{path}.enc-tmp"
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return True
