"""The suite's shared fixtures (the class run, the hostile course) are built once only if pytest-xdist's
``--dist loadgroup`` keeps each group on one worker; it does so by adding ``@group`` to the test ids."""
import os

import pytest


@pytest.mark.xdist_group("groups")
def test_xdist_groups_reach_the_scheduler(request):
    if not (os.environ.get("PYTEST_XDIST_WORKER") and request.config.getvalue("loadgroup")):
        pytest.skip("not run by pytest-xdist with --dist loadgroup")
    assert request.node.nodeid.endswith("@groups"), (
        f"{request.node.nodeid}: pytest-xdist did not add the group, so each worker builds every shared "
        "fixture (pytest 9.2 with xdist 3.8 did this): check the pytest pin in pyproject.toml")
