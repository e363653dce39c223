"""The demo team the one-command launcher creates, so a newcomer has something to sign into."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from studio.models import Membership, Team
from studio.roles import Role

DEMO_EMAIL = "demo@studio.local"
DEMO_TEAM = "Demo Team"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    team: Team


def _credentials_file() -> Path:
    return Path(settings.MEDIA_ROOT).parent / "demo-password.txt"


@transaction.atomic
def demo_seed() -> DemoLogin:
    """Create (once) the demo owner and team; later runs reuse them and keep all data."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=DEMO_EMAIL).first()
    stored = _credentials_file()
    password = stored.read_text().strip() if stored.exists() else ""
    if user is None or not password or not user.check_password(password):
        password = secrets.token_urlsafe(12)
        user = user or user_model(username=DEMO_EMAIL, email=DEMO_EMAIL, first_name="Demo")
        user.set_password(password)
        user.save()
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_text(password)
        stored.chmod(0o600)
    team = Team.objects.filter(slug="demo-team").first()
    if team is None:
        team = Team.objects.create(name=DEMO_TEAM, slug="demo-team")
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.OWNER})
    _seed_team_content(team, user)
    return DemoLogin(email=DEMO_EMAIL, password=password, team=team)


def _seed_team_content(team: Team, user) -> None:
    """Sample datasets, then sample products (the Q&A samples answer from the sample datasets)."""
    from products.datasets.seed import dataset_seed_samples
    from products.demo import product_demo_seed

    dataset_seed_samples(team=team, user=user)
    product_demo_seed(team=team, user=user)
