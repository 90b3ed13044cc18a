"""Tells the user, at once, that work was recorded although the task service is down."""
from __future__ import annotations

from django.contrib import messages
from django.utils.translation import gettext as _

from . import outbox


class OutboxNoticeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        outbox.take_unsent()  # nothing left over from another request on this thread
        response = self.get_response(request)
        if outbox.take_unsent() and hasattr(request, "_messages"):
            messages.warning(request, _("已记录。任务服务暂时不可用：决定书、导入或打印将在任务服务恢复后自动完成，无需重新提交。"))
        return response
