"""``manage.py launch``: migrate, install models, seed the demo team and serve with daphne."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from studio.demo import demo_seed


class Command(BaseCommand):
    help = "Prepare the embedded studio (database, models, demo team) and serve it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="Prepare only; do not serve.")

    def handle(self, *args, host: str, port: int, no_serve: bool, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("install_models")
        login = demo_seed()
        url = f"http://{host}:{port}/"
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  AI Product Studio is ready at {url}\n"
                f"  Demo team: {login.team.name}\n"
                f"  Log in as: {login.email}\n"
                f"  Password:  {login.password}\n"
            )
        )
        if no_serve:
            return
        from studio.server import main as serve

        self.stdout.write(f"  Serving with daphne (Ctrl+C stops it; data stays in {settings.BASE_DIR / 'var'}).\n")
        serve(["--bind", host, "--port", str(port), "studio.asgi:application"])
