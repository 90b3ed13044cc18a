"""Who may do what, in one place (issue 15: "one way to say who may do what").

Every permission has a name (``"claims.approve"``) and the roles that hold it. Views state theirs
with :class:`PermissionRequiredMixin` (``permission = "..."``, optionally ``post_permission``) or,
for function views, :func:`requires`; both leave the name on the view so
``tests/organizations/test_permissions.py`` can check that every URL pattern declares one and that
each role gets exactly the matrix written in docs/security.md. Services that write call
:func:`require`, which checks the role **and** the scope (``access.ensure_in_scope``), so a caller
that is not a view (an admin action, a task, the API) cannot bypass the rule.

Rules:

- a superuser holds every permission **except** the decisions on cases (``decides``): approving,
  rejecting or returning claims, deciding applications, correcting letters, dismissing warnings,
  certifying. Administrators administer and do not decide cases (separation of duties); the
  administrator role is refused these even when the same user holds a case role as well;
- ``agency_kinds`` narrows a permission to staff of those agency kinds (warnings belong to civil
  affairs, POLICY.md §6);
- ``PUBLIC`` pages answer anonymous requests; ``SIGNED_IN`` ones any signed-in user;
- the machine API (``api/``) authenticates bearer tokens of registered clients, not roles: each
  operation states its permission with :func:`api_requires` (``API_PERMISSIONS``: which client kinds
  hold it); the client's service account is then scoped by ``access`` like staff.
"""
from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from . import access, roles
from .roles import ADMINISTRATOR, AUDITOR, CASEWORKER, CERTIFIER, REVIEWER

PUBLIC = "public"
SIGNED_IN = "signed_in"


@dataclass(frozen=True)
class Permission:
    roles: frozenset[str]
    decides: bool = False
    agency_kinds: frozenset[str] | None = None
    needs_agency: bool = False
    label: str = ""


def _p(*held: str, decides: bool = False, agency_kinds: tuple[str, ...] | None = None, needs_agency: bool = False,
       label: str = "") -> Permission:
    return Permission(frozenset(held), decides, frozenset(agency_kinds) if agency_kinds else None,
                      needs_agency or bool(agency_kinds), label)


ALL_ROLES = (CASEWORKER, REVIEWER, CERTIFIER, AUDITOR, ADMINISTRATOR)
MEDSEC_READ = (CASEWORKER, REVIEWER, AUDITOR, ADMINISTRATOR)

PERMISSIONS: dict[str, Permission] = {
    # persons, households, certifications (beneficiaries)
    "persons.view": _p(*ALL_ROLES, label="人员、认定记录查看"),
    "persons.edit": _p(CASEWORKER, CERTIFIER, label="人员登记与修改"),
    "persons.reveal": _p(CASEWORKER, REVIEWER, CERTIFIER, label="显示完整身份证号"),
    "persons.export_subsidy": _p(CASEWORKER, REVIEWER, AUDITOR, ADMINISTRATOR, label="参保资助名单导出"),
    "households.edit": _p(CASEWORKER, CERTIFIER, label="家庭及成员修改"),
    "certifications.certify": _p(CASEWORKER, CERTIFIER, label="身份认定与撤销"),
    "imports.roster": _p(CERTIFIER, needs_agency=True, label="认定名单导入与确认"),
    # claims
    "claims.view": _p(*MEDSEC_READ, label="结算单、报销申请查看"),
    "claims.edit": _p(CASEWORKER, label="报销申请登记与修改"),
    "claims.submit": _p(CASEWORKER, label="报销申请提交与撤回"),
    "claims.attach": _p(CASEWORKER, REVIEWER, label="报销申请附件上传"),
    "claims.approve": _p(REVIEWER, decides=True, label="报销申请审批（批准、不予救助、退回）"),
    "claims.propose_correction": _p(CASEWORKER, REVIEWER, label="提出更正"),
    "claims.correct": _p(REVIEWER, decides=True, label="更正决定复核"),
    "claims.pay": _p(CASEWORKER, REVIEWER, label="支付批次与支付文件"),
    "claims.resolve": _p(REVIEWER, decides=True, label="对账差异处理"),
    "claims.import": _p(CASEWORKER, label="结算数据导入"),
    # applications (依申请救助)
    "applications.view": _p(CASEWORKER, REVIEWER, CERTIFIER, AUDITOR, ADMINISTRATOR, label="依申请救助查看"),
    "applications.edit": _p(CASEWORKER, label="依申请救助受理、补充票据、测算"),
    "applications.assess": _p(CERTIFIER, decides=True, agency_kinds=("civil_affairs",), label="家庭经济状况核对"),
    "applications.document": _p(CASEWORKER, CERTIFIER, label="申请材料上传"),
    "applications.decide": _p(REVIEWER, decides=True, label="依申请救助审批与退回"),
    # letters and reports
    "letters.view": _p(*MEDSEC_READ, label="决定书、报表查看"),
    "letters.issue": _p(CASEWORKER, REVIEWER, label="出具决定书"),
    "letters.correct": _p(REVIEWER, decides=True, label="决定书更正"),
    "letters.deliver": _p(CASEWORKER, REVIEWER, label="送达登记"),
    "letters.print": _p(CASEWORKER, REVIEWER, label="批量打印"),
    # monitoring
    "warnings.view": _p(*ALL_ROLES, label="预警查看"),
    "warnings.refer": _p(CASEWORKER, CERTIFIER, label="预警转为依申请救助"),
    "warnings.dismiss": _p(CASEWORKER, CERTIFIER, decides=True, agency_kinds=("civil_affairs",), label="预警处理（排除、转申请）"),
    "runs.view": _p(*ALL_ROLES, label="重算记录查看"),
    "runs.start": _p(ADMINISTRATOR, label="发起重算"),
    # policies, simulation, audit
    "policies.view": _p(*ALL_ROLES, label="政策查看"),
    "policies.edit": _p(ADMINISTRATOR, label="政策修改（结构化编辑）"),
    "simulation.view": _p(*ALL_ROLES, label="政策测算查看"),
    "simulation.run": _p(ADMINISTRATOR, label="政策测算草案与运行"),
    "audit.log": _p(AUDITOR, label="访问日志"),
}


def has_perm(user, name: str) -> bool:
    """True if ``user`` holds the named permission (role, agency kind, separation of duties)."""
    if name == PUBLIC:
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    if name == SIGNED_IN:
        return True
    scope = access.scope_for(user)
    if user.is_superuser:
        held: frozenset[str] = frozenset(ALL_ROLES)
    else:
        roles.has_role(user, CASEWORKER)  # fills the cache of the user's group names
        held = frozenset(getattr(user, "_role_names", ()))
    return holds(name, roles=held, superuser=user.is_superuser, agency_kind=scope.agency_kind,
                 has_agency=scope.agency_id is not None)


def holds(name: str, *, roles: frozenset[str] | set[str], superuser: bool = False, agency_kind: str | None = None,
          has_agency: bool = True, authenticated: bool = True) -> bool:
    """The rule itself, on plain values (also used to write the matrix in docs/security.md)."""
    if name == PUBLIC:
        return True
    if not authenticated:
        return False
    if name == SIGNED_IN:
        return True
    perm = PERMISSIONS[name]
    if perm.needs_agency and not has_agency:
        return False  # acts in the name of an agency: staff of one only
    if superuser:
        return not perm.decides
    if perm.decides and ADMINISTRATOR in roles:
        return False  # separation of duties
    if not perm.roles & set(roles):
        return False
    return perm.agency_kinds is None or agency_kind in perm.agency_kinds


class OutOfScope(Http404, PermissionDenied):
    """Outside the user's district or region: a PermissionDenied for callers of a service, and a
    404 (not 403) in a view, so another district's object's existence does not leak."""


def _region_of(district_id: int | None) -> int | None:
    if district_id is None:
        return None
    from .models import District

    return District.objects.filter(pk=district_id).values_list("region_id", flat=True).first()


def require(user, name: str, *, district_id: int | None = None, region_id: int | None = None,
            scoped: bool = True) -> None:
    """For services that write: refuse ``user`` without the permission (PermissionDenied) or
    outside the scope of the district/region written to (:class:`OutOfScope`).

    ``region_id`` defaults to the district's region. ``scoped=False`` only for writes that have
    no district (a city-wide run).
    """
    if user is None or not has_perm(user, name):
        raise PermissionDenied(_("您没有执行此操作的权限。"))
    if not scoped:
        return
    if region_id is None:
        region_id = _region_of(district_id)
    try:
        access.ensure_in_scope(user, district_id=district_id, region_id=region_id)
    except Http404:
        raise OutOfScope from None


def permission_of(view) -> str | dict | None:
    """The permission a URL callback declares (function view, or class-based view's class)."""
    declared = getattr(view, "permission", None)
    if declared is None:
        view_class = getattr(view, "view_class", None)
        declared = getattr(view_class, "permission", None)
    return declared


def declared(view) -> tuple[str, str] | None:
    """(GET permission, POST permission) a URL callback declares, or None if it declares none.
    A view whose POST permission depends on a URL argument (``action_permissions``) shows them all."""
    name = permission_of(view)
    if not name:
        return None
    view_class = getattr(view, "view_class", None)
    post = getattr(view_class, "post_permission", None) or name
    actions = getattr(view_class, "action_permissions", None)
    if actions:
        post = ", ".join(f"{action}: {perm}" for action, perm in actions.items())
    return name, post


def requires(name: str) -> Callable:
    """Decorator for function views: ``@requires("letters.view")``."""
    if name not in PERMISSIONS and name not in (PUBLIC, SIGNED_IN):
        raise KeyError(name)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if name != PUBLIC:
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                if not has_perm(request.user, name):
                    raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.permission = name  # type: ignore[attr-defined]
        return wrapped

    return decorator


class PermissionRequiredMixin(AccessMixin):
    """Class-based views: ``permission = "claims.view"`` (every method) and optionally
    ``post_permission = "claims.edit"`` for POST. Anonymous users go to the login page (except
    ``PUBLIC``), signed-in users without the permission get 403 before anything is looked up."""

    permission: str = ""
    post_permission: str | None = None

    def permission_for(self, request, *args, **kwargs) -> str:
        if request.method == "POST" and self.post_permission:
            return self.post_permission
        return self.permission

    def dispatch(self, request, *args, **kwargs):
        name = self.permission_for(request, *args, **kwargs)
        if not name:
            raise PermissionDenied  # a view that forgot to declare one serves nobody
        if name != PUBLIC:
            if not request.user.is_authenticated:
                return self.handle_no_permission()
            if not has_perm(request.user, name):
                raise PermissionDenied
        self.prepare(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def prepare(self, request, *args, **kwargs) -> None:
        """Load what every method needs (objects in scope), after the permission check."""


# --------------------------------------------------------------------------------------------
# The machine API: bearer tokens of registered clients (api.models.ApiClient), one kind each
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiPermission:
    client_kinds: frozenset[str]
    label: str = ""


API_PERMISSIONS: dict[str, ApiPermission] = {
    "api.settle": ApiPermission(frozenset({"institution"}), "一站式结算：资格查询、结算上传、查询与冲正（定点医药机构）"),
    "api.certify": ApiPermission(frozenset({"agency"}), "认定推送、查询与终止（认定机构）"),
}


class ApiForbidden(PermissionDenied):
    """A valid token of a client kind that does not hold the operation's permission (403)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.permission = name


def api_holds(client, name: str) -> bool:
    """True if the API ``client`` (an active ApiClient, or None) holds the named API permission."""
    if name == PUBLIC:
        return True
    return client is not None and getattr(client, "revoked_at", None) is None and \
        client.kind in API_PERMISSIONS[name].client_kinds


def api_requires(name: str) -> Callable:
    """Decorator for API operations, under ``@api.get``/``@api.post``: ``@api_requires("api.settle")``.
    Refuses a client whose kind does not hold it (:class:`ApiForbidden`, 403) before the operation
    runs, and leaves the name on the operation for the permission-matrix test. The wrapper keeps
    the operation's (resolved) signature, which django-ninja reads to parse the request."""
    if name not in API_PERMISSIONS and name != PUBLIC:
        raise KeyError(name)

    def decorator(view):
        hints = typing.get_type_hints(view, include_extras=True)
        signature = inspect.signature(view)
        signature = signature.replace(parameters=[p.replace(annotation=hints.get(p.name, p.annotation))
                                                  for p in signature.parameters.values()])

        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not api_holds(getattr(request, "auth", None), name):
                raise ApiForbidden(name)
            return view(request, *args, **kwargs)

        wrapped.__signature__ = signature  # type: ignore[attr-defined]
        wrapped.permission = name  # type: ignore[attr-defined]
        return wrapped

    return decorator


def api_matrix_markdown(operations: list[tuple[str, str, str]]) -> str:
    """The API table for docs/security.md: (pattern, method, permission) with the client kinds holding it."""
    lines = ["| API operation | method | permission | client kinds |", "|---|---|---|---|"]
    for pattern, method, name in operations:
        kinds = "any (no token)" if name == PUBLIC else ", ".join(sorted(API_PERMISSIONS[name].client_kinds))
        label = "" if name == PUBLIC else f" {API_PERMISSIONS[name].label}"
        lines.append(f"| `/{pattern}` | {method} | `{name}`{label} | {kinds} |")
    return "\n".join(lines) + "\n"


# The demo users (README) the matrix is written for: (column, roles, superuser, agency kind, authenticated).
# The superuser's scope is "everything", without an agency, whatever its staff profile says.
PERSONAS = [
    ("jingban 经办", {CASEWORKER}, False, "medical_security", True),
    ("shenhe 审核", {REVIEWER}, False, "medical_security", True),
    ("minzheng 认定(民政)", {CERTIFIER}, False, "civil_affairs", True),
    ("tuijun 认定(退役军人)", {CERTIFIER}, False, "veterans_affairs", True),
    ("shenji 审计", {AUDITOR}, False, "medical_security", True),
    ("admin 管理员", {ADMINISTRATOR}, True, None, True),
    ("anonymous", set(), False, None, False),
]


def persona_holds(persona, name: str) -> bool:
    _label, held, superuser, kind, authenticated = persona
    return holds(name, roles=frozenset(held), superuser=superuser, agency_kind=kind, has_agency=kind is not None,
                 authenticated=authenticated)


def matrix_markdown(routes: list[tuple[str, str, str]]) -> str:
    """Two tables for docs/security.md: each permission with the personas that hold it, and each
    URL pattern with its GET / POST permission. ``routes``: (pattern, GET permission, POST permission)."""
    head = "| permission | " + " | ".join(p[0] for p in PERSONAS) + " |"
    lines = [head, "|" + "---|" * (len(PERSONAS) + 1)]
    for name in [PUBLIC, SIGNED_IN, *PERMISSIONS]:
        cells = ["✓" if persona_holds(p, name) else "·" for p in PERSONAS]
        label = PERMISSIONS[name].label if name in PERMISSIONS else ""
        lines.append(f"| `{name}` {label} | " + " | ".join(cells) + " |")
    lines += ["", "| URL pattern | GET | POST |", "|---|---|---|"]
    for pattern, get, post in routes:
        lines.append(f"| `/{pattern}` | `{get}` | `{post}` |")
    return "\n".join(lines) + "\n"
