import logging

import pytest


@pytest.fixture(autouse=True)
def _compat_logs_to_caplog(caplog):
    """Make the compat module's warnings visible to caplog in every test of this folder."""
    caplog.set_level(logging.INFO, logger="model_quantization")
    yield
