"""Permissions mediator settings."""

from __future__ import annotations

from pathlib import Path

from libs.common.settings import ServiceKeySettings


class MediatorSettings(ServiceKeySettings):
    acl_modules_file: Path | None = None
