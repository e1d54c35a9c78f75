"""The acceptance tier: the system as its users and operators meet it: processes end to end, chaos,
browsers, fuzzing, outages, deployment. Every test here is marked ``acceptance``."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.acceptance)
