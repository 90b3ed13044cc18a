"""ID numbers encrypted at rest, step 3 of 3: one person per number, through the keyed hash."""
from django.db import migrations

import organizations.fieldcrypto


class Migration(migrations.Migration):

    dependencies = [
        ('beneficiaries', '0007_encrypt_id_numbers'),
    ]

    operations = [
        migrations.AlterField(
            model_name='person',
            name='id_number_hash',
            field=organizations.fieldcrypto.BlindIndexField(source='id_number', unique=True, verbose_name='身份证号密文索引'),
        ),
    ]
