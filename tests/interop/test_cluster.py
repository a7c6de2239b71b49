"""The module on a Redis Cluster: 3 masters and 3 replicas on loopback, started with scripts/cluster.

redis-py's ``RedisCluster`` routes each AI command by the keys the module reports (COMMAND GETKEYS through
its getkeys-api), so hash-tagged models, tensors, DAGs and scripts with their cells live and run on the
shard that owns their slot, and a command whose keys span slots is refused with CROSSSLOT, as Redis refuses
its own. Runs once, in the standalone pass of scripts/test (it starts its own redis-servers).
"""

from __future__ import annotations

import pathlib
import random
import re
import socket
import subprocess
import tempfile
import threading
import time

import numpy as np
import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from conftest import FRONT, module_path

pytestmark = pytest.mark.skipif(
    FRONT == "module", reason="cluster tests run once, in the standalone pass of scripts/test"
)

REPO = pathlib.Path(__file__).resolve().parents[2]
CLUSTER = REPO / "scripts" / "cluster"
ADD = (REPO / "tests" / "fixtures" / "models" / "add.onnx").read_bytes()

CELL_MODEL = """# fastscore.input: int
# fastscore.output: int
import fastscore

def begin():
    global total
    total = fastscore.cells("total{%s}")
    total.set(0)

def action(x):
    yield total.update(lambda v: v + x)
"""


def free_base() -> int:
    """A base port with it and the next five free, and their cluster bus ports (+10000)."""
    for _ in range(200):
        # Bus ports (+10000) stay below Linux's ephemeral range (32768-), so nothing takes them meanwhile.
        base = random.randrange(10000, 18000)
        try:
            socks = []
            for p in [*range(base, base + 6), *range(base + 10000, base + 10006)]:
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no six free ports")


@pytest.fixture(scope="module")
def cluster():
    so = module_path()
    if not so.is_file():
        pytest.fail(f"module not found: {so} (build it with `cargo build --workspace`)", pytrace=False)
    base = free_base()
    d = tempfile.mkdtemp(prefix="tensorcell-cluster-")
    args = ["--port", str(base), "--dir", d, "--module", str(so)]
    try:
        started = subprocess.run([str(CLUSTER), "start", *args], capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stdout + started.stderr
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", base)], socket_timeout=30)
        yield rc, pathlib.Path(d)
        rc.close()
    finally:
        subprocess.run([str(CLUSTER), "stop", "--dir", d], capture_output=True, timeout=60)


def values(rc: RedisCluster, key: str) -> list[float]:
    """AI.TENSORGET VALUES as floats (RESP3 doubles or RESP2 strings alike)."""
    return [float(v) for v in rc.execute_command("AI.TENSORGET", key, "VALUES")]


def master_of(rc: RedisCluster, key: str) -> int:
    return rc.get_node_from_key(key).port


def test_hash_tagged_model_and_tensors_run_on_every_shard(cluster):
    rc, _ = cluster
    tags = ["a", "b", "c"]  # slots 15495, 3300, 7365: one per master
    assert len({master_of(rc, f"m{{{t}}}") for t in tags}) == 3
    for i, t in enumerate(tags):
        rc.execute_command("AI.MODELSTORE", f"m{{{t}}}", "ONNX", "CPU", "BLOB", ADD)
        rc.execute_command("AI.TENSORSET", f"x{{{t}}}", "FLOAT", 2, "VALUES", i, 1)
        assert rc.execute_command("AI.MODELEXECUTE", f"m{{{t}}}", "INPUTS", 2, f"x{{{t}}}", f"x{{{t}}}",
                                  "OUTPUTS", 1, f"y{{{t}}}") == b"OK"
        assert values(rc, f"y{{{t}}}") == [2 * i, 2]
        # Both DAG forms: keys decide the slot.
        reply = rc.execute_command("AI.DAGEXECUTE", "LOAD", 1, f"x{{{t}}}", "PERSIST", 1, f"z{{{t}}}", "|>",
                                   "AI.MODELEXECUTE", f"m{{{t}}}", "INPUTS", 2, f"x{{{t}}}", f"x{{{t}}}",
                                   "OUTPUTS", 1, f"z{{{t}}}")
        assert reply == [b"OK"]
        assert values(rc, f"z{{{t}}}") == [2 * i, 2]
        # The original form: its plain (non-volatile) names are keys, loaded and persisted.
        reply = rc.execute_command("AI.DAGRUN", "TENSORSET", "~one~", "FLOAT", 2, "VALUES", 1, 1, "=>",
                                   "MODELRUN", f"m{{{t}}}", "INPUTS", f"x{{{t}}}", "~one~", "OUTPUTS", f"w{{{t}}}")
        assert reply == [b"OK", b"OK"]
        assert values(rc, f"w{{{t}}}") == [i + 1, 2]
        # ROUTING alone decides the shard of a DAG that names no key.
        reply = rc.execute_command("AI.DAGEXECUTE", "ROUTING", f"r{{{t}}}", "|>", "AI.TENSORSET", "v", "FLOAT", 1,
                                   "VALUES", i, "|>", "AI.TENSORGET", "v", "VALUES")
        assert reply[0] == b"OK" and [float(v) for v in reply[1]] == [i]
        # The value lives on the master owning its slot only.
        owner = rc.get_node_from_key(f"z{{{t}}}")
        # (KEYS is never redirected, so it lists what each node holds.)
        for n in rc.get_primaries():
            held = rc.get_redis_connection(n).keys("*")
            assert (f"z{{{t}}}".encode() in held) == (n.port == owner.port), (n.port, held)


def test_commands_across_slots_are_refused_with_crossslot(cluster):
    rc, _ = cluster
    rc.execute_command("AI.MODELSTORE", "m{a}", "ONNX", "CPU", "BLOB", ADD)
    rc.execute_command("AI.TENSORSET", "x{a}", "FLOAT", 2, "VALUES", 1, 1)
    node = rc.get_node_from_key("m{a}")
    direct = redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=30)
    # Sent to the right node for its first key, the rest of another slot: Redis's own -CROSSSLOT refusal
    # (redis-py raises ClusterCrossSlotError for that prefix).
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        direct.execute_command("AI.MODELEXECUTE", "m{a}", "INPUTS", 2, "x{a}", "x{a}", "OUTPUTS", 1, "q{b}")
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        direct.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x{a}", "PERSIST", 1, "q{b}", "|>",
                               "AI.MODELEXECUTE", "m{a}", "INPUTS", 2, "x{a}", "x{a}", "OUTPUTS", 1, "q{b}")
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        direct.execute_command("AI.DAGRUN", "TENSORGET", "x{a}", "VALUES", "=>", "TENSORSET", "q{b}", "FLOAT", 1,
                               "VALUES", 1)
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        direct.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x{a}", "ROUTING", "r{b}", "|>", "AI.TENSORGET", "x{a}",
                               "VALUES")
    # A DAG naming no key has nothing to route it by: RedisAI's rule.
    with pytest.raises(redis.ResponseError, match="must contain at least one out of ROUTING, LOAD, PERSIST"):
        direct.execute_command("AI.DAGEXECUTE", "|>", "AI.TENSORSET", "v", "FLOAT", 1, "VALUES", 1)
    assert all(b"q{b}" not in rc.get_redis_connection(n).keys("*") for n in rc.get_primaries())
    # A key of a slot this node does not serve: MOVED to its owner.
    owner = rc.get_node_from_key("x{b}").port
    other = next(n for n in rc.get_primaries() if n.port != owner)
    for cmd in (["AI.TENSORGET", "x{b}", "VALUES"],
                ["AI.MODELEXECUTE", "m{b}", "INPUTS", 1, "x{b}", "OUTPUTS", 1, "q{b}"],
                ["AI.DAGEXECUTE", "ROUTING", "r{b}", "|>", "AI.TENSORSET", "t", "FLOAT", 1, "VALUES", 1]):
        with pytest.raises(redis.exceptions.MovedError, match=f"^3300 127.0.0.1:{owner}$"):
            redis.Redis(host="127.0.0.1", port=other.port, socket_timeout=30).execute_command(*cmd)


def test_a_script_and_its_cells_on_one_slot(cluster):
    rc, _ = cluster
    for t in ("a", "b"):
        assert rc.execute_command("AI.SCRIPTSTORE", f"score{{{t}}}", "CPU", "ENTRY_POINTS", 1, "action",
                                  "SOURCE", CELL_MODEL % t) == b"OK"
        for n in (1, 2, 3):
            rc.execute_command("AI.SCORE", f"score{{{t}}}", "RECORDS", 1, n)
        assert rc.execute_command("AI.CELLGET", f"total{{{t}}}") == b"6"
        # The cell is a key on the script's shard.
        owner = rc.get_node_from_key(f"score{{{t}}}")
        assert rc.get_redis_connection(owner).type(f"total{{{t}}}") == b"AI___CELL"


REACHING_SCRIPT = """# fastscore.input: int
# fastscore.output: int
import fastscore

def cell(tensors, keys, args):
    fastscore.cells(args[0]).set(1)
    return tensors[0]

def pool(tensors, keys, args):
    fastscore.pools(args[0]).set("f", 1)
    return tensors[0]

def command(tensors, keys, args):
    redis.execute("SET", args[0], "from-script")
    return tensors[0]

def flush(tensors, keys, args):
    redis.execute("FLUSHALL")
    return tensors[0]

def action(x):
    fastscore.cells("far{b}").set(x)
    yield x
"""


def test_a_script_touching_another_slot_is_refused(cluster):
    # Script "reach{a}" (slot 15495) touching keys of slot 3300 ({b}): a CROSSSLOT error, nothing written
    # anywhere; the same callbacks on its own slot work.
    rc, _ = cluster
    assert rc.execute_command("AI.SCRIPTSTORE", "reach{a}", "CPU", "ENTRY_POINTS", 5, "cell", "pool", "command",
                              "flush", "action", "SOURCE", REACHING_SCRIPT) == b"OK"
    rc.execute_command("AI.TENSORSET", "in{a}", "FLOAT", 1, "VALUES", 1)
    for fn in ("cell", "pool", "command"):
        with pytest.raises(redis.ResponseError, match=r"CROSSSLOT .*script 'reach\{a\}' \(slot 15495\) touched "
                                                      r"'far\{b\}' \(slot 3300\)"):
            rc.execute_command("AI.SCRIPTEXECUTE", "reach{a}", fn, "INPUTS", 1, "in{a}", "OUTPUTS", 1, "out{a}",
                               "ARGS", 1, "far{b}")
    # A key of another slot that the same master serves: Redis itself would let the call through.
    owner = rc.get_node_from_key("reach{a}").port
    same = next(f"x{{n{i}}}" for i in range(100_000) if key_slot(f"n{i}".encode()) != key_slot(b"a")
                and rc.get_node_from_key(f"x{{n{i}}}").port == owner)
    for fn in ("cell", "pool", "command"):
        with pytest.raises(redis.ResponseError, match=r"CROSSSLOT .*touched '" + re.escape(same) + "'"):
            rc.execute_command("AI.SCRIPTEXECUTE", "reach{a}", fn, "INPUTS", 1, "in{a}", "OUTPUTS", 1, "out{a}",
                               "ARGS", 1, same)
    rc.set("keep{a}", "kept")
    with pytest.raises(redis.ResponseError, match="CROSSSLOT a script on a Redis Cluster may not run FLUSHALL"):
        rc.execute_command("AI.SCRIPTEXECUTE", "reach{a}", "flush", "INPUTS", 1, "in{a}", "OUTPUTS", 1, "out{a}")
    assert rc.get("keep{a}") == b"kept"
    with pytest.raises(redis.ResponseError, match="CROSSSLOT"):
        rc.execute_command("AI.SCORE", "reach{a}", "RECORDS", 1, 5)
    (op,) = rc.execute_command("AI.DAGEXECUTE", "LOAD", 1, "in{a}", "|>", "AI.SCRIPTEXECUTE", "reach{a}", "cell",
                               "INPUTS", 1, "in{a}", "OUTPUTS", 1, "out{a}", "ARGS", 1, "far{b}")
    assert isinstance(op, redis.ResponseError) and "CROSSSLOT" in str(op), op
    for n in rc.get_primaries():
        held = rc.get_redis_connection(n).keys("*")
        assert not {b"far{b}", same.encode(), b"out{a}"} & set(held), (n.port, held)
    # Its own slot: each callback lands.
    for fn, key in (("cell", "near{a}"), ("pool", "pool{a}"), ("command", "str{a}")):
        assert rc.execute_command("AI.SCRIPTEXECUTE", "reach{a}", fn, "INPUTS", 1, "in{a}", "OUTPUTS", 1,
                                  "out{a}", "ARGS", 1, key) == b"OK"
    assert rc.execute_command("AI.CELLGET", "near{a}") == b"1"
    assert rc.execute_command("AI.POOLGET", "pool{a}", "f") == b"1"
    assert rc.get("str{a}") == b"from-script"


def tag_in_slot(slot: int) -> str:
    """A hash tag whose keys hash to `slot`."""
    for i in range(1_000_000):
        if key_slot(f"t{i}".encode()) == slot:
            return f"t{i}"
    raise AssertionError(f"no tag found for slot {slot}")


def first_slot(port: int) -> int:
    """The lowest slot the master on `port` serves (the one `reshard --cluster-slots 1` moves first)."""
    nodes = redis.Redis(host="127.0.0.1", port=port).execute_command("CLUSTER", "NODES").decode()
    me = next(line.split() for line in nodes.splitlines() if "myself" in line.split()[2])
    return min(int(r.split("-")[0]) for r in me[8:] if not r.startswith("["))


def node_id(port: int) -> str:
    return redis.Redis(host="127.0.0.1", port=port).execute_command("CLUSTER", "MYID").decode()


def test_resharding_moves_every_ai_type_intact(cluster):
    # `redis-cli --cluster reshard` moves a master's first slot, holding a tensor, a model, a script with
    # its runner and begin()'s cell, and a pool, to another master (MIGRATE with the types' DUMP/RESTORE).
    rc, _ = cluster
    src, dst = sorted(rc.get_primaries(), key=lambda n: n.port)[:2]
    slot = first_slot(src.port)
    t = tag_in_slot(slot)
    tensor = np.arange(6, dtype=np.float32).reshape(2, 3).tobytes()
    rc.execute_command("AI.TENSORSET", f"x{{{t}}}", "FLOAT", 2, 3, "BLOB", tensor)
    rc.execute_command("AI.MODELSTORE", f"m{{{t}}}", "ONNX", "CPU", "TAG", "v1", "BLOB", ADD)
    rc.execute_command("AI.SCRIPTSTORE", f"score{{{t}}}", "CPU", "ENTRY_POINTS", 1, "action", "SOURCE", CELL_MODEL % t)
    assert rc.execute_command("AI.SCORE", f"score{{{t}}}", "RECORDS", 2, 4, 5) == [4, 9]
    rc.execute_command("AI.POOLSET", f"p{{{t}}}", "alpha", '{"n": [1, 2]}')
    moved = subprocess.run(["redis-cli", "--cluster", "reshard", f"127.0.0.1:{src.port}", "--cluster-from",
                            node_id(src.port), "--cluster-to", node_id(dst.port), "--cluster-slots", "1",
                            "--cluster-yes"], capture_output=True, text=True, timeout=120)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    old = redis.Redis(host="127.0.0.1", port=src.port, socket_timeout=30)
    # The old owner redirects every call on those keys, a running script's included.
    with pytest.raises(redis.exceptions.MovedError, match=f"^{slot} 127.0.0.1:{dst.port}$"):
        old.execute_command("AI.SCORE", f"score{{{t}}}", "RECORDS", 1, 1)
    assert old.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    rc.nodes_manager.initialize()
    assert rc.get_node_from_key(f"x{{{t}}}").port == dst.port
    assert rc.execute_command("AI.TENSORGET", f"x{{{t}}}", "BLOB") == tensor
    meta = rc.execute_command("AI.MODELGET", f"m{{{t}}}", "META")
    assert meta[meta.index(b"tag") + 1] == b"v1"
    assert rc.execute_command("AI.MODELGET", f"m{{{t}}}", "BLOB") == ADD
    assert rc.execute_command("AI.SCRIPTGET", f"score{{{t}}}", "SOURCE") == (CELL_MODEL % t).encode()
    assert rc.execute_command("AI.CELLGET", f"total{{{t}}}") == b"9"
    assert rc.execute_command("AI.POOLGET", f"p{{{t}}}", "alpha") == b'{"n":[1,2]}'
    # They run on their new master: begin() is not run again, so the cell goes on from 9.
    rc.execute_command("AI.TENSORSET", f"two{{{t}}}", "FLOAT", 2, "VALUES", 3, 4)
    rc.execute_command("AI.MODELEXECUTE", f"m{{{t}}}", "INPUTS", 2, f"two{{{t}}}", f"two{{{t}}}", "OUTPUTS", 1,
                       f"y{{{t}}}")
    assert values(rc, f"y{{{t}}}") == [6, 8]
    assert rc.execute_command("AI.SCORE", f"score{{{t}}}", "RECORDS", 1, 1) == [10]


def test_failover_keeps_models_and_every_acknowledged_cell_update(cluster):
    # kill -9 a master while a client scores against its script, each call followed by WAIT 1: once Redis
    # Cluster promotes its replica, the model runs there at once and the cell holds every update whose WAIT
    # said a replica had it (begin() is not run again: the cell is not reset).
    rc, d = cluster
    t = "f"
    master = rc.get_node_from_key(f"score{{{t}}}")
    direct = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=30)
    # Stored through the connection that then WAITs, so the WAIT covers them.
    direct.execute_command("AI.MODELSTORE", f"m{{{t}}}", "ONNX", "CPU", "BLOB", ADD)
    direct.execute_command("AI.TENSORSET", f"x{{{t}}}", "FLOAT", 2, "VALUES", 1, 2)
    direct.execute_command("AI.SCRIPTSTORE", f"score{{{t}}}", "CPU", "ENTRY_POINTS", 1, "action", "SOURCE",
                           CELL_MODEL % t)
    assert direct.execute_command("WAIT", 1, 5000) >= 1
    acked, sent, stop = [0], [0], threading.Event()

    def load():
        while not stop.is_set():
            try:
                sent[0] += 1
                direct.execute_command("AI.SCORE", f"score{{{t}}}", "RECORDS", 1, 1)
                if direct.execute_command("WAIT", 1, 5000) >= 1:
                    acked[0] += 1
            except (redis.ConnectionError, redis.TimeoutError):
                return
            time.sleep(0.005)

    worker = threading.Thread(target=load)
    worker.start()
    deadline = time.time() + 30
    while acked[0] < 50 and time.time() < deadline:
        time.sleep(0.05)
    assert acked[0] >= 50, "the load made no progress"
    pid = int((d / str(master.port) / "redis.pid").read_text())
    subprocess.run(["kill", "-9", str(pid)], check=True)
    worker.join(timeout=60)
    stop.set()
    # Every other node, replicas included (the cluster client knows only the masters it routes to).
    survivors = [int(p) for p in (d / "ports").read_text().split() if int(p) != master.port]
    # Promotion: a former replica now serves the slot.
    promoted = None
    deadline = time.time() + 60
    while promoted is None and time.time() < deadline:
        for n in survivors:
            try:
                conn = redis.Redis(host="127.0.0.1", port=n, socket_timeout=5)
                if (conn.execute_command("ROLE")[0] == b"master"
                        and conn.execute_command("CLUSTER", "COUNTKEYSINSLOT", key_slot(b"f")) > 0
                        and conn.execute_command("CLUSTER", "INFO").decode().find("cluster_state:ok") >= 0):
                    promoted = conn
            except redis.RedisError:
                pass
        time.sleep(0.2)
    assert promoted is not None, ("no replica was promoted", survivors, master.port)
    total = int(promoted.execute_command("AI.CELLGET", f"total{{{t}}}"))
    assert acked[0] <= total <= sent[0], (acked[0], total, sent[0])
    assert promoted.execute_command("AI.MODELEXECUTE", f"m{{{t}}}", "INPUTS", 2, f"x{{{t}}}", f"x{{{t}}}",
                                    "OUTPUTS", 1, f"y{{{t}}}") == b"OK"
    assert [float(v) for v in promoted.execute_command("AI.TENSORGET", f"y{{{t}}}", "VALUES")] == [2, 4]
    assert promoted.execute_command("AI.SCORE", f"score{{{t}}}", "RECORDS", 1, 1) == [total + 1]
