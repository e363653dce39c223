"""``manage.py purge_logs``: delete logs older than each team's "keep logs N days" (team settings)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from products.logs.retention import logs_purge


class Command(BaseCommand):
    help = "Delete generations and feedback older than each team's log retention (teams without one keep all)."

    def handle(self, *args, **options) -> None:
        result = logs_purge()
        self.stdout.write(f"Purged {result.generations} generations and {result.feedback_events} feedback events "
                          f"of {result.teams} teams with a retention setting.")
