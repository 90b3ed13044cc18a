"""Payee account numbers encrypted at rest, with a keyed hash for exact lookup
(organizations.fieldcrypto); 0012 encrypts the rows."""
from django.db import migrations

import organizations.fieldcrypto


class Migration(migrations.Migration):

    dependencies = [
        ('claims', '0010_money_decisions'),
    ]

    operations = [
        migrations.AddField(
            model_name='payeeaccount',
            name='account_number_hash',
            field=organizations.fieldcrypto.BlindIndexField(db_index=True, source='account_number', verbose_name='账号密文索引'),
        ),
        migrations.AlterField(
            model_name='payeeaccount',
            name='account_number',
            field=organizations.fieldcrypto.EncryptedCharField(hash_field='account_number_hash', plain_max_length=40, verbose_name='账号/卡号'),
        ),
    ]
