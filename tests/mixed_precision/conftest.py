import pytest

from fitgen import mixed_precision
from fitgen.mixed_precision import policy


@pytest.fixture(autouse=True)
def restore_policy():
    """Each test starts and ends with the default global policy (and leaves the rest of the suite on the
    plain float32 code path)."""
    mixed_precision.set_global_policy(None)
    in_use = policy.MIXED_IN_USE[0]
    yield
    mixed_precision.set_global_policy(None)
    policy.MIXED_IN_USE[0] = in_use
