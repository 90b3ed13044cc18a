from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from operations.views import healthz
from organizations import twofactor_views
from organizations import views as org_views
from organizations.permissions import PUBLIC, requires
from reports import views as reports_views

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Every pattern states its permission (organizations/permissions.py); Django's own views
    # are wrapped here. The admin has its own (is_staff and model permissions).
    path("i18n/setlang/", requires(PUBLIC)(set_language), name="set_language"),
    path("verify/", include("reports.verify_urls")),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("accounts/login/", org_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", requires(PUBLIC)(auth_views.LogoutView.as_view()), name="logout"),
    path("accounts/password/", org_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/2fa/", twofactor_views.VerifyView.as_view(), name="otp_verify"),
    path("accounts/2fa/enrol/", twofactor_views.EnrolView.as_view(), name="otp_enrol"),
    path("", org_views.HomeView.as_view(), name="home"),
    path("search/", org_views.SearchView.as_view(), name="search"),
    path("search/go/", org_views.SearchGoView.as_view(), name="search_go"),
    path("beneficiaries/", include("beneficiaries.urls")),
    path("claims/", include("claims.urls")),
    path("applications/", include("applications.urls")),
    path("reports/", include("reports.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("policies/", include("policies.urls")),
    path("simulation/", include("simulation.urls")),
    path("audit/", include("audit.urls")),
]

# Uploaded and generated files (letters, receipts, print batches) are never served from
# MEDIA_ROOT by URL, not even with DEBUG=True: /media/ goes through a view that checks login
# and scope (reports.views.MediaFileView); the other files have their own scoped views.
urlpatterns.append(path(settings.MEDIA_URL.strip("/") + "/<path:path>", reports_views.MediaFileView.as_view(), name="media"))
