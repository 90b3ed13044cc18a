from django.urls import path

from . import views

app_name = "applications"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("new/", views.ApplicationCreateView.as_view(), name="create"),
    path("from-warning/<int:pk>/", views.CreateFromWarningView.as_view(), name="create_from_warning"),
    path("<int:pk>/", views.ApplicationDetailView.as_view(), name="detail"),
    path("<int:pk>/household/", views.HouseholdView.as_view(), name="household"),
    path("<int:pk>/send/", views.SendView.as_view(), name="send"),
    path("<int:pk>/assess/", views.AssessView.as_view(), name="assess"),
    path("<int:pk>/gather/", views.GatherView.as_view(), name="gather"),
    path("<int:pk>/extra-bill/", views.ExtraBillView.as_view(), name="extra_bill"),
    path("<int:pk>/compute/", views.ComputeView.as_view(), name="compute"),
    path("<int:pk>/decide/", views.DecideView.as_view(), name="decide"),
    path("<int:pk>/return/", views.ReturnView.as_view(), name="return"),
    path("<int:pk>/documents/", views.DocumentUploadView.as_view(), name="document_upload"),
    path("<int:pk>/documents/<int:doc>/", views.DocumentDownloadView.as_view(), name="document"),
    path("<int:pk>/receipts/<int:extra>/", views.ReceiptDownloadView.as_view(), name="receipt"),
]
