"""ID numbers encrypted at rest, step 2 of 3: every person and every history row encrypted and
hashed (reversible: the reverse writes the plain numbers back)."""
from django.db import migrations

from organizations.fieldcrypto import decrypt_column, encrypt_column


def encrypt(apps, schema_editor):
    for name in ("Person", "HistoricalPerson"):
        encrypt_column(apps.get_model("beneficiaries", name), "id_number")


def decrypt(apps, schema_editor):
    for name in ("Person", "HistoricalPerson"):
        decrypt_column(apps.get_model("beneficiaries", name), "id_number")


class Migration(migrations.Migration):

    dependencies = [
        ('beneficiaries', '0006_encrypted_numbers'),
    ]

    operations = [
        migrations.RunPython(encrypt, decrypt),
    ]
