from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView


class IndexView(LoginRequiredMixin, TemplateView):
    """Placeholder until this app's screens land."""

    template_name = "placeholder.html"
