"""The Redis module inside Debian's redis-server: what only that front end has.

The AI command suites run against the module too (``TENSORCELL_FRONT=module``, scripts/test). These tests
are about what Redis does with the module's values: persistence (SAVE, an AOF rewrite without the RDB
preamble, DEBUG RELOAD, DUMP/RESTORE) for every native type, replication of effects rather than commands,
read-only DAGs on a replica, a blocked client killed mid-run, load arguments, INFO modules, a mass insert
with ``redis-cli --pipe``, MIGRATE of every type to a second Redis, and the core logging through Redis's
log. Each test starts its own redis-server(s) on free loopback ports.
"""

from __future__ import annotations

import pathlib
import subprocess
import threading
import time

import numpy as np
import pytest
import redis

from redis.backoff import NoBackoff
from redis.retry import Retry

from conftest import FRONT, _stop, free_port, module_path, start_redis_with_module

pytestmark = pytest.mark.skipif(
    FRONT == "module", reason="module-only tests run once, in the standalone pass of scripts/test"
)

SCRIPT = """
import time
def add(tensors, keys, args):
    return tensors[0] + tensors[1]
def nap(tensors, keys, args):
    time.sleep(float(args[0]))
    return tensors[0]
"""


@pytest.fixture
def module_server():
    started = []

    def factory(*args, module_args=()):
        info = start_redis_with_module(args, module_args)
        started.append(info)
        return info

    yield factory
    for info in started:
        _stop(info.proc, info.pump)


def client(info, **kw) -> redis.Redis:
    kw.setdefault("protocol", 2)
    return redis.Redis(host=info.host, port=info.port, socket_timeout=30, **kw)


def fill(r: redis.Redis, onnx: pathlib.Path) -> None:
    """One key of every native type, and a model run's output."""
    r.execute_command("AI.TENSORSET", "t", "FLOAT", 2, 2, "VALUES", 1, 2, 3, 4)
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "TAG", "v1", "BLOB", (onnx / "mnist.onnx").read_bytes())
    r.execute_command("AI.TENSORSET", "in", "FLOAT", 1, 1, 28, 28, "BLOB", (onnx / "mnist_one.raw").read_bytes())
    r.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 2, "add", "nap", "SOURCE", SCRIPT)
    r.execute_command("AI.CELLSET", "c", '{"n": 7}')
    r.execute_command("AI.POOLSET", "p", "a", "1", "b", '"x"')


def check(r: redis.Redis) -> None:
    """Every key of `fill` came back with its value, and the model and script still run."""
    assert [r.type(k) for k in ("t", "m", "s", "c", "p")] == [
        b"AI_TENSOR", b"AI__MODEL", b"AI_SCRIPT", b"AI___CELL", b"AI___POOL"]
    assert r.execute_command("AI.TENSORGET", "t", "VALUES") == [b"1", b"2", b"3", b"4"]
    meta = r.execute_command("AI.MODELGET", "m", "META")
    assert meta[meta.index(b"tag") + 1] == b"v1"
    assert r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "in", "OUTPUTS", 1, "out") == b"OK"
    out = np.frombuffer(r.execute_command("AI.TENSORGET", "out", "BLOB"), dtype=np.float32)
    assert int(out.argmax()) == 1
    assert r.execute_command("AI.SCRIPTEXECUTE", "s", "add", "INPUTS", 2, "t", "t", "OUTPUTS", 1, "u") == b"OK"
    assert r.execute_command("AI.TENSORGET", "u", "VALUES") == [b"2", b"4", b"6", b"8"]
    assert r.execute_command("AI.CELLGET", "c") == b'{"n":7}'
    assert r.execute_command("AI.POOLGETALL", "p") == [b"a", b"1", b"b", b'"x"']


def restart(module_server, info, *args):
    _stop(info.proc, info.pump)
    return module_server(*args)


@pytest.mark.needs_shared_onnx
def test_save_and_restart_keeps_every_type(module_server, onnx_fixtures, tmp_path):
    srv = module_server("--dir", str(tmp_path))
    r = client(srv)
    fill(r, onnx_fixtures)
    assert r.save()
    srv = restart(module_server, srv, "--dir", str(tmp_path))
    check(client(srv))


@pytest.mark.needs_shared_onnx
def test_aof_rewrite_without_preamble_rebuilds_with_commands(module_server, onnx_fixtures, tmp_path):
    args = ("--dir", str(tmp_path), "--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    srv = module_server(*args)
    r = client(srv)
    fill(r, onnx_fixtures)
    assert r.bgrewriteaof()
    deadline = time.time() + 30
    while r.info("persistence")["aof_rewrite_in_progress"] or not list(tmp_path.glob("appendonlydir/*.base.aof")):
        assert time.time() < deadline
        time.sleep(0.05)
    base = next(tmp_path.glob("appendonlydir/*.base.aof")).read_bytes()
    # The rewrite is the commands that rebuild each value (the model's blob in chunks), not the commands run.
    assert b"AI.MODELSTORE" in base and b"AI.SCRIPTSTORE" in base and b"AI.POOLSET" in base
    assert b"AI.MODELEXECUTE" not in base
    srv = restart(module_server, srv, *args)
    check(client(srv))


@pytest.mark.needs_shared_onnx
def test_debug_reload_and_dump_restore(module_server, onnx_fixtures):
    srv = module_server()
    r = client(srv)
    fill(r, onnx_fixtures)
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    check(r)
    for k in ("t", "m", "s", "c", "p"):
        payload = r.dump(k)
        r.delete(k)
        assert r.restore(k, 0, payload)
    check(r)
    # A payload restored under another name is a value of its own there.
    r.restore("t2", 0, r.dump("t"))
    assert r.execute_command("AI.TENSORGET", "t2", "VALUES") == [b"1", b"2", b"3", b"4"]


@pytest.mark.needs_shared_onnx
def test_migrate_moves_every_type_to_another_redis(module_server, onnx_fixtures):
    # What `redis-cli --cluster reshard` does to each key: MIGRATE (DUMP on the source, RESTORE on the target).
    src, dst = module_server(), module_server()
    r, r2 = client(src), client(dst)
    fill(r, onnx_fixtures)
    assert r.execute_command("MIGRATE", dst.host, dst.port, "", 0, 5000, "KEYS", "t", "m", "in", "s", "c", "p") == b"OK"
    assert r.exists("t", "m", "in", "s", "c", "p") == 0
    check(r2)
    # COPY keeps the source's value; REPLACE overwrites a key already there.
    r2.execute_command("AI.CELLSET", "c", "1")
    assert r2.execute_command("MIGRATE", src.host, src.port, "c", 0, 5000, "COPY") == b"OK"
    assert r2.execute_command("AI.CELLSET", "c", "2") == b"OK"
    with pytest.raises(redis.ResponseError, match="BUSYKEY"):
        r2.execute_command("MIGRATE", src.host, src.port, "c", 0, 5000)
    assert r2.execute_command("MIGRATE", src.host, src.port, "c", 0, 5000, "REPLACE") == b"OK"
    assert r.execute_command("AI.CELLGET", "c") == b"2"


@pytest.mark.needs_shared_onnx
def test_replica_gets_effects_serves_ro_dags_and_refuses_writes(module_server, onnx_fixtures):
    primary = module_server()
    replica = module_server("--replicaof", primary.host, str(primary.port))
    p, rr = client(primary), client(replica)
    fill(p, onnx_fixtures)
    deadline = time.time() + 30
    while rr.info("replication").get("master_link_status") != "up" or rr.type("p") != b"AI___POOL":
        assert time.time() < deadline, replica.log_text()
        time.sleep(0.05)

    lines = []
    mon = client(replica).monitor()

    def watch():
        with mon as m:
            for cmd in m.listen():
                lines.append(cmd["command"])
                if "AI.TENSORSET" in cmd["command"] and "out" in cmd["command"]:
                    return

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    time.sleep(0.3)
    assert p.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "in", "OUTPUTS", 1, "out") == b"OK"
    assert p.wait(1, 5000) == 1
    t.join(10)
    seen = " | ".join(lines)
    assert "AI.TENSORSET out FLOAT 1 10 BLOB" in seen, seen
    assert "MODELEXECUTE" not in seen, seen

    # Read-only DAGs run on the replica; writes are refused with Redis's own error.
    reply = rr.execute_command(
        "AI.DAGEXECUTE_RO", "LOAD", 1, "in", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "in", "OUTPUTS", 1, "o",
        "|>", "AI.TENSORGET", "o", "META")
    assert reply[-1][reply[-1].index(b"shape") + 1] == [1, 10]
    with pytest.raises(redis.ReadOnlyError):
        rr.execute_command("AI.TENSORSET", "x", "FLOAT", 1, "VALUES", 1)
    with pytest.raises(redis.ReadOnlyError):
        rr.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "in", "OUTPUTS", 1, "o")


def test_blocked_client_killed_mid_run_leaves_redis_serving(module_server):
    srv = module_server()
    r = client(srv)
    r.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 2, "add", "nap", "SOURCE", SCRIPT)
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 1, "VALUES", 1)
    victim = client(srv, retry=Retry(NoBackoff(), 0))
    victim_id = victim.client_id()
    errors = []

    def call():
        try:
            victim.execute_command("AI.SCRIPTEXECUTE", "s", "nap", "INPUTS", 1, "a", "ARGS", 1, "1.5",
                                   "OUTPUTS", 1, "b")
        except redis.ConnectionError as e:
            errors.append(e)

    t = threading.Thread(target=call)
    t.start()
    deadline = time.time() + 10
    while int(r.info("clients")["blocked_clients"]) < 1:
        assert time.time() < deadline
        time.sleep(0.01)
    assert r.client_kill_filter(_id=victim_id) == 1
    t.join(10)
    assert errors, "the killed client's call should have lost its connection"
    assert r.ping()
    time.sleep(2)  # the runner finishes and unblocks a client that is gone
    assert r.ping()
    assert r.execute_command("AI.SCRIPTEXECUTE", "s", "add", "INPUTS", 2, "a", "a", "OUTPUTS", 1, "c") == b"OK"
    assert r.execute_command("AI.TENSORGET", "c", "VALUES") == [b"2"]


def test_work_finishing_during_client_pause_waits_for_it(module_server):
    """Redis propagates nothing while clients are paused: a commit waits for the pause to end."""
    srv = module_server()
    r = client(srv)
    r.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 2, "add", "nap", "SOURCE", SCRIPT)
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 1, "VALUES", 1)
    caller = client(srv)
    done = []
    t = threading.Thread(target=lambda: done.append(caller.execute_command(
        "AI.SCRIPTEXECUTE", "s", "nap", "INPUTS", 1, "a", "ARGS", 1, "0.3", "OUTPUTS", 1, "b")))
    t.start()
    time.sleep(0.1)
    assert r.execute_command("CLIENT", "PAUSE", 1500, "WRITE")
    time.sleep(0.8)
    assert done == [] and r.ping()
    t.join(10)
    assert done == [b"OK"]
    assert r.execute_command("AI.TENSORGET", "b", "VALUES") == [b"1"]


def test_hostile_inputs_leave_redis_serving(module_server):
    srv = module_server()
    r = client(srv)
    # Key finders with nothing to find (Redis indexes argv with what they report).
    assert r.command_getkeys("AI.MODELEXECUTE", "m") == ["m"]
    for cmd in ("AI.MODELEXECUTE", "AI.SCRIPTEXECUTE", "AI.MODELRUN", "AI.SCRIPTRUN", "AI.DAGEXECUTE"):
        with pytest.raises(redis.ResponseError):
            r.command_getkeys(cmd)
    # A scan meets a key that expired but was not yet removed.
    r.set("gone", "x", px=1)
    r.execute_command("AI.TENSORSET", "t", "FLOAT", 1, "VALUES", 1)
    time.sleep(0.05)
    assert r.execute_command("AI._MODELSCAN") == []
    # AI commands run in database 0 only; the connection stays usable.
    r.execute_command("SELECT", 1)
    with pytest.raises(redis.ResponseError, match="database 0"):
        r.execute_command("AI.TENSORGET", "t", "META")
    r.execute_command("SELECT", 0)
    assert r.execute_command("AI.TENSORGET", "t", "VALUES") == [b"1"]
    # A RESTORE payload that is not ours.
    with pytest.raises(redis.ResponseError):
        r.restore("bad", 0, b"\x07\x81garbage\x0a\x00" + b"\x00" * 8)
    assert r.ping()


@pytest.mark.needs_shared_onnx
def test_keyspace_events_and_dag_completion_messages(module_server, onnx_fixtures):
    """The standalone server's AI events, raised through Redis (`d`: module events), including those of
    work that committed on a worker; an async DAG's status on `__dag__:<id>`."""
    srv = module_server("--notify-keyspace-events", "KEA")
    r = client(srv)
    sub = client(srv).pubsub()
    sub.psubscribe("__keyevent@0__:ai.*", "__dag__:*")
    assert sub.get_message(timeout=5)["type"] == "psubscribe"
    assert sub.get_message(timeout=5)["type"] == "psubscribe"
    fill(r, onnx_fixtures)
    run_id = r.execute_command(
        "AI.DAGRUNASYNC", "LOAD", 1, "in", "PERSIST", 1, "o", "|>", "AI.MODELRUN", "m", "INPUTS", "in",
        "OUTPUTS", "o").decode()
    seen = []
    deadline = time.time() + 20
    while time.time() < deadline and (b"done" not in [m["data"] for m in seen]):
        m = sub.get_message(timeout=1)
        if m and m["type"] == "pmessage":
            seen.append(m)
    events = [(m["channel"], m["data"]) for m in seen]
    for expected in [
        (b"__keyevent@0__:ai.tensorset", b"t"),
        (b"__keyevent@0__:ai.modelstore", b"m"),
        (b"__keyevent@0__:ai.scriptstore", b"s"),
        (b"__keyevent@0__:ai.cellset", b"c"),
        (b"__keyevent@0__:ai.poolset", b"p"),
        (b"__keyevent@0__:ai.tensorset", b"o"),
        (f"__dag__:{run_id}".encode(), b"done"),
    ]:
        assert expected in events, events
    sub.close()


@pytest.mark.parametrize(
    "args, said",
    [
        (["THREADS_PER_QUEUE"], "'THREADS_PER_QUEUE' has no value"),
        (["THREADS_PER_QUEUE", "zero"], "THREADS_PER_QUEUE zero"),
        (["port", "7000"], "unknown argument 'port'"),
    ],
)
def test_bad_load_arguments_refuse_to_load_with_a_reason(args, said, tmp_path):
    proc = subprocess.run(
        ["redis-server", "--port", str(free_port()), "--dir", str(tmp_path), "--loadmodule", str(module_path()), *args],
        capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "tensorcell: bad load argument" in proc.stdout and said in proc.stdout, proc.stdout


def test_load_arguments_and_info_modules(module_server):
    srv = module_server(module_args=["THREADS_PER_QUEUE", "2", "MODEL_EXECUTION_TIMEOUT", "1234",
                                     "script-time-limit", "9000", "BACKENDSPATH", "/opt/backends"])
    r = client(srv)
    text = subprocess.run(["redis-cli", "-p", str(srv.port), "INFO", "modules"], capture_output=True, text=True,
                          timeout=30).stdout
    sections = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    # RedisAI's sections where its readers look for them, then the module's own `ai` section.
    assert sections == ["Modules", "ai_versions", "ai_git", "ai_load_time_configs", "ai_backends_info", "ai_cpu",
                        "ai"]
    assert "ai_tensors:0" in text
    assert "ai_threads_per_queue:2" in text and "ai_model_execution_timeout:1234" in text
    assert r.execute_command("AI.CONFIG", "GET", "BACKENDSPATH") == b"/opt/backends"
    # The AI directives are Redis module configs too.
    assert r.config_get("ai.script-time-limit") == {"ai.script-time-limit": "9000"}
    assert r.config_set("ai.script-time-limit", "500")
    assert r.config_get("ai.script-time-limit") == {"ai.script-time-limit": "500"}
    with pytest.raises(redis.ResponseError, match="immutable"):
        r.config_set("ai.threads-per-queue", "3")
    with pytest.raises(redis.ResponseError, match="one of the following"):
        r.config_set("ai.snapshot-codec", "bogus")


def test_mass_insert_with_redis_cli_pipe(module_server):
    srv = module_server()
    lines = []
    for i in range(2000):
        parts = [b"AI.TENSORSET", b"t%d" % i, b"INT32", b"2", b"VALUES", b"%d" % i, b"%d" % -i]
        lines.append(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
    proc = subprocess.run(["redis-cli", "-p", str(srv.port), "--pipe"], input=b"".join(lines),
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert b"errors: 0, replies: 2000" in proc.stdout
    r = client(srv)
    assert r.dbsize() == 2000
    assert r.execute_command("AI.TENSORGET", "t1999", "VALUES") == [1999, -1999]


def test_core_log_lines_go_to_redis_log(module_server):
    # A warning of the engine core (a native half that does not load) goes through Redis's log (its
    # loglevel, logfile, syslog), marked as a module's line, not straight to redis-server's stdout.
    srv = module_server(module_args=["script-python-native", "/nonexistent/lib_tensorcell_native.so"])
    r = client(srv)
    assert r.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "add", "SOURCE", SCRIPT) == b"OK"
    deadline = time.time() + 10
    while time.time() < deadline and "cannot load their native half" not in srv.log_text():
        time.sleep(0.05)
    lines = [line for line in srv.log_text().splitlines() if "cannot load their native half" in line]
    assert lines, srv.log_text()
    # Redis's own line format: pid:role date time level-mark <module> text.
    assert " # <module> Python script runners cannot load" in lines[0], lines[0]


ACL_SCRIPT = """
# fastscore.input: int
# fastscore.output: int
def write(tensors, keys, args):
    redis.execute("SET", keys[0] if keys else args[0], "from-script")
    return tensors[0]
def action(x):
    redis.execute("SET", "scored", str(x))
    yield x
"""


def test_redis_execute_runs_with_the_callers_acl_rights(module_server):
    # A script's redis.execute is checked against the ACL rules of the client that ran the script: one that
    # may not SET gets Redis's ACL refusal from its script (and nothing is written); the default user's writes.
    srv = module_server()
    admin = client(srv)
    admin.execute_command("ACL", "SETUSER", "bob", "on", ">pw", "~*", "&*", "+@all", "-set")
    assert admin.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 2, "write", "action",
                                 "SOURCE", ACL_SCRIPT) == b"OK"
    admin.execute_command("AI.TENSORSET", "t", "FLOAT", 1, "VALUES", 1)
    bob = client(srv, username="bob", password="pw")
    with pytest.raises(redis.ResponseError, match="acl verification failed"):
        bob.execute_command("AI.SCRIPTEXECUTE", "s", "write", "KEYS", 1, "k", "INPUTS", 1, "t", "OUTPUTS", 1, "o")
    assert admin.exists("k", "o") == 0
    # A DAG answers its op's error in its reply.
    (op,) = bob.execute_command("AI.DAGEXECUTE", "LOAD", 1, "t", "|>", "AI.SCRIPTEXECUTE", "s", "write", "INPUTS", 1,
                                "t", "OUTPUTS", 1, "o", "ARGS", 1, "k")
    assert isinstance(op, redis.ResponseError) and "acl verification failed" in str(op), op
    with pytest.raises(redis.ResponseError, match="acl verification failed"):
        bob.execute_command("AI.SCORE", "s", "RECORDS", 1, "5")
    assert admin.exists("k", "o", "scored") == 0
    # The same calls by a user who may.
    assert admin.execute_command("AI.SCRIPTEXECUTE", "s", "write", "KEYS", 1, "k", "INPUTS", 1, "t",
                                 "OUTPUTS", 1, "o") == b"OK"
    assert admin.get("k") == b"from-script"
    assert admin.execute_command("AI.SCORE", "s", "RECORDS", 1, "5") == [5]
    assert admin.get("scored") == b"5"


def test_redisai_onnx_load_argument_loads_onnxruntime(module_server):
    # RedisAI's `ONNX <path>` load argument, naming libonnxruntime.so itself: models run on ONNX Runtime, and
    # INFO modules reports its version.
    import onnxruntime

    capi = pathlib.Path(onnxruntime.__file__).parent / "capi"
    lib = next(capi.glob("libonnxruntime.so.*"))
    srv = module_server(module_args=["ONNX", str(lib), "INTER_OP_PARALLELISM", "2"])
    r = client(srv)
    blob = (pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "models" / "linear.onnx").read_bytes()
    assert r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", blob) == b"OK"
    info = r.execute_command("AI.INFO", "m")
    assert dict(zip(info[::2], info[1::2]))[b"runtime"] == b"onnxruntime"
    modules = r.info("modules")
    assert modules["ai_onnxruntime_version"] == onnxruntime.__version__
    assert modules["ai_inter_op_parallelism"] == 2
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 4, "VALUES", 1, 2, 3, 4)
    assert r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y") == b"OK"
