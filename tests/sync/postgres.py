"""A throwaway PostgreSQL cluster for the tests (scripts/start-postgres), and a fresh database per test."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from sim.ports import free_port
from tests.paths import ROOT

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    """The URL of the cluster's maintenance database; the cluster is removed at the end of the session."""
    base = tempfile.mkdtemp(prefix="ringfence-pg-")
    os.chmod(base, 0o755)  # the cluster's owner (postgres, when the tests run as root) must reach it
    cluster = os.path.join(base, "cluster")
    started = subprocess.run(
        [str(ROOT / "scripts/start-postgres"), cluster, str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(ROOT / "scripts/start-postgres"), "--stop", cluster], timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: str) -> str:
    """A new, empty database in the cluster, migrated by the command an operator runs."""
    import psycopg

    name = f"t{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(postgres_cluster, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = postgres_cluster.rsplit("/", 1)[0] + "/" + name
    migrated = subprocess.run(
        [sys.executable, "-m", "firmware", "central", "migrate", "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert migrated.returncode == 0 and "applied 0001_facilities" in migrated.stdout, migrated.stderr
    return url
