from django.contrib import admin, messages

from .models import OutboxTask, WorkerHeartbeat


@admin.register(OutboxTask)
class OutboxTaskAdmin(admin.ModelAdmin):
    list_display = ("pk", "task_name", "args", "state", "attempts", "created_at", "sent_at", "finished_at")
    list_filter = ("state", "task_name")
    readonly_fields = [f.name for f in OutboxTask._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="重新发送（任务可重复执行）")
    def send_again(self, request, queryset):
        from .outbox import send_rows

        pks = list(queryset.exclude(state=OutboxTask.State.DONE).values_list("pk", flat=True))
        OutboxTask.objects.filter(pk__in=pks).update(state=OutboxTask.State.PENDING)
        sent = send_rows(pks)
        self.message_user(request, f"{sent} / {len(pks)}", messages.INFO)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("hostname", "pid", "last_seen")
    readonly_fields = ("hostname", "pid", "last_seen")
