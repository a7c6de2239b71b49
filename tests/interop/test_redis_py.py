"""tensorcell-server driven through redis-py 8, the way a Python application would use it.

The ``r`` fixture is a plain ``redis.Redis`` (redis-py 8 defaults to RESP3 and opens with
HELLO 3); tests marked with the ``proto`` parametrisation run under RESP2 and RESP3.
"""

import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError, WatchError
from redis.retry import Retry

# redis-py retries connection errors (AuthenticationError is one) with backoff by default.
NO_RETRY = Retry(NoBackoff(), 0)


def wait_for(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def next_message(pubsub, timeout=5.0):
    """Next non-subscribe message from a PubSub, or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if msg is not None:
            return msg
    return None


def confirm_subscriptions(pubsub, count, timeout=5.0):
    """Read the (p)subscribe confirmations so that later publishes cannot race them."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        msg = pubsub.get_message(timeout=0.2)
        if msg is not None:
            got.append(msg)
    assert len(got) == count, f"expected {count} subscribe confirmations, got {got}"
    return got


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def proto_client(request, make_client):
    """A client for each protocol, on a flushed server."""
    c = make_client(protocol=request.param)
    c.flushall()
    return c


@pytest.fixture
def notify_events(r):
    """Set notify-keyspace-events for one test and restore it afterwards."""
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]

    def setter(value):
        assert r.config_set("notify-keyspace-events", value) is True

    yield setter
    r.config_set("notify-keyspace-events", old)


# --------------------------------------------------------------------------------------
# Connection / protocol
# --------------------------------------------------------------------------------------


def test_default_client_negotiates_resp3(r):
    assert r.ping() is True
    assert r.client_info()["resp"] == "3"  # the pooled connection was opened with HELLO 3
    hello = r.execute_command("HELLO", 3)
    assert hello[b"proto"] == 3
    assert hello[b"server"] == b"redis"
    assert isinstance(hello[b"version"], bytes)


def test_resp2_client_works(make_client):
    c = make_client(protocol=2)
    c.flushall()
    assert c.ping() is True
    assert c.set("k", "v") is True
    assert c.get("k") == b"v"
    # HELLO 2 is a flat list under RESP2; redis-py parses it into a dict.
    info = c.client_info()
    assert info["resp"] == "2"


@pytest.mark.parametrize("proto", [2, 3])
def test_client_info_reports_protocol(make_client, proto):
    c = make_client(protocol=proto)
    assert c.client_info()["resp"] == str(proto)


def test_resp2_and_resp3_clients_see_same_data(proto_client, make_client):
    proto = proto_client.connection_pool.connection_kwargs["protocol"]
    other = make_client(protocol=5 - proto)  # the other protocol
    proto_client.mset({"a": "1", "b": "2"})
    assert other.mget("a", "b", "missing") == [b"1", b"2", None]
    assert proto_client.incrbyfloat("f", 1.5) == 1.5
    assert other.incrbyfloat("f", 1.25) == 2.75
    assert proto_client.expire("a", 100) is True
    assert 0 < other.ttl("a") <= 100
    assert proto_client.ttl("missing") == -2
    assert sorted(other.keys("*")) == [b"a", b"b", b"f"]
    assert proto_client.exists("a", "b", "missing") == 2
    assert proto_client.type("a") == b"string"
    assert proto_client.type("missing") == b"none"
    assert other.dbsize() == 3


def test_decode_responses(make_client):
    c = make_client(decode_responses=True)
    c.flushall()
    c.set("greeting", "héllo wörld")
    assert c.get("greeting") == "héllo wörld"
    assert c.strlen("greeting") == len("héllo wörld".encode())
    assert c.mget("greeting", "nope") == ["héllo wörld", None]


def test_ping_echo_time(r):
    assert r.ping() is True
    assert r.echo("hi there") == b"hi there"
    secs, micros = r.time()
    assert abs(secs - time.time()) < 5
    assert 0 <= micros < 1_000_000


@pytest.mark.standalone_only
def test_select(r, make_client):
    """tensorcell has a single database (design: `SELECT 0` only)."""
    assert r.execute_command("SELECT", 0) in (True, b"OK", "OK")
    c = make_client(db=0)  # redis-py sends SELECT only for db != 0
    c.set("k", "zero")
    assert r.get("k") == b"zero"
    with pytest.raises(ResponseError) as e:
        r.execute_command("SELECT", 1)
    assert str(e.value) == "DB index is out of range"


def test_auth_with_requirepass(start_server):
    srv = start_server("--requirepass", "s3cret")
    for proto in (2, 3):
        # RESP2: the first command fails with NOAUTH. RESP3: redis-py's HELLO 3 fails with
        # "-NOAUTH HELLO must be called with the client already authenticated ...".
        anon = redis.Redis(host=srv.host, port=srv.port, protocol=proto, socket_timeout=10,
                           retry=NO_RETRY)
        try:
            with pytest.raises(AuthenticationError):
                anon.get("x")
        finally:
            anon.close()
    # redis-py sends HELLO 3 AUTH default <password> under RESP3 and AUTH under RESP2.
    for proto in (2, 3):
        bad = redis.Redis(host=srv.host, port=srv.port, password="wrong", protocol=proto,
                          socket_timeout=10, retry=NO_RETRY)
        try:
            with pytest.raises(AuthenticationError):
                bad.ping()
        finally:
            bad.close()
        good = redis.Redis(host=srv.host, port=srv.port, password="s3cret", protocol=proto,
                           socket_timeout=10)
        try:
            assert good.ping() is True
            assert good.set("x", "1") is True
            assert good.get("x") == b"1"
        finally:
            good.close()


# --------------------------------------------------------------------------------------
# Strings and expiry
# --------------------------------------------------------------------------------------


def test_set_get_binary_safe(r):
    value = bytes(range(256)) * 4 + b"\x00\r\n$5\r\n"
    assert r.set(b"bin\x00key", value) is True
    assert r.get(b"bin\x00key") == value
    assert r.strlen(b"bin\x00key") == len(value)
    assert r.get("missing") is None


def test_large_value(r):
    value = b"x" * (4 * 1024 * 1024) + b"end"
    r.set("big", value)
    assert r.get("big") == value


def test_set_options(r):
    assert r.set("k", "v1", nx=True) is True
    assert r.set("k", "v2", nx=True) is None
    assert r.get("k") == b"v1"
    assert r.set("other", "x", xx=True) is None
    assert r.exists("other") == 0
    assert r.set("k", "v3", xx=True) is True
    assert r.set("k", "v4", get=True) == b"v3"
    assert r.set("fresh", "v", get=True) is None
    assert r.setnx("k", "nope") is False
    assert r.setnx("n", "yes") is True
    assert r.getdel("n") == b"yes"
    assert r.exists("n") == 0
    assert r.append("k", "-tail") == len("v4-tail")
    assert r.get("k") == b"v4-tail"


def test_set_ex_and_ttl(r):
    assert r.set("k", "v", ex=100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 98_000 < r.pttl("k") <= 100_000
    assert r.set("p", "v", px=1500) is True
    assert 0 < r.pttl("p") <= 1500
    assert r.ttl("p") in (1, 2)
    assert r.set("noexp", "v") is True
    assert r.ttl("noexp") == -1
    assert r.ttl("missing") == -2
    assert r.pttl("missing") == -2


def test_keepttl_and_persist(r):
    r.set("k", "v", ex=100)
    r.set("k", "v2", keepttl=True)
    assert 0 < r.ttl("k") <= 100
    r.set("k", "v3")  # plain SET clears the TTL
    assert r.ttl("k") == -1
    r.expire("k", 50)
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False


def test_expire_variants(r):
    r.set("a", 1)
    assert r.expire("a", 100) is True
    assert 0 < r.ttl("a") <= 100
    assert r.pexpire("a", 5000) is True
    assert 0 < r.pttl("a") <= 5000
    now = int(time.time())
    assert r.expireat("a", now + 200) is True
    assert 190 <= r.ttl("a") <= 200
    assert r.pexpireat("a", (now + 300) * 1000) is True
    assert 290 <= r.ttl("a") <= 300
    assert r.expire("missing", 10) is False


def test_px_expiry_removes_key(r):
    r.set("short", "v", px=100)
    r.set("long", "v", ex=100)
    assert r.get("short") == b"v"
    time.sleep(0.3)
    assert r.get("short") is None
    assert r.exists("short") == 0
    assert r.ttl("short") == -2
    assert r.get("long") == b"v"


def test_expire_in_past_deletes(r):
    r.set("k", "v")
    assert r.expireat("k", int(time.time()) - 10) is True
    assert r.exists("k") == 0


def test_counters(r):
    assert r.incr("c") == 1
    assert r.incr("c") == 2
    assert r.incrby("c", 40) == 42
    assert r.decr("c") == 41
    assert r.decrby("c", 50) == -9
    assert r.get("c") == b"-9"
    assert r.incrbyfloat("f", 0.5) == 0.5
    assert r.incrbyfloat("f", "1e3") == 1000.5
    r.set("big", 2**63 - 2)
    assert r.incr("big") == 2**63 - 1
    with pytest.raises(ResponseError, match="increment or decrement would overflow"):
        r.incr("big")


def test_mget_mset(r):
    assert r.mset({"a": "1", "b": b"\x00two", "c": 3}) is True
    assert r.mget("a", "b", "c", "missing") == [b"1", b"\x00two", b"3", None]
    assert r.mget(["a", "missing", "c"]) == [b"1", None, b"3"]


# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------


def test_key_commands(r):
    r.mset({"user:1": "a", "user:2": "b", "item:1": "c"})
    assert sorted(r.keys("user:*")) == [b"user:1", b"user:2"]
    assert r.exists("user:1", "user:1", "nope") == 2
    assert r.delete("user:1", "nope") == 1
    assert r.unlink("user:2") == 1
    assert r.rename("item:1", "item:9") is True
    assert r.get("item:9") == b"c"
    assert r.randomkey() == b"item:9"
    with pytest.raises(ResponseError, match="no such key"):
        r.rename("nope", "x")
    r.flushdb()
    assert r.randomkey() is None


def test_scan_iter_returns_all_keys(r):
    expected = {f"key:{i}".encode() for i in range(1000)}
    pipe = r.pipeline(transaction=False)
    for k in expected:
        pipe.set(k, "v")
    pipe.set("other", "v")
    pipe.execute()
    assert set(r.scan_iter(match="key:*", count=37)) == expected
    assert set(r.scan_iter(count=100)) == expected | {b"other"}
    assert set(r.scan_iter(match="key:99*")) == {b"key:99"} | {f"key:99{i}".encode() for i in range(10)}


def test_scan_iter_type_filter(r):
    r.set("s", "v")
    r.execute_command("AI.TENSORSET", "t", "FLOAT", 1, "VALUES", 1)
    assert set(r.scan_iter(_type="string")) == {b"s"}


def test_type_of_tensor_is_ai_tensor(r):
    assert r.execute_command("AI.TENSORSET", "t", "FLOAT", 2, 2, "VALUES", 1, 2, 3, 4) in (b"OK", "OK", True)
    assert r.type("t") == b"AI_TENSOR"
    r.set("s", "v")
    assert r.type("s") == b"string"
    assert r.type("missing") == b"none"


# --------------------------------------------------------------------------------------
# Pipelines and transactions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transaction", [False, True], ids=["plain", "multi"])
def test_pipeline_100_commands(r, transaction):
    pipe = r.pipeline(transaction=transaction)
    expected = []
    for i in range(25):
        pipe.set(f"k{i}", i)
        expected.append(True)
        pipe.incr(f"k{i}")
        expected.append(i + 1)
        pipe.get(f"k{i}")
        expected.append(str(i + 1).encode())
        pipe.incrby("total", i)
        expected.append(sum(range(i + 1)))
    assert len(pipe) == 100
    assert pipe.execute() == expected
    assert r.get("total") == str(sum(range(25))).encode()


def test_pipeline_error_in_transaction_does_not_abort(r):
    r.set("s", "not a number")
    pipe = r.pipeline(transaction=True)
    pipe.set("a", 1)
    pipe.incr("s")
    pipe.incr("a")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True
    assert isinstance(res[1], ResponseError)
    assert "value is not an integer or out of range" in str(res[1])
    assert res[2] == 2


def test_pipeline_raises_on_error(r):
    r.set("s", "x")
    pipe = r.pipeline(transaction=False)
    pipe.set("a", 1).incr("s").get("a")
    with pytest.raises(ResponseError, match="value is not an integer or out of range"):
        pipe.execute()
    assert r.get("a") == b"1"


def test_watch_conflict_raises_watch_error(r, make_client):
    other = make_client()
    r.set("balance", 100)
    with r.pipeline() as pipe:
        pipe.watch("balance")
        current = int(pipe.get("balance"))
        other.set("balance", 5)  # conflicting write from another connection
        pipe.multi()
        pipe.set("balance", current + 10)
        with pytest.raises(WatchError):
            pipe.execute()
    assert r.get("balance") == b"5"


def test_watch_without_conflict_commits(r):
    r.set("balance", 100)
    with r.pipeline() as pipe:
        pipe.watch("balance")
        current = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", current + 10)
        pipe.get("balance")
        assert pipe.execute() == [True, b"110"]


def test_transaction_helper_retries_on_conflict(r, make_client):
    other = make_client()
    r.set("n", 0)
    attempts = []

    def work(pipe):
        value = int(pipe.get("n"))
        attempts.append(value)
        if len(attempts) == 1:
            other.incr("n")  # first attempt loses the race
        pipe.multi()
        pipe.set("n", value + 100)

    r.transaction(work, "n")
    assert attempts == [0, 1]
    assert r.get("n") == b"101"


def test_watch_detects_expiry_and_delete(r, make_client):
    other = make_client()
    r.set("k", "v")
    with r.pipeline() as pipe:
        pipe.watch("k")
        other.delete("k")
        pipe.multi()
        pipe.set("k", "mine")
        with pytest.raises(WatchError):
            pipe.execute()


def test_concurrent_incr_from_threads(server, make_client):
    clients = [make_client() for _ in range(4)]
    clients[0].flushall()

    def worker(c):
        for _ in range(250):
            c.incr("counter")

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert clients[0].get("counter") == b"1000"


# --------------------------------------------------------------------------------------
# Pub/Sub and keyspace notifications
# --------------------------------------------------------------------------------------


def test_pubsub_subscribe_and_publish(proto_client, make_client):
    publisher = make_client()
    p = proto_client.pubsub()
    try:
        p.subscribe("news")
        confirm = confirm_subscriptions(p, 1)
        assert confirm[0]["type"] == "subscribe"
        assert confirm[0]["channel"] == b"news"
        assert publisher.publish("news", "hello") == 1
        assert publisher.publish("nobody-listens", "x") == 0
        msg = next_message(p)
        assert msg is not None, "no message received within 5s"
        assert msg["type"] == "message"
        assert msg["channel"] == b"news"
        assert msg["data"] == b"hello"
        assert p.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
    finally:
        p.close()


def test_pubsub_pattern(proto_client, make_client):
    publisher = make_client()
    p = proto_client.pubsub()
    try:
        p.psubscribe("news.*")
        confirm = confirm_subscriptions(p, 1)
        assert confirm[0]["type"] == "psubscribe"
        assert publisher.publish("news.sport", b"goal\x00!") == 1
        msg = next_message(p)
        assert msg is not None, "no pmessage received within 5s"
        assert msg["type"] == "pmessage"
        assert msg["pattern"] == b"news.*"
        assert msg["channel"] == b"news.sport"
        assert msg["data"] == b"goal\x00!"
        assert publisher.publish("weather.today", "rain") == 0
    finally:
        p.close()


def test_pubsub_handler_thread(r, make_client):
    publisher = make_client()
    received = []
    p = r.pubsub()
    p.subscribe(**{"events": lambda m: received.append(m["data"])})
    thread = p.run_in_thread(sleep_time=0.05, daemon=True)
    try:
        assert wait_for(lambda: publisher.pubsub_numsub("events")[0][1] == 1)
        for i in range(5):
            publisher.publish("events", f"e{i}")
        assert wait_for(lambda: len(received) == 5)
        assert received == [f"e{i}".encode() for i in range(5)]
    finally:
        thread.stop()
        thread.join(timeout=5)
        p.close()


def test_pubsub_introspection(r, make_client):
    observer = make_client()
    p = r.pubsub()
    try:
        p.subscribe("c1", "c2")
        p.psubscribe("pat.*")
        confirm_subscriptions(p, 3)
        assert sorted(observer.pubsub_channels()) == [b"c1", b"c2"]
        assert observer.pubsub_channels("c1*") == [b"c1"]
        assert observer.pubsub_numsub("c1", "none") == [(b"c1", 1), (b"none", 0)]
        assert observer.pubsub_numpat() == 1
        p.unsubscribe("c1")
        assert wait_for(lambda: observer.pubsub_channels() == [b"c2"])
    finally:
        p.close()


def test_keyevent_notification_for_set(r, make_client, notify_events):
    notify_events("KEA")
    p = make_client().pubsub()
    try:
        p.subscribe("__keyevent@0__:set")
        confirm_subscriptions(p, 1)
        r.set("watched-key", "v")
        msg = next_message(p)
        assert msg is not None, "no keyevent notification within 5s"
        assert msg["channel"] == b"__keyevent@0__:set"
        assert msg["data"] == b"watched-key"
    finally:
        p.close()


def test_keyspace_notifications_pattern(r, make_client, notify_events):
    notify_events("KEA")
    p = make_client().pubsub()
    try:
        p.psubscribe("__keyspace@0__:acct*")
        confirm_subscriptions(p, 1)
        r.set("acct", 1)
        r.incr("acct")
        r.expire("acct", 100)
        r.delete("acct")
        events = []
        for _ in range(4):
            msg = next_message(p)
            assert msg is not None, f"only got {events}"
            assert msg["channel"] == b"__keyspace@0__:acct"
            events.append(msg["data"])
        assert events == [b"set", b"incrby", b"expire", b"del"]
    finally:
        p.close()


def test_expired_notification_is_active(r, make_client, notify_events):
    """A key with a TTL must expire (and notify) without anybody touching it."""
    notify_events("Ex")
    p = make_client().pubsub()
    try:
        p.subscribe("__keyevent@0__:expired")
        confirm_subscriptions(p, 1)
        r.set("ephemeral", "v", px=50)
        msg = next_message(p, timeout=5)
        assert msg is not None, "no 'expired' event within 5s"
        assert msg["data"] == b"ephemeral"
    finally:
        p.close()


def test_notifications_off_by_default_class_filter(r, make_client, notify_events):
    notify_events("Kg")  # keyspace channel, generic commands only: SET is not generic
    p = make_client().pubsub()
    try:
        p.psubscribe("__key*__:*")
        confirm_subscriptions(p, 1)
        r.set("k", "v")
        r.delete("k")
        msg = next_message(p)
        assert msg is not None
        assert (msg["channel"], msg["data"]) == (b"__keyspace@0__:k", b"del")
        assert next_message(p, timeout=0.3) is None
    finally:
        p.close()


# --------------------------------------------------------------------------------------
# Server / client introspection
# --------------------------------------------------------------------------------------


def test_client_setname_getname_list(r, make_client):
    assert r.client_getname() is None
    assert r.client_setname("interop-a") is True
    assert r.client_getname() == "interop-a"
    other = make_client()
    other.client_setname("interop-b")
    my_id = r.client_id()
    assert isinstance(my_id, int)
    clients = r.client_list()
    names = {c["name"] for c in clients}
    assert {"interop-a", "interop-b"} <= names
    mine = [c for c in clients if c["name"] == "interop-a"]
    assert len(mine) == 1
    assert int(mine[0]["id"]) == my_id
    assert mine[0]["db"] == "0"
    assert ":" in mine[0]["addr"]
    with pytest.raises(ResponseError):
        r.client_setname("has space")


def test_info(r, make_client):
    info = r.info()
    assert "redis_version" in info
    assert isinstance(info["connected_clients"], int)
    before = info["connected_clients"]
    assert before >= 1
    extra = [make_client() for _ in range(3)]
    for c in extra:
        c.ping()
    assert r.info("clients")["connected_clients"] >= before + 3
    server = r.info("server")
    assert server["tcp_port"] == r.connection_pool.connection_kwargs["port"]
    r.set("a", 1)
    r.set("b", 2, ex=100)
    keyspace = r.info("keyspace")
    assert keyspace["db0"]["keys"] == 2
    assert keyspace["db0"]["expires"] == 1


def test_config_get_set(r):
    cfg = r.config_get("*")
    assert "notify-keyspace-events" in cfg
    assert "maxclients" in cfg or "port" in cfg
    assert r.config_get("notify-keyspace-events") == {
        "notify-keyspace-events": cfg["notify-keyspace-events"]
    }
    with pytest.raises(ResponseError):
        r.config_set("no-such-parameter", "1")


def test_slowlog(r):
    old = r.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    try:
        r.config_set("slowlog-log-slower-than", 0)
        r.slowlog_reset()
        r.set("slow", "v")
        entries = r.slowlog_get()
        assert entries, "SLOWLOG GET returned nothing with slower-than=0"
        commands = [e["command"] for e in entries]
        assert any(c.startswith(b"SET slow") or c.startswith(b"set slow") for c in commands), commands
        assert r.slowlog_len() >= 1
    finally:
        r.config_set("slowlog-log-slower-than", old)
        r.slowlog_reset()


def test_monitor(r, make_client):
    other = make_client()
    with r.monitor() as m:
        other.set("monitored", "value")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            cmd = m.next_command()
            if cmd["command"].lower().startswith("set monitored"):
                break
        else:
            pytest.fail("MONITOR did not report the SET within 5s")
        assert cmd["db"] == 0
        assert cmd["command"].split() == ["SET", "monitored", "value"]
        assert cmd["client_type"] == "tcp"


# --------------------------------------------------------------------------------------
# Error replies
# --------------------------------------------------------------------------------------


def test_error_messages_match_redis(r):
    r.set("s", "abc")
    with pytest.raises(ResponseError) as e:
        r.incr("s")
    assert str(e.value) == "value is not an integer or out of range"
    with pytest.raises(ResponseError) as e:
        r.incrbyfloat("s", 1.0)
    assert str(e.value) == "value is not a valid float"
    with pytest.raises(ResponseError) as e:
        r.expire("s", "soon")
    assert str(e.value) == "value is not an integer or out of range"
    with pytest.raises(ResponseError) as e:
        r.execute_command("GET")
    assert str(e.value) == "wrong number of arguments for 'get' command"
    with pytest.raises(ResponseError) as e:
        r.execute_command("NOSUCHCOMMAND", "a")
    assert str(e.value).startswith("unknown command 'NOSUCHCOMMAND'")
    with pytest.raises(ResponseError) as e:
        r.execute_command("SET", "k", "v", "EX", 0)
    assert "invalid expire time in 'set' command" in str(e.value)
    with pytest.raises(ResponseError) as e:
        r.execute_command("SET", "k", "v", "NX", "XX")
    assert str(e.value) == "syntax error"


def test_wrongtype_error(r):
    r.execute_command("AI.TENSORSET", "t", "INT32", 1, "VALUES", 7)
    with pytest.raises(ResponseError) as e:
        r.get("t")
    assert str(e.value) == "WRONGTYPE Operation against a key holding the wrong kind of value"
    with pytest.raises(ResponseError, match="^WRONGTYPE"):
        r.incr("t")
    with pytest.raises(ResponseError, match="^WRONGTYPE"):
        r.append("t", "x")


def test_exec_without_multi_and_nested_multi(r):
    with pytest.raises(ResponseError) as e:
        r.execute_command("EXEC")
    assert str(e.value) == "EXEC without MULTI"
    with pytest.raises(ResponseError) as e:
        r.execute_command("DISCARD")
    assert str(e.value) == "DISCARD without MULTI"


@pytest.mark.standalone_only
def test_persistence_commands_through_redis_py(start_server, tmp_path):
    """redis-py's save/bgsave/lastsave/info helpers, and a restart from the AOF in the same directory."""
    srv = start_server("--dir", str(tmp_path), "--appendonly", "yes", "--appendfsync", "always")
    r = redis.Redis(host=srv.host, port=srv.port, protocol=3, socket_timeout=10)
    try:
        r.set("k", "v")
        r.execute_command("AI.TENSORSET", "t", "INT8", 2, "VALUES", 1, -1)
        before = r.lastsave()
        assert r.save() is True
        assert r.lastsave() >= before
        # redis-py maps the status to True under RESP2 only; under RESP3 it hands back Redis's text.
        assert r.bgsave() == b"Background saving started"
        deadline = time.time() + 20
        while r.info("persistence")["rdb_bgsave_in_progress"]:
            assert time.time() < deadline
            time.sleep(0.02)
        info = r.info("persistence")
        assert info["aof_enabled"] == 1
        assert info["rdb_last_bgsave_status"] == "ok"
        assert info["rdb_changes_since_last_save"] == 0
        assert (tmp_path / "dump.tcs").is_file()
        assert (tmp_path / "appendonlydir" / "appendonly.aof.manifest").is_file()
        r.set("after", "save")
    finally:
        r.close()
    # SIGKILL: only the AOF (appendfsync always) has the last write.
    srv.proc.kill()
    srv.proc.wait(timeout=10)
    again = start_server("--dir", str(tmp_path), "--appendonly", "yes")
    r = redis.Redis(host=again.host, port=again.port, socket_timeout=10)
    try:
        assert r.get("after") == b"save"
        assert r.execute_command("AI.TENSORGET", "t", "VALUES") == [1, -1]
    finally:
        r.close()


def test_replication_through_redis_py(start_server):
    """redis-py's replication helpers against a primary and a replica: replicaof(), role(), wait(), the
    ReadOnlyError class for writes on the replica, and INFO replication parsed into its fields."""
    primary = start_server()
    replica = start_server()
    p = redis.Redis(host=primary.host, port=primary.port, socket_timeout=10)
    r = redis.Redis(host=replica.host, port=replica.port, socket_timeout=10)
    p.set("k", "v")
    p.execute_command("AI.TENSORSET", "t", "FLOAT", 2, "VALUES", 1.5, 2.5)
    assert r.replicaof(primary.host, primary.port)
    deadline = time.time() + 20
    while r.info("replication").get("master_link_status") != "up":
        assert time.time() < deadline, replica.log_text()
        time.sleep(0.05)
    p.incr("n")
    assert p.wait(1, 10000) == 1
    assert r.get("k") == b"v" and r.get("n") == b"1"
    got = r.execute_command("AI.TENSORGET", "t", "VALUES")
    assert got == p.execute_command("AI.TENSORGET", "t", "VALUES") and [float(v) for v in got] == [1.5, 2.5]
    with pytest.raises(redis.exceptions.ReadOnlyError):
        r.set("k", "x")
    role = r.role()
    assert role[0] == b"slave" and role[2] == primary.port and role[3] == b"connected"
    prole = p.role()
    assert prole[0] == b"master" and prole[2][0][1] == str(replica.port).encode()
    info = r.info("replication")
    assert info["role"] == "slave" and info["master_port"] == primary.port
    assert info["master_repl_offset"] == p.info("replication")["master_repl_offset"]
    assert r.replicaof("NO", "ONE")
    r.set("k", "promoted")
    assert r.get("k") == b"promoted"
