"""Reproducible builds (issue 21): the lock files pin every dependency of pyproject.toml to one
version with hashes (runtime and dev agreeing), the Makefile and the Dockerfile install from
them and nothing else, and `make pin-base-image` pins the Dockerfile's base image."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]
LOCK, DEV_LOCK = ROOT / "requirements.lock", ROOT / "requirements-dev.lock"
DOCKERFILE = ROOT / "deploy/Dockerfile"
# name==version [; markers] \ then one `--hash=sha256:…` per line
PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)(?: ; [^\\\n]*)?"
    r"((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)",
    re.M,
)
DIGEST = "sha256:" + "0123456789abcdef" * 4


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)."""
    return {
        canonicalize_name(name): (version, hashes.count("--hash="))
        for name, version, hashes in PIN.findall(lock.read_text())
    }


def project() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"runtime": data["dependencies"], "dev": data["optional-dependencies"]["dev"]}


def test_the_locks_pin_every_dependency_with_hashes() -> None:
    runtime, dev = pins(LOCK), pins(DEV_LOCK)
    everything = project()["runtime"] + project()["dev"]
    for lock, wanted in ((runtime, project()["runtime"]), (dev, everything)):
        for line in wanted:
            requirement = Requirement(line)
            version, _ = lock[canonicalize_name(requirement.name)]
            assert requirement.specifier.contains(version, prereleases=True), (line, version)
        assert [name for name, (_, hashes) in lock.items() if not hashes] == []
    assert {name: dev[name] for name in runtime} == runtime  # the image runs what tests ran


def test_make_and_the_image_install_from_the_locks_only() -> None:
    makefile = (ROOT / "Makefile").read_text()
    stamp = makefile.split("$(STAMP): pyproject.toml $(DEV_LOCK)\n", 1)[1].split("\n\n", 1)[0]
    assert "pip install -q --require-hashes -r $(DEV_LOCK)" in stamp
    assert "pip install -q --no-deps -e ." in stamp
    docker = DOCKERFILE.read_text()
    assert "--require-hashes --prefix=/install -r requirements.lock" in docker
    assert "--no-deps --prefix=/install ." in docker
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package in packages["packages"]["find"]["include"]:
        assert f"COPY {package.rstrip('*')} " in docker
    assert re.findall(r"^FROM (\S+)", docker, re.M) == ["${BASE_IMAGE}", "${BASE_IMAGE}"]


def test_every_base_image_is_pinned_by_digest() -> None:
    """Every FROM names an image by its digest (ARG defaults resolved, as docker resolves them):
    the same Dockerfile builds on the same base until `make pin-base-image` moves it."""
    docker = DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", docker, re.M))
    froms = re.findall(r"^FROM (\S+)", docker, re.M)
    assert froms
    for image in froms:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert re.fullmatch(r"[\w./:-]+@sha256:[0-9a-f]{64}", resolved), image
    assert args["BASE_IMAGE"].startswith("python:3.11-slim@sha256:")


def test_pin_base_image_writes_the_published_digest(tmp_path: Path) -> None:
    """The one command that refreshes the pin, with a docker that answers like the registry."""
    docker = tmp_path / "bin/docker"
    docker.parent.mkdir()
    docker.write_text(f'#!/bin/sh\necho \'{{"mediaType": "index", "digest": "{DIGEST}"}}\'\n')
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    copy = tmp_path / "Dockerfile"
    copy.write_text(DOCKERFILE.read_text())
    env = {**os.environ, "PATH": f"{docker.parent}:{os.environ['PATH']}", "DOCKERFILE": str(copy)}
    subprocess.run(["sh", str(ROOT / "scripts/pin-base-image.sh")], env=env, check=True)
    args = re.findall(r"^ARG BASE_IMAGE=(\S+)$", copy.read_text(), re.M)
    assert args == [f"python:3.11-slim@{DIGEST}"]
    subprocess.run(["sh", str(ROOT / "scripts/pin-base-image.sh")], env=env, check=True)
    assert re.findall(r"^ARG BASE_IMAGE=(\S+)$", copy.read_text(), re.M) == args  # refreshable
