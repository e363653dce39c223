"""Settings for a benchmark's live studio (its server and worker processes): the test settings, with database
connections kept between requests as studio/settings.py keeps them (60 s, with health checks). tests/settings.py
closes each one after its request so that a test's teardown can drop the database; measured, that adds a connect
(and, on PostgreSQL, its authentication) to every request, which no deployed studio pays."""

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
