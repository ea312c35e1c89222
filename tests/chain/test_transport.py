"""HttpTransport, block pinning and the SQLite cache against a real anvil (through a faulty proxy)."""

from __future__ import annotations

import random
import time
import traceback

import pytest

from chain.anvil import start_anvil
from chain.blocks import PinnedBlock, block_param, parse_block_tag, pin_block
from chain.cache import CachingTransport
from chain.transport import (
    HttpTransport,
    RpcError,
    TokenBucket,
    Transport,
    mask_url,
    url_from_env_or_arg,
)

try:
    from tests.chain.faulty_rpc import DelayFault, FaultyRpcProxy, GarbleFault, HttpFault, RpcErrorFault, TruncateFault
except ImportError:  # pytest's default rootdir import mode (tests/ is not a package)
    from faulty_rpc import DelayFault, FaultyRpcProxy, GarbleFault, HttpFault, RpcErrorFault, TruncateFault

FAKE_KEY = "k3yS3cr3tAbCdEf0123456789"


@pytest.fixture(scope="module")
def anvil():
    node = start_anvil()
    yield node
    node.stop()


@pytest.fixture
def proxy(anvil):
    p = FaultyRpcProxy(anvil.rpc_url)
    yield p
    p.stop()


def fast_transport(url: str, **kw) -> HttpTransport:
    """Tiny backoffs so retry tests stay fast; seeded jitter."""
    opts = dict(timeout_s=5.0, max_retries=3, backoff_base_s=0.001, backoff_max_s=0.01,
                rng=random.Random(7))
    opts.update(kw)
    return HttpTransport(url, **opts)


def accounts(t: HttpTransport) -> list[str]:
    return t.request("eth_accounts", [])


def send_eth(t: HttpTransport, to: str, wei: int) -> None:
    """Send and wait until mined (anvil mines asynchronously after eth_sendTransaction)."""
    sender = accounts(t)[0]
    tx_hash = t.request("eth_sendTransaction", [{"from": sender, "to": to, "value": hex(wei)}])
    for _ in range(200):
        if t.request("eth_getTransactionReceipt", [tx_hash]) is not None:
            return
        time.sleep(0.01)
    raise AssertionError(f"{tx_hash} not mined")


# ------------------------------------------------------------------------------------------
# Round trip, batching


def test_round_trip_and_protocol(anvil):
    t = fast_transport(anvil.rpc_url)
    assert isinstance(t, Transport)
    assert t.chain_id == 31337
    assert int(t.request("eth_blockNumber", []), 16) >= 0
    assert t.stats.http_requests == 2 and t.stats.retries == 0


def test_batch_keeps_order_across_chunks(anvil):
    t = fast_transport(anvil.rpc_url, max_batch_size=3)
    t.request("anvil_mine", ["0xa"])
    numbers = [7, 0, 3, 9, 1, 5, 2, 8]
    blocks = t.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
    assert [int(b["number"], 16) for b in blocks] == numbers
    assert t.stats.batches == 3  # 8 calls in chunks of 3, 3, 2


def test_batch_mixed_methods(anvil):
    t = fast_transport(anvil.rpc_url)
    chain_id, accts, block = t.batch([("eth_chainId", []), ("eth_accounts", []),
                                      ("eth_getBlockByNumber", ["0x0", False])])
    assert int(chain_id, 16) == 31337 and len(accts) == 10 and block["number"] == "0x0"


# ------------------------------------------------------------------------------------------
# URL masking


SECRETS = ("k3yS3cr3tAbCdEf0123456789", "mysecretkey", "secret-key-value", "MYSECRETKEY", "Mixed-Case_Key.v9")


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize(
    ("template", "masked"),
    [
        ("https://eth-mainnet.g.alchemy.com/v2/{k}", "https://eth-mainnet.g.alchemy.com/****"),
        ("https://mainnet.infura.io/v3/{k}", "https://mainnet.infura.io/****"),
        ("https://rpc.ankr.com/eth/{k}", "https://rpc.ankr.com/****"),
        ("https://x.quiknode.pro/{k}/", "https://x.quiknode.pro/****"),
        ("https://node.example.com/rpc/{k}/extra", "https://node.example.com/****"),
        ("https://NODE.example.com/{k}", "https://node.example.com/****"),
        ("https://user:{k}@node.example.com:8545/rpc", "https://node.example.com:8545/****"),
        ("https://{k}@node.example.com", "https://node.example.com/****"),
        ("https://{k}:@node.example.com:443", "https://node.example.com:443/****"),
        ("https://node.example.com/rpc?apikey={k}", "https://node.example.com/****"),
        ("https://node.example.com?{k}", "https://node.example.com/****"),
        ("https://node.example.com/#{k}", "https://node.example.com/****"),
        ("https://node.example.com:8545/;{k}", "https://node.example.com:8545/****"),
        ("http://[::1]:8545/{k}", "http://[::1]:8545/****"),
        ("  https://node.example.com/{k}  ", "https://node.example.com/****"),
        ("not a url {k}", "****"),
        ("https://node.example.com:99999/{k}", "****"),
        ("https://bad host/{k}", "****"),
    ],
)
def test_mask_url_shows_only_scheme_host_port(template, secret, masked):
    url = template.format(k=secret)
    assert mask_url(url) == masked
    assert secret not in mask_url(url) and secret.lower() not in mask_url(url).lower()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8545", "http://127.0.0.1:8545/", "https://node.example.com"])
def test_mask_url_keeps_plain_endpoints(url):
    assert mask_url(url) == url.rstrip("/")


def test_key_never_in_errors_or_repr(proxy):
    url = f"{proxy.url}/v2/{FAKE_KEY}"
    t = fast_transport(url, max_retries=1)
    assert FAKE_KEY not in repr(t) and FAKE_KEY not in str(t) and FAKE_KEY not in t.masked_url
    assert t.request("eth_chainId", []) == "0x7a69"  # the key-bearing path really is used
    proxy.faults.append(HttpFault(500, count=100))
    with pytest.raises(RpcError) as info:
        t.request("eth_blockNumber", [])
    text = "".join(traceback.format_exception(info.value))
    assert FAKE_KEY not in text
    assert "eth_blockNumber" in str(info.value) and f"{proxy.url}/****" in str(info.value)


def test_debug_logs_hide_key(proxy, caplog):
    """urllib3 logs the request path at DEBUG; the transport's filter must mask it."""
    t = fast_transport(f"{proxy.url}/v2/{FAKE_KEY}?token={FAKE_KEY}")
    with caplog.at_level("DEBUG"):
        t.request("eth_chainId", [])
    assert "POST /**** " in caplog.text
    assert FAKE_KEY not in caplog.text


def test_connection_error_hides_key():
    url = f"http://127.0.0.1:9/v2/{FAKE_KEY}"  # discard port: nothing listens
    t = fast_transport(url, max_retries=1, timeout_s=1.0)
    with pytest.raises(RpcError) as info:
        t.request("eth_chainId", [])
    assert info.value.kind == "connection"
    assert FAKE_KEY not in "".join(traceback.format_exception(info.value))
    assert "eth_chainId" in str(info.value)


def test_url_from_env_or_arg(monkeypatch):
    monkeypatch.setenv("ETH_RPC_URL", "https://a.example/v2/envkey123456")
    assert url_from_env_or_arg(None) == "https://a.example/v2/envkey123456"
    assert url_from_env_or_arg("http://127.0.0.1:1") == "http://127.0.0.1:1"
    monkeypatch.delenv("ETH_RPC_URL")
    with pytest.raises(ValueError, match="ETH_RPC_URL"):
        url_from_env_or_arg(None)
    with pytest.raises(ValueError) as info:
        url_from_env_or_arg(f"ws://host/{FAKE_KEY}")
    assert FAKE_KEY not in str(info.value)
    # a source naming its own variable reads that one, whatever --rpc-url says
    monkeypatch.setenv("BASE_RPC_URL", "https://b.example/v2/basekey12345")
    assert url_from_env_or_arg("http://127.0.0.1:1", env_var="BASE_RPC_URL") == "https://b.example/v2/basekey12345"
    monkeypatch.setenv("BASE_RPC_URL", f"ws://host/{FAKE_KEY}")
    with pytest.raises(ValueError, match=r"\$BASE_RPC_URL") as info:
        url_from_env_or_arg(None, env_var="BASE_RPC_URL")
    assert FAKE_KEY not in str(info.value)
    monkeypatch.delenv("BASE_RPC_URL")
    with pytest.raises(ValueError, match=r"\$BASE_RPC_URL \(rpc_url_env\), which is not set"):
        url_from_env_or_arg("http://127.0.0.1:1", env_var="BASE_RPC_URL")


# ------------------------------------------------------------------------------------------
# Retries


def test_retry_429_then_success(proxy):
    t = fast_transport(proxy.url)
    proxy.faults.append(HttpFault(429, count=2, retry_after="0"))
    assert t.request("eth_chainId", []) == "0x7a69"
    assert t.stats.retries == 2
    assert proxy.counters.http_requests == 3


def test_persistent_500_names_method_and_masked_url(proxy):
    t = fast_transport(f"{proxy.url}/v3/{FAKE_KEY}", max_retries=2)
    proxy.faults.append(HttpFault(500, count=1000))
    with pytest.raises(RpcError) as info:
        t.request("eth_getBalance", ["0x" + "11" * 20, "latest"])
    err = info.value
    assert err.method == "eth_getBalance" and err.kind == "http" and err.http_status == 500
    assert "eth_getBalance" in str(err) and t.masked_url in str(err) and FAKE_KEY not in str(err)
    assert proxy.counters.http_requests == 3  # first try + 2 retries


def test_rate_limit_rpc_error_is_retried(proxy):
    t = fast_transport(proxy.url)
    proxy.faults.append(RpcErrorFault(-32016, "rate limit exceeded", count=1))
    proxy.faults.append(RpcErrorFault(-32005, "limit exceeded", count=1))
    assert t.request("eth_chainId", []) == "0x7a69"
    assert t.stats.retries == 2


def test_timeout_is_retried(proxy):
    t = fast_transport(proxy.url, timeout_s=0.3, hedge_after_s=None)
    proxy.faults.append(DelayFault(1.0, count=1))
    assert t.request("eth_chainId", []) == "0x7a69"
    assert t.stats.retries == 1 and t.stats.hedges == 0


def test_hung_read_is_hedged(proxy):
    """A read with no answer is sent again on another connection; the copy's answer is used
    and the call needs no retry (no timing is asserted: only which requests were made)."""
    t = fast_transport(proxy.url, timeout_s=5.0, hedge_after_s=0.05)
    proxy.faults.append(DelayFault(3.0, count=1))
    assert t.request("eth_chainId", []) == "0x7a69"
    assert t.stats.hedges >= 1 and t.stats.retries == 0
    assert proxy.counters.http_requests >= 2


def test_writes_are_never_hedged(proxy):
    t = fast_transport(proxy.url, timeout_s=2.0, hedge_after_s=0.05, max_retries=0)
    proxy.faults.append(DelayFault(0.5, count=1))
    t.request("evm_mine", [])
    assert t.stats.hedges == 0 and proxy.counters.http_requests == 1


def test_body_cut_short_is_retried(proxy):
    t = fast_transport(proxy.url)
    proxy.faults.append(TruncateFault(count=2))
    assert t.request("eth_chainId", []) == "0x7a69"
    assert t.stats.retries == 2 and proxy.counters.http_requests == 3
    proxy.faults.append(TruncateFault(count=1))
    blocks = t.batch([("eth_getBlockByNumber", ["0x0", False]), ("eth_blockNumber", [])])
    assert blocks[0]["number"] == "0x0"


@pytest.mark.parametrize(("kind", "method", "params"), [
    ("number-for-string", "eth_blockNumber", []),
    ("drop-hex-digit", "eth_getStorageAt", ["0x" + "11" * 20, "0x0", "0x0"]),
    ("non-hex", "eth_chainId", []),
    ("truncate-half", "eth_getStorageAt", ["0x" + "11" * 20, "0x0", "0x0"]),
    ("bad-block", "eth_getBlockByNumber", ["0x0", False]),
])
def test_invalid_answer_is_retried(proxy, kind, method, params):
    t = fast_transport(proxy.url)
    good = t.request(method, params)
    proxy.faults.append(GarbleFault(kind, count=2, method=method))
    assert t.request(method, params) == good
    assert t.stats.invalid_answers == 2 and t.stats.retries == 2


def test_invalid_batch_element_is_retried_alone(proxy):
    t = fast_transport(proxy.url)
    proxy.faults.append(GarbleFault("bad-block", count=1, method="eth_getBlockByNumber"))
    out = t.batch([("eth_blockNumber", []), ("eth_getBlockByNumber", ["0x0", False])])
    assert out[1]["number"] == "0x0" and len(out[1]["hash"]) == 66
    assert proxy.counters.by_method["eth_getBlockByNumber"] == 2 and t.stats.invalid_answers == 1


def test_persistent_invalid_answer_names_method_and_masked_url(proxy):
    t = fast_transport(f"{proxy.url}/v2/{FAKE_KEY}", max_retries=2)
    proxy.faults.append(GarbleFault("number-for-string", count=100, method="eth_blockNumber"))
    with pytest.raises(RpcError) as info:
        t.request("eth_blockNumber", [])
    err = info.value
    assert err.kind == "invalid" and err.method == "eth_blockNumber"
    assert "eth_blockNumber" in str(err) and f"{proxy.url}/****" in str(err) and FAKE_KEY not in str(err)


def test_expected_chain_id_refuses_a_garbled_one(proxy):
    t = fast_transport(proxy.url, expected_chain_id=31337)
    proxy.faults.append(GarbleFault("chain-id", count=1))
    assert t.chain_id == 31337 and t.stats.invalid_answers == 1
    wrong = fast_transport(proxy.url, expected_chain_id=1, max_retries=1)
    with pytest.raises(RpcError, match="chain id 31337, expected 1"):
        wrong.chain_id


def test_node_error_is_not_retried(proxy):
    t = fast_transport(proxy.url)
    with pytest.raises(RpcError) as info:
        t.request("eth_getBlockByNumber", ["not-a-block", False])
    assert info.value.kind == "rpc" and info.value.code is not None
    assert t.stats.retries == 0 and proxy.counters.http_requests == 1


def test_failed_batch_element_is_retried_alone(proxy):
    t = fast_transport(proxy.url)
    proxy.faults.append(RpcErrorFault(-32016, "too many requests", count=1, method="eth_blockNumber"))
    chain_id, number = t.batch([("eth_chainId", []), ("eth_blockNumber", [])])
    assert chain_id == "0x7a69" and int(number, 16) >= 0
    assert proxy.counters.http_requests == 2
    assert proxy.counters.by_method["eth_blockNumber"] == 2


def test_batch_element_hard_error_raises(proxy):
    t = fast_transport(proxy.url)
    with pytest.raises(RpcError) as info:
        t.batch([("eth_chainId", []), ("eth_getBlockByNumber", ["bogus", False])])
    assert info.value.method == "eth_getBlockByNumber"


def test_token_bucket_spaces_requests():
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    bucket = TokenBucket(4.0, burst=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):
        bucket.acquire()
    # 2 free (burst), then 4 more at 4/s = 1 s of waiting in total.
    assert sum(slept) == pytest.approx(1.0)
    now[0] += 10.0  # idle refills only up to the burst
    slept.clear()
    for _ in range(3):
        bucket.acquire()
    assert sum(slept) == pytest.approx(0.25)


def test_rate_limited_transport_counts_wait(anvil):
    slept: list[float] = []
    # 1 request/s, burst 1, with a recording (non-sleeping) sleep: 5 quick requests must
    # each wait for a token after the first (each takes milliseconds, far below 1 s).
    t = fast_transport(anvil.rpc_url, requests_per_second=1.0, sleep=slept.append)
    for _ in range(5):
        t.request("eth_chainId", [])
    assert t.stats.http_requests == 5
    assert len(slept) == 4 and all(0.5 < s <= 1.0 for s in slept)
    assert t.stats.throttle_wait_s == pytest.approx(sum(slept))


# ------------------------------------------------------------------------------------------
# Block pinning


def test_pinned_reads_do_not_move(anvil):
    t = fast_transport(anvil.rpc_url)
    target = "0x" + "42" * 20
    send_eth(t, target, 10**18)
    pinned = pin_block(t, "latest")
    assert isinstance(pinned, PinnedBlock) and block_param(pinned) == hex(pinned.number)
    before = t.request("eth_getBalance", [target, hex(pinned.number)])
    send_eth(t, target, 5 * 10**18)
    t.request("anvil_mine", ["0x5"])
    after = t.request("eth_getBalance", [target, hex(pinned.number)])
    assert before == after
    assert int(t.request("eth_getBalance", [target, "latest"]), 16) == int(before, 16) + 5 * 10**18
    again = pin_block(t, pinned.number)
    assert again == pinned


def test_pin_block_tags_and_confirmations(anvil):
    t = fast_transport(anvil.rpc_url)
    t.request("anvil_mine", ["0x50"])
    latest = pin_block(t)
    back = pin_block(t, "latest", confirmations=3)
    assert back.number == latest.number - 3 and back.hash != latest.hash
    assert pin_block(t, str(latest.number)) == latest and pin_block(t, hex(latest.number)) == latest
    safe, final = pin_block(t, "safe"), pin_block(t, "finalized")
    assert final.number <= safe.number <= latest.number
    assert pin_block(t, "earliest").number == 0
    with pytest.raises(ValueError, match="invalid block"):
        parse_block_tag("yesterday")
    with pytest.raises(ValueError, match="does not exist"):
        pin_block(t, latest.number + 1000)


def test_pin_block_fallback_when_safe_unsupported(proxy, caplog):
    t = fast_transport(proxy.url)
    t.request("anvil_mine", ["0x40"])
    latest = pin_block(t)
    proxy.faults.append(RpcErrorFault(-32602, "unknown block tag safe", count=1,
                                      method="eth_getBlockByNumber"))
    with caplog.at_level("WARNING"):
        safe = pin_block(t, "safe")
    assert safe.number == latest.number - 32
    assert "latest - 32" in caplog.text


# ------------------------------------------------------------------------------------------
# Cache


def test_cache_serves_pinned_calls_from_sqlite(proxy, tmp_path):
    inner = fast_transport(proxy.url)
    t = CachingTransport(inner, tmp_path / "rpc.sqlite")
    assert isinstance(t, Transport)
    pinned = pin_block(t)
    at_hash = {"blockHash": pinned.hash, "requireCanonical": True}
    addr = accounts(inner)[1]
    proxy.reset()
    first = t.request("eth_getBalance", [addr, at_hash])
    second = t.request("eth_getBalance", [addr.upper().replace("0X", "0x"), {**at_hash, "blockHash": pinned.hash.upper().replace("0X", "0x")}])
    assert first == second
    assert proxy.counters.by_method.get("eth_getBalance") == 1
    # latest is never cached, nor a number above the safe bound (a reorg can replace that block)
    t.request("eth_getBalance", [addr, "latest"])
    t.request("eth_getBalance", [addr, "latest"])
    assert proxy.counters.by_method["eth_getBalance"] == 3
    for tag in ("safe", "finalized", "earliest", "pending", hex(pinned.number), hex(pinned.number)):
        t.request("eth_getBalance", [addr, tag])
    assert proxy.counters.by_method["eth_getBalance"] == 9
    t.set_safe_block(pinned.number)  # at or below the safe bound a number is final: cached
    t.request("eth_getBalance", [addr, hex(pinned.number)])
    t.request("eth_getBalance", [addr, {"blockNumber": hex(pinned.number)}])
    t.request("eth_getBalance", [addr, hex(pinned.number)])
    assert proxy.counters.by_method["eth_getBalance"] == 11
    t.close()
    # survives a restart: a new process reading the same file needs no RPC
    t2 = CachingTransport(inner, tmp_path / "rpc.sqlite")
    proxy.reset()
    assert t2.request("eth_getBalance", [addr, at_hash]) == first
    assert proxy.counters.http_requests == 0
    t2.close()


def test_cache_batch_sends_only_misses(proxy, tmp_path):
    inner = fast_transport(proxy.url)
    t = CachingTransport(inner, tmp_path / "rpc.sqlite", safe_block=4)
    t.request("anvil_mine", ["0x5"])
    t.request("eth_getBlockByNumber", ["0x1", False])
    t.request("eth_getBlockByNumber", ["0x2", False])
    proxy.reset()
    out = t.batch([("eth_getBlockByNumber", [hex(n), False]) for n in (1, 2, 3, 4)]
                  + [("eth_blockNumber", [])])
    assert [int(b["number"], 16) for b in out[:4]] == [1, 2, 3, 4]
    assert proxy.counters.by_method == {"eth_getBlockByNumber": 2, "eth_blockNumber": 1}
    assert t.hits == 2
    proxy.reset()
    t.batch([("eth_getBlockByNumber", [hex(n), False]) for n in (3, 4, 5, 5)])
    assert proxy.counters.by_method == {"eth_getBlockByNumber": 2}  # 5 > safe_block: not cached


def test_cache_never_stores_future_blocks_or_unsafe_logs(proxy, tmp_path):
    inner = fast_transport(proxy.url)
    t = CachingTransport(inner, tmp_path / "rpc.sqlite", safe_block=None)
    head = int(t.request("eth_blockNumber", []), 16)
    future = hex(head + 3)
    t.set_safe_block(head + 10)  # even under a (wrong) high bound, a null is never stored
    assert t.request("eth_getBlockByNumber", [future, False]) is None
    t.request("anvil_mine", ["0x3"])
    assert t.request("eth_getBlockByNumber", [future, False]) is not None  # not a stale null
    t.set_safe_block(None)
    flt = {"fromBlock": "0x0", "toBlock": hex(head)}
    proxy.reset()
    t.request("eth_getLogs", [flt])
    t.request("eth_getLogs", [flt])
    assert proxy.counters.by_method["eth_getLogs"] == 2  # no safe bound: logs not cached
    t.set_safe_block(head)
    t.request("eth_getLogs", [flt])
    t.request("eth_getLogs", [flt])
    assert proxy.counters.by_method["eth_getLogs"] == 3
    beyond = {"fromBlock": "0x0", "toBlock": hex(head + 1)}
    t.request("eth_getLogs", [beyond])
    t.request("eth_getLogs", [beyond])
    assert proxy.counters.by_method["eth_getLogs"] == 5
