"""Create the role groups. Their permissions are synced after each migrate (roles.sync_role_permissions)."""
from django.db import migrations

ROLES = ["medsec_caseworker", "medsec_reviewer", "agency_certifier", "auditor", "administrator"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("organizations", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
