"""``herald dev`` support: the reference module backend on Herald's own database, and a modules
file that points the mediator at it."""

from __future__ import annotations

from pathlib import Path

import yaml
from fastapi import FastAPI

from services.acl_mediator.reference_backend import create_reference_app
from services.acl_mediator.reference_data import HeraldDirectory

REFERENCE_DEV_HOST = "127.0.0.1"  # only the mediator in the same process calls it
REFERENCE_DEV_PORT = 8005
DEV_MODULES = ("tenders", "approvals", "design", "construction")


def write_dev_modules_file(data_dir: Path) -> Path:
    """Every demo module answered by the reference backend; rewritten on each start."""
    base_url = f"http://{REFERENCE_DEV_HOST}:{REFERENCE_DEV_PORT}"
    modules = {name: {"base_url": base_url, "timeout_s": 2.0} for name in DEV_MODULES}
    path = data_dir / "acl-modules.yaml"
    path.write_text(yaml.safe_dump({"modules": modules}, sort_keys=False), encoding="utf-8")
    return path.resolve()


def dev_reference_app(database_url: str) -> FastAPI:
    return create_reference_app(HeraldDirectory(database_url))
