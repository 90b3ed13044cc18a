"""ID numbers encrypted at rest (organizations.fieldcrypto), step 1 of 3: hash columns added,
the number column widened for the ciphertext (0007 encrypts, 0008 makes the hash unique; three
migrations, so PostgreSQL never alters a table with pending row updates in one transaction)."""
from django.db import migrations

import organizations.fieldcrypto


class Migration(migrations.Migration):

    dependencies = [
        ('beneficiaries', '0005_importbatch_endings'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalperson',
            name='id_number_hash',
            field=organizations.fieldcrypto.BlindIndexField(db_index=True, source='id_number', verbose_name='身份证号密文索引'),
        ),
        migrations.AddField(
            model_name='historicalperson',
            name='id_number_tail_hash',
            field=organizations.fieldcrypto.BlindIndexField(db_index=True, source='id_number', tail=True, verbose_name='身份证号后四位索引'),
        ),
        migrations.AddField(
            model_name='person',
            name='id_number_hash',
            field=organizations.fieldcrypto.BlindIndexField(source='id_number', verbose_name='身份证号密文索引'),
        ),
        migrations.AddField(
            model_name='person',
            name='id_number_tail_hash',
            field=organizations.fieldcrypto.BlindIndexField(db_index=True, source='id_number', tail=True, verbose_name='身份证号后四位索引'),
        ),
        migrations.AlterField(
            model_name='historicalperson',
            name='id_number',
            field=organizations.fieldcrypto.EncryptedCharField(hash_field='id_number_hash', plain_max_length=18, tail_field='id_number_tail_hash', verbose_name='身份证号'),
        ),
        migrations.AlterField(
            model_name='person',
            name='id_number',
            field=organizations.fieldcrypto.EncryptedCharField(hash_field='id_number_hash', plain_max_length=18, tail_field='id_number_tail_hash', verbose_name='身份证号'),
        ),
    ]
