from django.urls import path

from . import views

app_name = "beneficiaries"
urlpatterns = [
    path("", views.PersonListView.as_view(), name="index"),
    path("persons/new/", views.PersonRegisterView.as_view(), name="person_register"),
    path("persons/<int:pk>/", views.PersonDetailView.as_view(), name="person_detail"),
    path("persons/<int:pk>/edit/", views.PersonEditView.as_view(), name="person_edit"),
    path("persons/<int:pk>/reveal/", views.PersonRevealView.as_view(), name="person_reveal"),
    path("persons/<int:pk>/certify/", views.CertifyView.as_view(), name="certify"),
    path("persons/<int:pk>/household/", views.HouseholdCreateView.as_view(), name="household_create"),
    path("persons/<int:pk>/household/members/", views.HouseholdMemberAddView.as_view(), name="household_member_add"),
    path("persons/<int:pk>/household/members/<int:member_pk>/remove/", views.HouseholdMemberRemoveView.as_view(),
         name="household_member_remove"),
    path("certifications/", views.CertificationListView.as_view(), name="certification_list"),
    path("certifications/<int:pk>/revoke/", views.RevokeView.as_view(), name="revoke"),
    path("imports/", views.ImportListView.as_view(), name="import_list"),
    path("imports/template.csv", views.RosterTemplateView.as_view(), name="import_template"),
    path("imports/<int:pk>/", views.ImportDetailView.as_view(), name="import_detail"),
    path("imports/<int:pk>/confirm/", views.ImportConfirmView.as_view(), name="import_confirm"),
    path("imports/<int:pk>/cancel/", views.ImportCancelView.as_view(), name="import_cancel"),
    path("imports/<int:pk>/progress/", views.ImportProgressView.as_view(), name="import_progress"),
    path("imports/<int:pk>/errors.csv", views.ImportErrorsView.as_view(), name="import_errors"),
    path("premium-subsidy/", views.SubsidyRosterView.as_view(), name="subsidy_roster"),
]
