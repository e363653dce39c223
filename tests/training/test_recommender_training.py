"""The recommender training method: what it refuses before training (with lines), the hold-out, a SIGKILLed run.

The full journey (train on real implicit + MiniLM → report → version → top k with reasons on every
transport) is tests/products/test_recommendation_kind.py.
"""

from __future__ import annotations

import functools
import os
import signal

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from inference.models import ModelArtifact, TrainingRun
from inference.training.checkpoints import latest_checkpoint
from inference.training.pipeline import checkpoint_root
from inference.training.recommender import NotRecommendable
from inference.training.recommender.evaluation import holdout_split
from inference.training.recommender.pipeline import run_inputs
from inference.training.worker import TrainingWorker
from products.datasets.services import DatasetFileRejected, dataset_upload_create, dataset_version_create
from products.training.services import training_run_create
from tests.processes import wait_for
from tests.training.recommender_fixtures import rows_csv, sample_rows

pytestmark = pytest.mark.django_db(transaction=True)


def _refusal(shop_reco, catalog, interactions) -> list[str]:
    _, owner, product = shop_reco
    with pytest.raises(ValidationError) as refused:
        training_run_create(product=product, dataset_version=interactions, catalog_version=catalog, user=owner)
    assert not TrainingRun.objects.exists()  # nothing queued, nothing half made
    return refused.value.message_dict["dataset_version"]


def test_a_catalog_with_duplicate_ids_is_refused_naming_the_id_and_its_lines(shop_reco, make_reco_version):
    header, rows = sample_rows("shop_catalog.csv")
    rows[5][0] = rows[2][0]  # line 7 repeats the id of line 4 (the header is line 1)
    catalog = make_reco_version("catalog", rows_csv(header, rows))
    message = _refusal(shop_reco, catalog, make_reco_version("interactions"))
    assert message == [f"The catalog {catalog} uses the same item id more than once: “CA003” on lines 4, 7. Each "
                       "item needs its own id; fix the file and upload it as a new version."]


def test_ratings_that_are_not_numbers_are_refused_with_their_lines(shop_reco, make_reco_version):
    header, rows = sample_rows("shop_interactions.csv")
    rows[0][2], rows[9][2] = "great", "n/a"
    interactions = make_reco_version("interactions", rows_csv(header, rows))
    message = _refusal(shop_reco, make_reco_version("catalog"), interactions)
    assert message == [f"Ratings must be numbers (like 4 or 4.5); the “rating” column of {interactions} has "
                       "something else on lines 2, 11. Fix those cells (or map no rating column) and upload a new "
                       "version."]
    # The worker refuses the same rows with the same words (a run queued through another path).
    assert "Ratings must be numbers" in str(NotRecommendable(message[0]))


def test_interactions_of_one_user_only_are_refused(shop_reco, make_reco_version):
    header, rows = sample_rows("shop_interactions.csv")
    interactions = make_reco_version("interactions", rows_csv(header, [["u001", *row[1:]] for row in rows[:30]]))
    assert _refusal(shop_reco, make_reco_version("catalog"), interactions) == [
        f"Every interaction of {interactions} is by the same user (“u001”). A recommender learns from what different "
        "people chose: add interactions of at least two users."]


def test_interactions_without_a_user_column_and_an_empty_file_are_refused_at_upload(shop_reco):
    team, owner, _ = shop_reco
    upload = dataset_upload_create(team=team, user=owner, name="No users", file=_file(b"sku,rating\nCA001,5\n"))
    with pytest.raises(ValidationError) as no_user:
        dataset_version_create(source=upload, user=owner, kind="recommendation", shape="interactions",
                               column_mapping={"item": ["sku"], "rating": ["rating"]})
    assert no_user.value.message_dict == {"user": ["Choose the column that holds user."]}
    with pytest.raises(DatasetFileRejected) as empty:
        dataset_upload_create(team=team, user=owner, name="Empty", file=_file(b"customer_id,sku\n"))
    assert empty.value.message_dict["file"] == [
        "The file has a header row (customer_id, sku) but no rows of data below it. Add at least one example, or "
        "check you exported the right sheet."]


def test_interactions_naming_unknown_items_are_reported_with_lines_and_left_out(shop_reco, make_reco_version):
    header, rows = sample_rows("shop_interactions.csv")
    rows[3][1], rows[40][1] = "ZZ999", "GONE1"
    interactions = make_reco_version("interactions", rows_csv(header, rows))
    catalog = make_reco_version("catalog")
    _, owner, product = shop_reco
    run = training_run_create(product=product, dataset_version=interactions, catalog_version=catalog, user=owner)
    data = run_inputs(run)
    assert data.unknown_item_lines == [5, 42]
    assert data.warnings == [f"2 interactions name items that are not in the catalog {catalog} (lines 5, 42); "
                             "training leaves them out. Add those items to the catalog to use them."]
    assert len(data.interactions) == len(rows) - 2


def test_the_hold_out_is_each_users_latest_interactions_and_validation_comes_before_it():
    users = np.array([0] * 8 + [1] * 3)
    items = np.arange(11)
    order = np.array([7, 6, 5, 4, 3, 2, 1, 0, 10, 9, 8])  # user 0's first row is their latest
    split = holdout_split(users, items, order)
    assert split.held_out == {0: pytest.approx(np.array([0, 1]))}  # a quarter of 8: the two latest
    assert sorted(split.train.tolist()) == [2, 3, 4, 5, 6, 7, 8, 9, 10]  # user 1 (3 rows) keeps all
    validation = holdout_split(users, items, order, keep=split.train)
    assert validation.held_out == {0: pytest.approx(np.array([2]))}
    assert not set(validation.train.tolist()) & {0, 1, 2}


def test_a_recommender_worker_killed_after_a_stage_resumes_from_that_stages_checkpoint(
    shop_reco, make_reco_version, worker_process, settings
):
    _, owner, product = shop_reco
    run = training_run_create(product=product, dataset_version=make_reco_version("interactions"),
                              catalog_version=make_reco_version("catalog"), user=owner)
    # 400 ALS iterations per fit: long enough (a few seconds) to kill the worker between two stages.
    TrainingRun.objects.filter(pk=run.pk).update(hyperparameters={**run.hyperparameters, "epochs": 400},
                                                 total_steps=1 + 3 * 400 + 1)
    first = worker_process()
    _wait_for(lambda: first.poll() is not None or TrainingRun.objects.get(pk=run.pk).checkpoint_step >= 1,
              "the embeddings' checkpoint")
    assert first.poll() is None, first.stdout.read()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    orphan = TrainingRun.objects.get(pk=run.pk)
    on_disk = latest_checkpoint(checkpoint_root(run.pk))
    assert (orphan.status, orphan.attempts) == ("running", 1)
    assert on_disk is not None and on_disk.step in (1, 401, 801)

    settings.TRAINING_LEASE_SECONDS = 3
    _wait_for(TrainingWorker(poll_seconds=1).run_once, "the expired lease to be swept and the run claimed again")

    run.refresh_from_db()
    assert (run.status, run.attempts, run.resumed_from_step) == ("succeeded", 2, on_disk.step), run.error
    messages = list(run.log_entries.values_list("message", flat=True))
    resumed = f"Resumed from the checkpoint at step {on_disk.step} of 1202: the finished stages are not redone."
    assert resumed in messages
    # The catalog was embedded once: the resumed attempt took the embeddings from the checkpoint.
    assert sum(m.startswith("Read the descriptions of 63 items") for m in messages) == 1
    assert run.evaluation.metrics["kind"] == "recommender"
    assert ModelArtifact.objects.filter(run=run, kind="recommender").count() == 1
    assert not checkpoint_root(run.pk).exists()


_wait_for = functools.partial(wait_for, timeout=300)


def _file(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("interactions.csv", content, content_type="text/csv")

def test_the_benchmarks_last_10_hold_out_takes_exactly_ten_from_users_with_twenty_or_more():
    users = np.array([0] * 20 + [1] * 19)
    items = np.arange(39)
    order = np.arange(39)
    split = holdout_split(users, items, order, last=10)
    assert split.held_out == {0: pytest.approx(np.arange(10, 20))}  # user 0's ten latest
    assert sorted(split.train.tolist()) == [*range(10), *range(20, 39)]  # user 1 (19 rows) keeps all


def test_als_settings_are_chosen_on_the_validation_slice_from_the_grid_and_kept_for_a_big_log():
    """Real implicit on a small log of two tastes: the grid is tried, the best validation NDCG wins."""
    import scipy.sparse as sp

    from inference.training.recommender.evaluation import choose_settings
    from inference.training.recommender.model import AlsSettings, Recommender, fit_als

    rng = np.random.default_rng(3)
    rows, cols = [], []
    for user in range(60):
        taste = np.arange(10) if user % 2 else np.arange(10, 20)
        picked = rng.choice(taste, size=6, replace=False)
        rows += [user] * 6
        cols += picked.tolist()
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(60, 20))
    held_out = {user: np.setdiff1d(np.arange(10) if user % 2 else np.arange(10, 20), matrix[user].indices)[:2]
                for user in range(60)}
    embeddings = np.eye(20, 8, dtype=np.float32) + 0.01
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)

    def fitted(settings):
        model = fit_als(matrix, settings)
        return Recommender(item_ids=[str(i) for i in range(20)], user_ids=[str(u) for u in range(60)],
                           item_factors=model.item_factors, user_factors=model.user_factors, embeddings=embeddings,
                           popularity=np.asarray(matrix.sum(axis=0)).ravel(), history=matrix, items=[],
                           weight=0.5, settings=settings)

    base = AlsSettings(iterations=5, seed=7)
    chosen, grid = choose_settings(fitted, base, held_out, interactions=matrix.nnz)
    assert len(grid) == 18
    best = max(grid, key=lambda row: row["ndcg"])
    assert (chosen.factors, chosen.regularization, chosen.alpha) == (best["factors"], best["regularization"],
                                                                     best["alpha"])
    assert (chosen.iterations, chosen.seed) == (5, 7)  # the run's own
    assert choose_settings(fitted, base, held_out, interactions=10_000_000) == (base, [])
    assert choose_settings(fitted, base, {}, interactions=matrix.nnz) == (base, [])


def test_each_users_ages_count_their_items_chosen_later_an_item_chosen_twice_at_its_latest():
    from inference.training.recommender.pipeline import Arrays
    from products.recommendations.data import CatalogItem, Interaction, RecommenderData

    rows = [("a", "x", 1, "2024-01-01"), ("a", "y", 1, "2024-01-02"), ("b", "y", 1, "2024-01-01"),
            ("a", "x", 1, "2024-01-03"), ("b", "z", 0, "2024-01-02"), ("a", "z", 1, "2024-01-04")]
    data = RecommenderData([CatalogItem(i, i, i) for i in ("x", "y", "z")],
                           [Interaction(u, i, r, t, line) for line, (u, i, r, t) in enumerate(rows, start=2)])
    arrays = Arrays(data)
    everything = np.arange(len(rows))
    matrix = arrays.matrix(everything)

    ages = arrays.ages(everything, matrix)

    # a chose x, y, x again, z: z is their latest, then x (its second time), then y; b's rating 0 is no choice.
    assert matrix[0].indices.tolist() == [0, 1, 2] and ages[:3].tolist() == [1, 2, 0]
    assert matrix[1].indices.tolist() == [1] and ages[3:].tolist() == [0]


def test_the_recency_and_item_item_share_are_chosen_on_the_validation_slice_the_latest_taste_winning_when_it_drifts():
    """Real implicit on customers who moved from one taste to the other: what they choose next is the new one."""
    import scipy.sparse as sp

    from inference.training.recommender.evaluation import NEIGHBOUR_SHARES, RECENCIES, choose_blend
    from inference.training.recommender.model import AlsSettings, Recommender, fit_als, fit_neighbours

    rng = np.random.default_rng(4)
    rows, cols, ages, held_out = [], [], [], {}
    for user in range(40):
        old, new = (np.arange(10), np.arange(10, 20)) if user % 2 else (np.arange(10, 20), np.arange(10))
        chosen_old, chosen_new = rng.choice(old, 4, replace=False), rng.choice(new, 5, replace=False)
        age = {int(item): 3 + 4 - a for a, item in enumerate(chosen_old)} | {int(item): 2 - a for a, item in
                                                                          enumerate(chosen_new[:3])}
        for item in sorted(age):
            rows.append(user)
            cols.append(item)
            ages.append(age[item])
        held_out[user] = np.sort(chosen_new[3:])
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(40, 20))
    centres = rng.standard_normal((2, 8))
    embeddings = (centres[np.arange(20) // 10] + 0.5 * rng.standard_normal((20, 8))).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    settings = AlsSettings(factors=4, iterations=5, seed=7)
    fitted = fit_als(matrix, settings)
    model = Recommender(item_ids=[str(i) for i in range(20)], user_ids=[str(u) for u in range(40)],
                        item_factors=fitted.item_factors, user_factors=fitted.user_factors, embeddings=embeddings,
                        popularity=np.asarray(matrix.sum(axis=0)).ravel(), history=matrix, items=[], weight=0.5,
                        settings=settings, history_age=np.asarray(ages, np.int32), neighbours=fit_neighbours(matrix))

    blend = choose_blend(model, held_out)

    assert [(row["recency"], row["neighbour_share"]) for row in blend.tried] == [
        (recency, share) for recency in RECENCIES for share in NEIGHBOUR_SHARES] and len(blend.weights) == 7
    best = max(blend.tried, key=lambda row: row["ndcg"])
    assert (blend.recency, blend.neighbour_share, blend.weight) == (best["recency"], best["neighbour_share"],
                                                                    best["weight"])
    assert blend.recency < 1.0 and best["ndcg"] > blend.tried[0]["ndcg"]  # every item alike, ALS alone: worse
    alone = choose_blend(Recommender(**{**model.__dict__, "history_age": None, "neighbours": None}), held_out)
    assert (alone.recency, alone.neighbour_share, len(alone.tried)) == (1.0, 0.0, 1)
