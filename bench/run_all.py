"""`make bench`: run every benchmark in bench/ and write bench/RESULTS.md.

Each benchmark module has ``main() -> dict`` and prints its figure beside the raw limit it
measured in the same run. They run one after another, each in its own process, so one
benchmark's servers never share a process (or a core's cache) with the next one's.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ORDER = [
    "ingest",
    "pipeline",
    "matching",
    "acl",
    "inbox",
    "sender",
    "sms",
    "digest",
    "websocket",
    "memory",
]
MARK = "@@BENCH-RESULT@@"
TIMEOUT_S = 900


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, Python {platform.python_version()}"


def run_one(name: str) -> tuple[str, dict[str, object] | None, float]:
    code = (
        f"import json, bench.{name} as m; r = m.main(); "
        f"print({MARK!r} + json.dumps(r, default=str))"
    )
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            cwd=BENCH_DIR.parent,
        )
        out = proc.stdout + (
            f"\n[exit {proc.returncode}]\n{proc.stderr[-3000:]}" if proc.returncode else ""
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        out = f"timed out after {TIMEOUT_S}s\n{partial}"
    result = None
    lines = []
    for line in out.splitlines():
        if line.startswith(MARK):
            result = json.loads(line[len(MARK) :])
        else:
            lines.append(line)
    return "\n".join(lines).strip(), result, time.monotonic() - started


def main() -> None:
    # only the benchmarks themselves: bench/ also holds their server and client helpers
    names = [n for n in ORDER if (BENCH_DIR / f"{n}.py").exists()]
    if len(sys.argv) > 1:
        names = [n for n in names if n in sys.argv[1:]]
    sections = [
        "# Benchmark results\n",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.\n",
        "Each benchmark measures its raw limit in the same run; the ratio is what to compare.\n",
    ]
    for name in names:
        print(f"== {name}", flush=True)
        output, result, took = run_one(name)
        print(output, flush=True)
        sections.append(f"## {name} ({took:.0f} s)\n")
        if result:
            sections.append("| figure | value |\n| --- | --- |")
            sections += [f"| {k} | {v} |" for k, v in result.items()]
            sections.append("")
        sections.append(f"```\n{output}\n```\n")
    (BENCH_DIR / "RESULTS.md").write_text("\n".join(sections))
    print(f"wrote {BENCH_DIR / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
