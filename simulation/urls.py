from django.urls import path

from . import views

app_name = "simulation"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("drafts/<int:pk>/", views.DraftView.as_view(), name="draft"),
    path("drafts/<int:pk>/edit/", views.DraftStructuredEditView.as_view(), name="draft_edit"),
    path("runs/<int:pk>/", views.RunView.as_view(), name="run"),
    path("runs/<int:pk>/progress/", views.RunProgressView.as_view(), name="progress"),
    path("runs/<int:pk>/pdf/", views.RunPdfView.as_view(), name="pdf"),
    path("runs/<int:pk>/xlsx/", views.RunXlsxView.as_view(), name="xlsx"),
    path("runs/<int:pk>/people/<int:person_id>/", views.PersonView.as_view(), name="person"),
    path("compare/", views.CompareView.as_view(), name="compare"),
]
