"""Roles are Django groups (created by migration 0002); these are their stable names."""
from django.utils.translation import gettext_lazy as _

CASEWORKER = "medsec_caseworker"
REVIEWER = "medsec_reviewer"
CERTIFIER = "agency_certifier"
AUDITOR = "auditor"
ADMINISTRATOR = "administrator"

LABELS = {
    CASEWORKER: _("医保经办"),
    REVIEWER: _("医保审核"),
    CERTIFIER: _("认定人员"),
    AUDITOR: _("审计（只读）"),
    ADMINISTRATOR: _("系统管理员"),
}


def has_role(user, *roles: str) -> bool:
    """True if the user is in any of the given role groups (superusers hold every role)."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    names = getattr(user, "_role_names", None)
    if names is None:
        names = set(user.groups.values_list("name", flat=True))
        user._role_names = names
    return bool(names.intersection(roles))


# Model permissions per role, as (app_label, actions). Synced after every migrate (apps.ready
# connects post_migrate), so models added later get their permissions without a new migration.
ROLE_PERMISSIONS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    CASEWORKER: [
        ("beneficiaries", ("view", "add", "change")),
        ("claims", ("view", "add", "change")),
        ("applications", ("view", "add", "change")),
        ("reports", ("view", "add")),
        ("monitoring", ("view", "change")),
        ("policies", ("view",)),
    ],
    REVIEWER: [
        ("beneficiaries", ("view",)),
        ("claims", ("view", "change")),
        ("applications", ("view", "change")),
        ("reports", ("view", "add")),
        ("monitoring", ("view",)),
        ("policies", ("view",)),
    ],
    CERTIFIER: [
        ("beneficiaries", ("view", "add", "change")),
        ("applications", ("view", "change")),
        ("monitoring", ("view", "change")),
    ],
    AUDITOR: [
        (app, ("view",)) for app in ("organizations", "beneficiaries", "claims", "applications", "reports", "monitoring", "policies")
    ],
    ADMINISTRATOR: [
        (app, ("view", "add", "change", "delete"))
        for app in ("organizations", "policies", "auth")
    ] + [(app, ("view",)) for app in ("beneficiaries", "claims", "applications", "reports", "monitoring")],
}


def sync_role_permissions(**kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    for role, grants in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = set()
        for app_label, actions in grants:
            for perm in Permission.objects.filter(content_type__app_label=app_label):
                if perm.codename.split("_", 1)[0] in actions:
                    wanted.add(perm.pk)
        # Keep extra permissions an administrator granted by hand; add what the role needs.
        group.permissions.add(*wanted)


def labels_for(user) -> list[str]:
    """The user's role names for display (superusers: administrator)."""
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return [str(LABELS[ADMINISTRATOR])]
    has_role(user, CASEWORKER)  # fills the cache
    return [str(label) for role, label in LABELS.items() if role in user._role_names]
