from . import roles
from .access import scope_for


def staff(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "scope": scope_for(user),
        "is_caseworker": roles.has_role(user, roles.CASEWORKER),
        "is_reviewer": roles.has_role(user, roles.REVIEWER),
        "is_certifier": roles.has_role(user, roles.CERTIFIER),
        "is_auditor": roles.has_role(user, roles.AUDITOR),
        "is_medsec": roles.has_role(user, roles.CASEWORKER, roles.REVIEWER, roles.AUDITOR),
    }
