"""Shared fixtures for the Python interop suite.

The suite talks to a real ``tensorcell-server`` process through the real client libraries
(redis-py, redisai-py). One server is started per test session on an ephemeral port:

* ``TENSORCELL_SERVER`` names the binary (default ``<repo>/target/debug/tensorcell-server``).
* The server is started with ``--port 0``; the port it actually bound is read from its
  ``* Listening on HOST:PORT`` log line.

Fixtures:

* ``server``         session-scoped ``ServerInfo(host, port, proc)``.
* ``start_server``   factory for an extra, private server with its own directives
                     (e.g. ``--requirepass``); stopped at the end of the test.
* ``r``              function-scoped ``redis.Redis`` (redis-py default: RESP3 via HELLO 3);
                     the server is FLUSHALL'ed before each test.
* ``make_client``    factory for more clients (second connection, ``protocol=2``, ...);
                     every client it makes is closed after the test.

Shared fixtures from ``../shared/fixtures/onnx`` (next to the repository):

* mark a test ``@pytest.mark.needs_shared_onnx`` and/or request the ``onnx_fixtures``
  fixture (a ``pathlib.Path``). If the directory is missing the test is skipped with a
  clear message, unless ``TENSORCELL_REQUIRE_SHARED=1`` (CI), where it fails instead.
  ``TENSORCELL_SHARED_DIR`` may point at another ``shared`` directory.
"""

from __future__ import annotations

import collections
import os
import pathlib
import queue
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field

import pytest
import redis

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_SERVER = REPO_ROOT / "target" / "debug" / "tensorcell-server"
STARTUP_TIMEOUT_S = 20.0
LISTEN_RE = re.compile(r"Listening on (\S+):(\d+)\s*$")


# --------------------------------------------------------------------------------------
# Server process management
# --------------------------------------------------------------------------------------


def server_binary() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("TENSORCELL_SERVER", str(DEFAULT_SERVER)))
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    return path


@dataclass
class ServerInfo:
    host: str
    port: int
    proc: subprocess.Popen
    pump: threading.Thread
    # The last log lines (stdout and stderr merged), kept for failure messages.
    log: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200))

    def log_text(self) -> str:
        return "".join(self.log)


# The front end the suite runs against: the standalone server (default), or, with TENSORCELL_FRONT=module,
# Debian's redis-server with the module loaded (TENSORCELL_MODULE names the .so). Tests of what only the
# standalone server has (its Redis commands, AOF, replication) are marked `standalone_only`.
FRONT = os.environ.get("TENSORCELL_FRONT", "standalone")
# The runtime models run on: ONNX Runtime when ORT_DYLIB_PATH names its library (`onnx-backend auto` picks
# it up; scripts/test runs the model tests again that way), else tract.
ONNX_RUNTIME = "onnxruntime" if os.environ.get("ORT_DYLIB_PATH") else "tract"
DEFAULT_MODULE = REPO_ROOT / "target" / "debug" / "libtensorcell_module.so"
# Directives that are module load arguments inside redis-server (tensorcell::config::ENGINE_DIRECTIVES, less
# loglevel, which the suite means for redis-server); the rest are Redis's.
MODULE_ARGS = {
    "threads-per-queue", "intra-op-parallelism", "inter-op-parallelism", "onnx-backend", "onnxruntime-library",
    "model-execution-timeout", "model-chunk-size",
    "enable-python-scripts", "script-time-limit", "script-memory-limit", "script-user", "script-python",
    "script-venv", "script-python-native", "script-rscript", "dag-result-ttl", "snapshot-dir", "snapshot-store", "snapshot-codec",
}


def module_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("TENSORCELL_MODULE", str(DEFAULT_MODULE)))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis_with_module(extra_args=(), module_args=()) -> ServerInfo:
    """redis-server on a free loopback port with the module; `extra_args` are `--name value` pairs, the
    AI ones passed to the module, `module_args` added as they are."""
    so = module_path()
    if not so.is_file():
        pytest.fail(f"module not found: {so} (build it with `cargo build --workspace`)", pytrace=False)
    mod, rest, args = list(module_args), [], list(extra_args)
    i = 0
    while i < len(args):
        name = args[i]
        if name.startswith("--") and name[2:] in MODULE_ARGS and i + 1 < len(args):
            mod += [name[2:], args[i + 1]]
            i += 2
        else:
            rest.append(name)
            i += 1
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--enable-debug-command", "yes", "--dir", tempfile.mkdtemp(prefix="tensorcell-module-"),
           *rest, "--loadmodule", str(so), *mod]
    return _spawn(cmd, re.compile(r"Ready to accept connections"), lambda m: ("127.0.0.1", port))


def _start(extra_args=()) -> ServerInfo:
    if FRONT == "module":
        return start_redis_with_module(extra_args)
    binary = server_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(
            f"tensorcell server binary not found or not executable: {binary}\n"
            "Build it with `cargo build` or set TENSORCELL_SERVER to its path.",
            pytrace=False,
        )
    cmd = [str(binary), "--port", "0", *extra_args]
    if "--dir" not in extra_args:
        # Each server persists into a directory of its own, never into the checkout (a server stopped with
        # SIGTERM saves its snapshot file there) and never loads another's files.
        cmd += ["--dir", tempfile.mkdtemp(prefix="tensorcell-interop-")]
    return _spawn(cmd, LISTEN_RE, lambda m: (m.group(1), int(m.group(2))))


def _spawn(cmd, ready: "re.Pattern[str]", address) -> ServerInfo:
    """Starts `cmd` and waits for the log line `ready`; `address(match)` gives (host, port)."""
    proc = subprocess.Popen(
        cmd,
        cwd=str(REPO_ROOT),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    )
    log: collections.deque = collections.deque(maxlen=200)
    found: "queue.Queue[tuple[str, int] | None]" = queue.Queue()

    def pump():
        # Keep draining stdout for the whole life of the process: a full pipe would
        # block the server's logger.
        announced = False
        for line in proc.stdout:
            log.append(line)
            if not announced:
                m = ready.search(line)
                if m:
                    announced = True
                    found.put(address(m))
        if not announced:
            found.put(None)  # EOF before the Listening line: the process died
        proc.stdout.close()

    pump_thread = threading.Thread(target=pump, name="tensorcell-log-pump", daemon=True)
    pump_thread.start()

    try:
        addr = found.get(timeout=STARTUP_TIMEOUT_S)
    except queue.Empty:
        addr = None
        reason = f"no '{ready.pattern}' line within {STARTUP_TIMEOUT_S:.0f}s"
    else:
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        reason = f"server exited with code {code} before listening"
    if addr is None:
        _stop(proc, pump_thread)
        pytest.fail(
            f"could not start tensorcell server: {reason}\n"
            f"command: {' '.join(cmd)}\n"
            f"output:\n{''.join(log) or '(none)'}",
            pytrace=False,
        )
    host, port = addr
    host = host.strip("[]")
    if host in ("0.0.0.0", "::", "*"):
        host = "127.0.0.1" if host != "::" else "::1"
    return ServerInfo(host=host, port=port, proc=proc, pump=pump_thread, log=log)


def _stop(proc: subprocess.Popen, pump: threading.Thread) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    pump.join(timeout=5)  # it closes stdout once it has read to EOF


@pytest.fixture(scope="session")
def server():
    info = _start()
    try:
        yield info
    finally:
        _stop(info.proc, info.pump)


@pytest.fixture
def start_server():
    """Factory: ``start_server("--requirepass", "pw")`` -> ServerInfo of a private server."""
    started = []

    def factory(*extra_args):
        info = _start(extra_args)
        started.append(info)
        return info

    yield factory
    for info in started:
        _stop(info.proc, info.pump)


# --------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------


@pytest.fixture
def make_client(server):
    """Factory for extra redis-py clients against the session server; all closed after."""
    clients = []

    def factory(**kwargs):
        kwargs.setdefault("socket_timeout", 10)
        kwargs.setdefault("socket_connect_timeout", 10)
        c = redis.Redis(host=server.host, port=server.port, **kwargs)
        clients.append(c)
        return c

    yield factory
    for c in clients:
        c.close()


@pytest.fixture
def r(server, make_client):
    """A redis-py client with redis-py's defaults (RESP3 / HELLO 3) on a flushed server."""
    if server.proc.poll() is not None:
        pytest.fail(
            f"tensorcell server died (exit code {server.proc.returncode}); last output:\n"
            f"{server.log_text()}",
            pytrace=False,
        )
    client = make_client()
    client.flushall()
    return client


# --------------------------------------------------------------------------------------
# ../shared fixtures
# --------------------------------------------------------------------------------------


def shared_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("TENSORCELL_SHARED_DIR", str(REPO_ROOT.parent / "shared")))


def require_shared_fixture(*parts: str) -> pathlib.Path:
    """Return ``<shared>/fixtures/<parts...>``; skip (or fail under
    ``TENSORCELL_REQUIRE_SHARED=1``) when it does not exist."""
    path = shared_dir().joinpath("fixtures", *parts)
    if path.exists():
        return path
    msg = (
        f"shared fixture {path} is missing (the `shared/` directory next to the repository "
        "is only present on project machines and in CI)"
    )
    if os.environ.get("TENSORCELL_REQUIRE_SHARED") == "1":
        pytest.fail(msg + "; TENSORCELL_REQUIRE_SHARED=1 makes this a failure", pytrace=False)
    pytest.skip(msg)


@pytest.fixture
def onnx_fixtures() -> pathlib.Path:
    """Path of ``../shared/fixtures/onnx`` (skip/fail as described above if missing)."""
    return require_shared_fixture("onnx")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "needs_shared_onnx: test needs ../shared/fixtures/onnx; skipped if missing, "
        "failed instead when TENSORCELL_REQUIRE_SHARED=1",
    )
    config.addinivalue_line(
        "markers",
        "standalone_only: tests what only the standalone server has; skipped with TENSORCELL_FRONT=module",
    )


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_shared_onnx") is not None:
        require_shared_fixture("onnx")
    if FRONT == "module" and item.get_closest_marker("standalone_only") is not None:
        pytest.skip("the standalone server's own feature (TENSORCELL_FRONT=module runs inside redis-server)")
