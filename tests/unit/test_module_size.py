"""No production module over 300 lines (DESIGN §11, issue 20): a module that grows past it is
split by role before it lands. Production is what the services run: libs/, services/ and
herald/ (tests and migrations are not counted)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("libs", "services", "herald")
MAX_LINES = 300


def _lines(path: Path) -> int:
    with path.open("rb") as source:
        return sum(1 for _ in source)


def _production_modules() -> list[Path]:
    return sorted(path for top in PRODUCTION for path in (ROOT / top).rglob("*.py"))


def test_the_production_modules_are_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in _production_modules()}
    assert "libs/common/db/models/__init__.py" in names
    assert "services/processor/app.py" in names
    assert "herald/cli.py" in names


def test_no_production_module_is_over_300_lines() -> None:
    too_long = {
        path.relative_to(ROOT).as_posix(): lines
        for path in _production_modules()
        if (lines := _lines(path)) > MAX_LINES
    }
    assert too_long == {}, f"split these by role (limit {MAX_LINES} lines): {too_long}"
