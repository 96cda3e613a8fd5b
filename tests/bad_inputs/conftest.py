"""Fixtures of the bad-input suite (the helpers are in bad_input_helpers.py)."""
import pytest
from bad_input_helpers import run_entry as _run_entry


@pytest.fixture
def run_entry():
    """``run_entry("scripts/x.py" | "make" | "-m module", *args, cwd=, env=)`` -> Result."""
    return _run_entry
