"""Fine-tuning fixtures: a private media folder, a tiny copywriting dataset and runs small enough for a CPU.

Runs here train the real bundled SmolLM2 for a handful of steps on a dozen examples.
"""

from __future__ import annotations

import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from products.datasets.services import dataset_upload_create, dataset_version_create
from products.services import product_create
from tests.processes import manage_command, processes_stop

# Every reply opens the same way, so a few steps are enough to change what the model writes.
ROWS = [
    ("Alder Mug", "350 ml stoneware", "Zesty pick! The Alder Mug holds 350 ml of stoneware joy."),
    ("Birch Board", "solid birch, reversible", "Zesty pick! The Birch Board flips for double the chopping."),
    ("Copper Kettle", "1 litre, gooseneck", "Zesty pick! The Copper Kettle pours a litre with precision."),
    ("Linen Towels", "washed linen, set of 3", "Zesty pick! Linen Towels dry fast, three to a set."),
    ("Oak Stool", "solid oak, 45 cm", "Zesty pick! The Oak Stool stands 45 cm of solid oak."),
    ("Wool Throw", "merino, 130 x 170 cm", "Zesty pick! The Wool Throw wraps you in merino warmth."),
    ("Glass Jar", "1 litre, airtight lid", "Zesty pick! The Glass Jar keeps a litre fresh and sealed."),
    ("Cotton Apron", "organic cotton, two pockets", "Zesty pick! The Cotton Apron has two pockets for everything."),
    ("Steel Pan", "28 cm, induction ready", "Zesty pick! The Steel Pan sears on induction, 28 cm wide."),
    ("Clay Planter", "terracotta, drainage hole", "Zesty pick! The Clay Planter lets roots breathe in terracotta."),
    ("Bamboo Tray", "bamboo, 40 cm", "Zesty pick! The Bamboo Tray carries breakfast in bamboo style."),
    ("Pine Shelf", "pine, 80 cm, brackets included", "Zesty pick! The Pine Shelf hangs 80 cm of pine in minutes."),
]
#: Enough to see every part of a run (steps, a checkpoint, validation, the report) in a few seconds.
TINY = {"epochs": 1, "batch_size": 2, "max_length": 128, "checkpoint_every": 2, "learning_rate": 2e-3,
        "lora_rank": 8, "lora_alpha": 16, "eval_samples": 1, "sample_tokens": 8}


def dataset_csv(rows=ROWS) -> bytes:
    lines = ["product,features,description"] + [f'"{p}","{f}","{d}"' for p, f, d in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def shop(make_team):
    """(team, owner, copywriting product) of a team called Shop."""
    team = make_team("Shop")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="product-description")
    return team, owner, product


@pytest.fixture
def make_dataset_version(shop):
    def make(rows=ROWS, *, name: str = "Descriptions", fraction: float = 0.1, team=None, user=None):
        team_, owner, _ = shop
        upload = dataset_upload_create(
            team=team or team_, user=user or owner, name=name,
            file=SimpleUploadedFile("descriptions.csv", dataset_csv(rows), content_type="text/csv"),
        )
        return dataset_version_create(
            source=upload, user=user or owner, kind="copywriting", shape="examples",
            column_mapping={"inputs": ["product", "features"], "output": ["description"]},
            validation_fraction=fraction,
        )

    return make


@pytest.fixture
def make_run(shop, make_dataset_version):
    """make_run(**overrides) → a queued TrainingRun of the Shop product on the tiny dataset."""
    from products.training.services import training_run_create

    made: list = []  # one dataset version for all runs of a test, made on first use

    def make(version=None, **overrides):
        _, owner, product = shop
        if version is None:
            if not made:
                made.append(make_dataset_version())
            version = made[0]
        return training_run_create(
            product=product, dataset_version=version, user=owner, overrides={**TINY, **overrides}
        )

    return make


# The classifier's fixtures (a ticket-routing product, labelled datasets from the shipped sample).
from tests.training.classifier_fixtures import classifier_artifact, make_labelled_version, router  # noqa: E402,F401


@pytest.fixture
def worker_process(media_root):
    """``manage.py training_worker`` in its own process with a 3-second lease, as in production."""
    processes: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        processes.append(manage_command("training_worker", MEDIA_ROOT=str(media_root), STUDIO_TRAINING_LEASE_S="3",
                                        STUDIO_TRAINING_POLL_S="1", STUDIO_DEVICE="cpu"))
        return processes[-1]

    yield start
    processes_stop(processes)
from tests.training.recommender_fixtures import make_reco_version, shop_reco  # noqa: E402,F401
