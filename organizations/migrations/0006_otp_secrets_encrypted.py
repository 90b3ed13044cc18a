"""Move every django-otp device into the encrypted device tables (issue 15) and delete the clear
rows: ``otp_totp_totpdevice.key`` and ``otp_static_statictoken.token`` hold no secret afterwards.
Reversible: the reverse writes the devices back to django-otp's tables in clear."""

from django.db import migrations

TOTP_FIELDS = ("user_id", "name", "confirmed", "key", "step", "t0", "digits", "tolerance", "drift", "last_t",
               "throttling_failure_timestamp", "throttling_failure_count", "last_used_at")
STATIC_FIELDS = ("user_id", "name", "confirmed", "throttling_failure_timestamp", "throttling_failure_count",
                 "last_used_at")


def _copy(source, target, fields):
    new = target.objects.create(**{f: getattr(source, f) for f in fields})
    target.objects.filter(pk=new.pk).update(created_at=source.created_at)  # auto_now_add set it to now
    return new


def forwards(apps, schema_editor):
    OldTOTP = apps.get_model("otp_totp", "TOTPDevice")
    OldStatic = apps.get_model("otp_static", "StaticDevice")
    OldToken = apps.get_model("otp_static", "StaticToken")
    NewTOTP = apps.get_model("organizations", "SecureTOTPDevice")
    NewStatic = apps.get_model("organizations", "RecoveryCodeDevice")
    NewCode = apps.get_model("organizations", "RecoveryCode")
    for old in OldTOTP.objects.order_by("pk"):
        _copy(old, NewTOTP, TOTP_FIELDS)  # EncryptedCharField encrypts the key on insert
    for old in OldStatic.objects.order_by("pk"):
        new = _copy(old, NewStatic, STATIC_FIELDS)
        for token in OldToken.objects.filter(device_id=old.pk).order_by("pk"):
            code = NewCode(device=new, token=token.token)
            code.token_hash = ""  # filled by BlindIndexField.pre_save
            code.save()
    OldToken.objects.all().delete()
    OldStatic.objects.all().delete()
    OldTOTP.objects.all().delete()


def backwards(apps, schema_editor):
    OldTOTP = apps.get_model("otp_totp", "TOTPDevice")
    OldStatic = apps.get_model("otp_static", "StaticDevice")
    OldToken = apps.get_model("otp_static", "StaticToken")
    NewTOTP = apps.get_model("organizations", "SecureTOTPDevice")
    NewStatic = apps.get_model("organizations", "RecoveryCodeDevice")
    NewCode = apps.get_model("organizations", "RecoveryCode")
    for new in NewTOTP.objects.order_by("pk"):
        _copy(new, OldTOTP, TOTP_FIELDS)
    for new in NewStatic.objects.order_by("pk"):
        old = _copy(new, OldStatic, STATIC_FIELDS)
        OldToken.objects.bulk_create([OldToken(device=old, token=c.token) for c in NewCode.objects.filter(device_id=new.pk)])
    NewCode.objects.all().delete()
    NewStatic.objects.all().delete()
    NewTOTP.objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("organizations", "0005_otp_encrypted_devices"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
