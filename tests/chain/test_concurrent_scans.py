"""Concurrent scans sharing one RPC cache and one account index (issue 13): every SQLite store is
opened through :func:`chain.store.open_store` (busy timeout, WAL), so 16 processes scanning the
devnet at once through the same two files all finish — no ``database is locked`` — and all write
the same snapshot, equal to a scan without any cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from chain.devnet import DevnetDeployment
from chain.scan import devnet_sources, scan_snapshot
from chain.transport import HttpTransport

N_SCANS = 16

WORKER = """
import hashlib, json, os, sys, time
go = sys.argv[6]
while not os.path.exists(go):
    time.sleep(0.01)
from chain.cache import CachingTransport
from chain.devnet import DevnetDeployment
from chain.scan import devnet_sources, scan_snapshot
from chain.transport import HttpTransport
dep = DevnetDeployment.from_json(open(sys.argv[1]).read())
with HttpTransport(sys.argv[2], expected_chain_id=dep.chain_id) as http:
    with CachingTransport(http, sys.argv[3]) as cached:
        snap = scan_snapshot(cached, block=int(sys.argv[5]), accounts_index=sys.argv[4], **devnet_sources(dep))
facts = json.loads(snap.to_json())
facts.pop("source", None)
print(json.dumps(facts, sort_keys=True))
"""


def _facts(snapshot) -> dict:
    facts = json.loads(snapshot.to_json())
    facts.pop("source", None)
    return facts


def test_sixteen_concurrent_scans_share_one_cache_and_index(devnet, tmp_path) -> None:
    deployment = tmp_path / "deployment.json"
    deployment.write_text(devnet.deployment.to_json())
    # The workers read the deployment back from JSON (as `--source devnet` does from its state
    # file); the reference uses the same record, so both list the pools in the same order.
    same_record = DevnetDeployment.from_json(deployment.read_text())
    with HttpTransport(devnet.rpc_url, expected_chain_id=devnet.deployment.chain_id) as http:
        block = int(http.request("eth_blockNumber", []), 16)
        expected = _facts(scan_snapshot(http, block=block, **devnet_sources(same_record)))
    cache, index, go = tmp_path / "rpc-cache.sqlite", tmp_path / "accounts.sqlite", tmp_path / "go"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(deployment), devnet.rpc_url, str(cache), str(index),
                               str(block), str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(N_SCANS)]
    go.write_text("")
    # communicate, not wait: a worker's output can exceed the pipe's buffer
    results = [_finish(p, 900) for p in procs]
    assert not [err for _rc, _out, err in results if "database is locked" in err]
    failed = [(rc, err[-2000:]) for rc, _out, err in results if rc != 0]
    assert not failed, failed
    snapshots = [json.loads(out) for _rc, out, _err in results]
    assert all(s == snapshots[0] for s in snapshots), "the concurrent scans agree"
    differ = sorted(k for k in expected if snapshots[0].get(k) != expected[k])
    assert not differ, ("every concurrent scan gives the snapshot of a scan without cache; they differ in",
                        differ, {k: (str(expected[k])[:400], str(snapshots[0].get(k))[:400]) for k in differ})


def _finish(proc: "subprocess.Popen[str]", timeout_s: float) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, out, err
