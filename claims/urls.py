from django.urls import path

from . import views

app_name = "claims"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("new/", views.ClaimCreateView.as_view(), name="create"),
    path("<int:pk>/", views.ClaimDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.ClaimEditView.as_view(), name="edit"),
    path("<int:pk>/bills/<int:bill_pk>/edit/", views.ClaimBillEditView.as_view(), name="bill_edit"),
    path("<int:pk>/attachments/", views.AttachmentUploadView.as_view(), name="attach"),
    path("<int:pk>/attachments/<int:attachment_pk>/", views.AttachmentDownloadView.as_view(), name="attachment"),
    path("<int:pk>/<slug:action>/", views.ClaimActionView.as_view(), name="action"),
    path("bills/", views.BillListView.as_view(), name="bills"),
    path("bills/<int:pk>/", views.BillDetailView.as_view(), name="bill"),
    path("ledger/<int:person_pk>/", views.LedgerView.as_view(), name="ledger"),
    path("batches/", views.BatchListView.as_view(), name="batches"),
    path("batches/<int:pk>/", views.BatchDetailView.as_view(), name="batch"),
    path("batches/<int:pk>/file.<slug:kind>", views.BatchFileView.as_view(), name="batch_file"),
    path("differences/", views.DifferenceListView.as_view(), name="differences"),
    path("reconciliation/", views.ReconciliationView.as_view(), name="reconciliation"),
    path("differences/<int:pk>/resolve/", views.DifferenceResolveView.as_view(), name="resolve"),
    path("imports/", views.ImportListView.as_view(), name="imports"),
    path("imports/<int:pk>/", views.ImportDetailView.as_view(), name="import"),
    path("imports/template.<slug:kind>", views.ImportTemplateView.as_view(), name="import_template"),
]
