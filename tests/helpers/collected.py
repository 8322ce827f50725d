"""A pytest plugin, `-p tests.helpers.collected`: writes the tests a session selected.

One JSON line per test to the file named by `$COLLECTED_TESTS`: the test's node id
and the backend whose session runs it (tests/helpers/backend_matrix.py).
"""

import json
import os

from tests.helpers.backend_matrix import session_backend


def pytest_collection_finish(session):
    with open(os.environ["COLLECTED_TESTS"], "w") as file:
        for item in session.items:
            original = getattr(item, "original", item)
            backend = getattr(item, "backend", session_backend())
            file.write(json.dumps({"nodeid": original.nodeid, "backend": backend}) + "\n")
