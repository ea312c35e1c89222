"""anvil's persisted older states stay in a folder of the node's own, and are removed with the node.

anvil keeps ~500 block states in memory and moves older ones to disk (about 85 kB-230 kB a block);
by default into ~/.foundry/anvil/tmp, where a stopped or killed node leaves them (53 GB once).
Real anvil, real files: mine past the in-memory window, check where the states went, that a read
pinned to an early block still answers, and that stopping (or killing, then starting another node)
removes them.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from chain import anvil
from chain.anvil import start_anvil
from chain.transport import HttpTransport

ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first default account
BLOCKS_PAST_MEMORY = 620  # anvil's in-memory window is 500 states (seen: 0 files at 400, 201 at 600)


@pytest.fixture()
def own_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    return tmp_path


def _files(folder: Path) -> list[Path]:
    return [Path(d) / f for d, _, fs in os.walk(folder) for f in fs]


def test_states_go_to_the_nodes_folder_and_leave_with_it(own_tmpdir: Path) -> None:
    node = start_anvil()
    try:
        assert node.state_dir is not None and node.state_dir.parent == own_tmpdir / anvil.STATE_DIRS_NAME
        assert (node.state_dir / "owner.pid").read_text() == str(node.pid)
        with HttpTransport(node.rpc_url, timeout_s=120, max_retries=0, hedge_after_s=None, deadline_s=240) as rpc:
            balance_at_genesis = rpc.request("eth_getBalance", [ACCOUNT_0, "0x0"])
            rpc.request("anvil_mine", [hex(BLOCKS_PAST_MEMORY)])
            deadline = time.monotonic() + 60
            while len(_files(node.state_dir)) <= 1 and time.monotonic() < deadline:  # written after mining
                time.sleep(0.2)
            assert len(_files(node.state_dir)) > 1, "anvil persisted no state into the node's --cache-path"
            # the pinned history is still there (read from the persisted states)
            assert rpc.request("eth_getBalance", [ACCOUNT_0, "0x1"]) == balance_at_genesis
    finally:
        node.stop()
    assert not node.state_dir.exists()


def test_a_killed_nodes_folder_is_removed_by_the_next_start(own_tmpdir: Path) -> None:
    killed = start_anvil()
    os.killpg(killed.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while anvil._alive(killed.pid) and time.monotonic() < deadline:
        try:
            os.waitpid(killed.pid, os.WNOHANG)  # reap it, so it is gone rather than a zombie
        except ChildProcessError:
            break
        time.sleep(0.05)
    assert killed.state_dir is not None and killed.state_dir.exists()  # SIGKILL: nothing cleaned up
    unowned_new = own_tmpdir / anvil.STATE_DIRS_NAME / "starting-node"
    unowned_new.mkdir()  # a node between mkdtemp and writing owner.pid: must survive the sweep
    node = start_anvil()
    try:
        assert not killed.state_dir.exists()
        assert unowned_new.exists()
        assert node.state_dir is not None and node.state_dir.exists()
    finally:
        node.stop()
