"""Script runners and virtualenvs: with ``script-venv`` pointing at this suite's own venv (the one
scripts/test made, where numpy and redis-py were installed with pip), scripts import pip-installed packages,
and the runners are that venv's Python, not the system's."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import numpy as np
import pytest
import redis

VENV_SCRIPT = """
import sys
import numpy
import redis as redis_py  # pip-installed in the venv only (not a Debian package here)

def versions(tensors, keys, args):
    return numpy.array([numpy.__version__, redis_py.__version__, sys.prefix], dtype=object)
"""


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="the interop suite is not running in a venv")
def test_scripts_import_packages_from_script_venv(start_server):
    srv = start_server("--script-venv", sys.prefix)
    r = redis.Redis(host=srv.host, port=srv.port, decode_responses=True, socket_timeout=30)
    assert r.execute_command("AI.SCRIPTSTORE", "v", "CPU", "ENTRY_POINTS", 1, "versions", "SOURCE", VENV_SCRIPT)
    r.execute_command("AI.SCRIPTEXECUTE", "v", "versions", "KEYS", 1, "k", "OUTPUTS", 1, "out")
    got = r.execute_command("AI.TENSORGET", "out", "VALUES")
    assert got == [np.__version__, importlib.metadata.version("redis"), sys.prefix]


def _system_python_has_redis() -> bool:
    probe = subprocess.run(["/usr/bin/python3", "-c", "import redis"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(_system_python_has_redis(), reason="the system Python has redis-py installed too")
def test_without_the_venv_a_pip_only_package_is_missing(start_server):
    srv = start_server()
    r = redis.Redis(host=srv.host, port=srv.port, decode_responses=True, socket_timeout=30)
    with pytest.raises(redis.ResponseError, match="ModuleNotFoundError: No module named 'redis'"):
        r.execute_command("AI.SCRIPTSTORE", "v", "CPU", "ENTRY_POINTS", 1, "versions", "SOURCE", VENV_SCRIPT)
