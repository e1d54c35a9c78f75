"""Turn a settings ValidationError into a message an operator can act on."""

from __future__ import annotations

from pydantic import ValidationError


def explain(service: str, exc: ValidationError) -> str:
    lines = [f"herald {service}: cannot start, settings are missing or invalid:"]
    for err in exc.errors(include_url=False):
        name = "HERALD_" + "_".join(str(p) for p in err["loc"]).upper()
        problem = "is required" if err["type"] == "missing" else err["msg"]
        lines.append(f"  {name}: {problem}")
    lines.append("Set them in the environment or a .env file (see README, 'Configuration').")
    return "\n".join(lines)
