"""The reference permissions backend as a process of its own, over a YAML directory:

    python -m tests.acceptance.chaos.acl_backend <port> <directory.yaml>

It is the module backend the chaos mediator asks (services/acl_mediator/reference_backend.py,
``StaticDirectory``): it needs neither the database nor the broker, so the faults the suite
injects reach the mediator's callers only through the mediator itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from services.acl_mediator.reference_backend import create_reference_app
from services.acl_mediator.reference_data import StaticDirectory


def main() -> None:
    port, path = int(sys.argv[1]), Path(sys.argv[2])
    app = create_reference_app(StaticDirectory.from_file(path))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
