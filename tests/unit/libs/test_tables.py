"""table_of: the ORM class's own Table (Core statements built on it hit the same rows)."""

from __future__ import annotations

import pytest
from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase

from libs.common.db.models import Delivery, Recipient
from libs.common.db.tables import table_of


def test_the_table_behind_a_model_is_its_own() -> None:
    assert table_of(Delivery) is Delivery.__table__
    assert isinstance(table_of(Recipient), Table)
    assert table_of(Recipient).name == "recipients"


def test_a_class_mapped_over_an_alias_is_refused() -> None:
    class Other(DeclarativeBase):
        pass

    class Projection(Other):
        __table__ = table_of(Recipient).alias("r")

    with pytest.raises(TypeError, match="not mapped to a table"):
        table_of(Projection)
