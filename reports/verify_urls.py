"""Public, unauthenticated: /verify/<code> confirms a letter's number, date, amount and office."""
from django.urls import path

from . import views

urlpatterns = [
    path("<str:code>", views.verify, name="verify"),
]
