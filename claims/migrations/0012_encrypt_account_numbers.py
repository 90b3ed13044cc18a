"""Payee account numbers encrypted at rest: every row encrypted and hashed (reversible)."""
from django.db import migrations

from organizations.fieldcrypto import decrypt_column, encrypt_column


def encrypt(apps, schema_editor):
    encrypt_column(apps.get_model("claims", "PayeeAccount"), "account_number")


def decrypt(apps, schema_editor):
    decrypt_column(apps.get_model("claims", "PayeeAccount"), "account_number")


class Migration(migrations.Migration):

    dependencies = [
        ('claims', '0011_encrypted_numbers'),
    ]

    operations = [
        migrations.RunPython(encrypt, decrypt),
    ]
