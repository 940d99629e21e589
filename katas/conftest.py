"""Shared set-up for the kata tests.

From kata 05 on, every test runs with autograd switched on: ``enable_autograd()`` wakes the
Tensor's dormant gradient features (it is idempotent, and katas 01-04 pass either way).
"""

import pytest

FIRST_KATA_WITH_AUTOGRAD = "05"


@pytest.fixture(autouse=True, scope="module")
def _autograd_from_kata_05(request: pytest.FixtureRequest) -> None:
    """Module-scoped, so that it runs before the module-scoped fixtures that train a model."""
    kata_id = request.path.parent.name.split("_")[0]
    if kata_id >= FIRST_KATA_WITH_AUTOGRAD:
        from tinytorch.core.autograd import enable_autograd

        enable_autograd()
