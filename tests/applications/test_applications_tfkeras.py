"""Every application of keras.applications, against tf-keras built and saved in a subprocess: tf-keras writes a
weights file of randomly drawn weights (with and without the top), fitgen loads it with `weights=PATH` and must
predict (rtol 1e-4) and summarise exactly as tf-keras.

Runs only when FITGEN_TFKERAS_PYTHON names a Python with tf-keras 2.21 (it need not have torch); the cases are
LARGE_CASES of tests/fixtures/applications/make_application_fixtures.py, at cut-down input sizes, or at each
model's default input size (for the models with the top) when FITGEN_APPLICATIONS_DEFAULT_SIZE=1. All of them
take several minutes; `-k ResNet50` and the like select some.
"""
import os
import subprocess

import pytest
from app_cases import GENERATOR, check_case, generator

PYTHON = os.environ.get("FITGEN_TFKERAS_PYTHON")
pytestmark = pytest.mark.skipif(not PYTHON, reason="set FITGEN_TFKERAS_PYTHON to a Python with tf-keras")

APPLICATIONS = [builder for _, builder, _, _ in generator().APPLICATIONS]


@pytest.mark.parametrize("builder", APPLICATIONS)
def test_application_matches_tfkeras(builder, tmp_path):
    names = [f"{builder}_top", f"{builder}_notop"]
    done = subprocess.run([PYTHON, GENERATOR, str(tmp_path)] + names, capture_output=True, text=True, timeout=1200,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    try:
        for name in names:
            check_case(name, str(tmp_path), batch_size=1)
    finally:
        for entry in tmp_path.iterdir():  # the weight files are large: do not keep them around
            entry.unlink()
