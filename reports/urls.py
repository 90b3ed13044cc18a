from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("letters/<int:pk>/", views.LetterDetailView.as_view(), name="letter"),
    path("letters/<int:pk>/pdf", views.LetterPdfView.as_view(), name="letter_pdf"),
    path("letters/<int:pk>/correct", views.LetterCorrectView.as_view(), name="letter_correct"),
    path("letters/<int:pk>/delivery", views.LetterDeliveryView.as_view(), name="letter_delivery"),
    path("letters/<int:pk>/receipt", views.LetterReceiptView.as_view(), name="letter_receipt"),
    path("print/", views.PrintJobsView.as_view(), name="print_jobs"),
    path("print/<int:pk>/pdf", views.PrintJobPdfView.as_view(), name="print_job_pdf"),
    path("r/<slug:slug>/", views.ReportView.as_view(), name="report"),
]
