"""Cut-down applications (MobileNet alpha 0.25, tiny ResNet v1/v2, DenseNet, NASNet and EfficientNet) load the
weight files tf-keras wrote for them (topologically, or by name into a headless model) and predict and summarise
as tf-keras does; the references are tests/fixtures/applications (make_application_fixtures.py)."""
import pytest
from app_cases import FIXTURES, check_case, generator

CASES = sorted(generator().SMALL_CASES)


@pytest.mark.parametrize("name", CASES)
def test_application_matches_tfkeras(name):
    check_case(name, FIXTURES)
