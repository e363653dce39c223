"""The recommender training method: implicit's ALS, MiniLM content embeddings, a validated hybrid, popularity.

``pipeline.train_recommender`` is what ``inference.training.pipeline.fine_tune`` runs for a run whose method is
``recommender``; ``model`` is the recommender itself (also what the rank runner serves), ``evaluation`` the
time-ordered hold-out and its metrics.
"""


class NotRecommendable(Exception):
    """The datasets cannot train a recommender (duplicate ids, bad ratings, one user); the message says what to fix."""
