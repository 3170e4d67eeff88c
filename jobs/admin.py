"""The task results admin of django-tasks-db, with "Run again" for failed jobs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from jobs.retries import Job
from jobs.services import JobNotRerunnable, rerun_job

admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class JobAdmin(DBTaskResultAdmin):
    actions = ["run_again"]
    search_fields = ["id", "task_path"]

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        # Running a job again repeats its effect (an email, a delivery): staff who may view
        # the queue and are trusted with changes, not every staff member who can log in.
        user = request.user
        return bool(user.is_superuser or user.has_perm("django_tasks_database.change_dbtaskresult"))

    @admin.action(description="Run again (failed jobs only)", permissions=["rerun"])
    def run_again(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        copies = 0
        for job in queryset.order_by("enqueued_at"):
            try:
                rerun_job(job_id=str(job.pk))
            except JobNotRerunnable as refusal:
                self.message_user(request, str(refusal), messages.WARNING)
            else:
                copies += 1
        if copies:
            self.message_user(request, f"{copies} job(s) enqueued to run again.", messages.SUCCESS)
