"""Fixtures for the static checks (helpers live in static_helpers.py)."""

import os

import pytest
from static_helpers import ROOT, write_executable


@pytest.fixture
def fake_docker(tmp_path):
    """A `docker` stand-in: `version` answers, `info` lists runtimes from $FAKE_RUNTIMES,
    `image inspect` succeeds, `run` prints its arguments. Returns its path."""
    return write_executable(tmp_path / "docker", """#!/usr/bin/env bash
case "$1" in
    version) echo 27.0.0 ;;
    info) echo "Runtimes: ${FAKE_RUNTIMES:-runc}" ;;
    image) echo ok ;;
    run) shift; echo "FAKE-DOCKER-RUN $*" ;;
    *) exit 1 ;;
esac
""")


@pytest.fixture
def dockerfile():
    dockerfile_parse = pytest.importorskip(
        "dockerfile_parse", reason="needs dockerfile-parse: pip install dockerfile-parse==2.0.1")
    return dockerfile_parse.DockerfileParser(path=os.path.join(ROOT, "Dockerfile"))
