from django.urls import path

from . import views

app_name = "monitoring"
urlpatterns = [
    path("", views.WarningListView.as_view(), name="index"),
    path("warnings/", views.WarningListView.as_view(), name="warning_list"),
    path("warnings/<int:pk>/", views.WarningDetailView.as_view(), name="warning_detail"),
    path("warnings/<int:pk>/dismiss/", views.WarningDismissView.as_view(), name="warning_dismiss"),
    path("runs/", views.RunListView.as_view(), name="run_list"),
    path("runs/start/", views.RunStartView.as_view(), name="run_start"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="run_detail"),
    path("runs/<int:pk>/progress.json", views.RunProgressView.as_view(), name="run_progress"),
]
