"""A user's ``web3.Web3`` as the transport (issue 12, item 4), on the devnet's genuine contracts.

The scan through a ``Web3`` object must equal the scan through :class:`HttpTransport` byte for
byte (same block), with batching kept; a provider that cannot batch gets the one-by-one fallback
and the same bytes; every answer is validated like HttpTransport's (a corrupted answer is
retried, a persistently invalid one fails with ``kind="invalid"``).
"""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3

from chain.scan import scan_devnet
from chain.transport import HttpTransport, RpcError
from chain.web3_transport import Web3Transport, as_transport

pytestmark = pytest.mark.devnet


class _NoBatchProvider(Web3.HTTPProvider):  # type: ignore[misc, name-defined]
    """An HTTP provider as an older web3 / a custom provider has it: no batch support."""

    def make_batch_request(self, requests: Any) -> Any:
        raise NotImplementedError("Providers must implement this method")


class _CorruptingProvider(Web3.HTTPProvider):  # type: ignore[misc, name-defined]
    """Answers ``eth_blockNumber`` with a non-hex quantity ``bad_answers`` times, then truthfully
    (a fault injector around the real provider, to show the answers are validated)."""

    def __init__(self, url: str, bad_answers: int) -> None:
        super().__init__(url)
        self.bad_answers = bad_answers

    def make_request(self, method: Any, params: Any) -> Any:
        reply = super().make_request(method, params)
        if method == "eth_blockNumber" and self.bad_answers > 0:
            self.bad_answers -= 1
            return {**reply, "result": "0xnot-hex"}
        return reply


@pytest.fixture(scope="module")
def pinned_block(devnet: Any) -> int:
    return int(devnet.rpc.block_number())


@pytest.fixture(scope="module")
def http_snapshot_json(devnet: Any, pinned_block: int) -> str:
    with HttpTransport(devnet.rpc_url, expected_chain_id=devnet.deployment.chain_id) as http:
        return scan_devnet(devnet.deployment, pinned_block, transport=http).model_dump_json()


def test_scan_through_web3_equals_http_transport_byte_for_byte(devnet: Any, pinned_block: int,
                                                                http_snapshot_json: str) -> None:
    w3 = Web3(Web3.HTTPProvider(devnet.rpc_url))
    transport = Web3Transport(w3, expected_chain_id=devnet.deployment.chain_id)
    assert transport.batching
    snapshot = scan_devnet(devnet.deployment, pinned_block, transport=transport)
    assert snapshot.positions, "the devnet book must not be empty"
    assert snapshot.model_dump_json() == http_snapshot_json
    # batching kept: fewer provider round trips than JSON-RPC calls
    assert transport.stats.batches > 0
    assert transport.stats.http_requests < transport.stats.rpc_calls
    assert transport.stats.invalid_answers == 0 and transport.stats.failures == 0


def test_provider_without_batches_falls_back_to_single_calls_with_the_same_bytes(
        devnet: Any, pinned_block: int, http_snapshot_json: str) -> None:
    transport = Web3Transport(_NoBatchProvider(devnet.rpc_url))
    snapshot = scan_devnet(devnet.deployment, pinned_block, transport=transport)
    assert not transport.batching
    assert transport.stats.batches == 0
    assert transport.stats.http_requests == transport.stats.rpc_calls
    assert snapshot.model_dump_json() == http_snapshot_json


def test_answers_are_validated_and_retried(devnet: Any) -> None:
    slept: list[float] = []
    provider = _CorruptingProvider(devnet.rpc_url, bad_answers=2)
    transport = Web3Transport(provider, max_retries=3, sleep=slept.append)
    block = int(transport.request("eth_blockNumber", []), 16)
    assert block == devnet.rpc.block_number()
    assert transport.stats.invalid_answers == 2 and transport.stats.retries == 2 and len(slept) == 2

    stubborn = Web3Transport(_CorruptingProvider(devnet.rpc_url, bad_answers=10), max_retries=1, sleep=slept.append)
    with pytest.raises(RpcError) as info:
        stubborn.request("eth_blockNumber", [])
    assert info.value.kind == "invalid" and "eth_blockNumber" in str(info.value)


def test_wrong_chain_id_is_an_invalid_answer(devnet: Any) -> None:
    transport = Web3Transport(Web3(Web3.HTTPProvider(devnet.rpc_url)), expected_chain_id=devnet.deployment.chain_id + 1,
                              max_retries=0)
    with pytest.raises(RpcError) as info:
        _ = transport.chain_id
    assert info.value.kind == "invalid"


def test_node_errors_are_rpc_errors_and_batches_settle(devnet: Any) -> None:
    transport = Web3Transport(Web3(Web3.HTTPProvider(devnet.rpc_url)))
    with pytest.raises(RpcError) as info:
        transport.request("eth_noSuchMethod", [])
    assert info.value.kind == "rpc" and info.value.code is not None
    settled = transport.batch_settled([("eth_chainId", []), ("eth_noSuchMethod", []), ("eth_blockNumber", [])])
    assert int(settled[0], 16) == devnet.deployment.chain_id
    assert isinstance(settled[1], RpcError) and settled[1].kind == "rpc"
    assert int(settled[2], 16) == devnet.rpc.block_number()


def test_the_url_is_masked_and_as_transport_picks_the_right_client(devnet: Any) -> None:
    secret = devnet.rpc_url + "/v2/secret-key"
    transport = Web3Transport(Web3(Web3.HTTPProvider(secret)))
    assert "secret" not in repr(transport) and transport.masked_url.endswith("/****")
    assert isinstance(as_transport(Web3(Web3.HTTPProvider(devnet.rpc_url))), Web3Transport)
    assert isinstance(as_transport(Web3.HTTPProvider(devnet.rpc_url)), Web3Transport)
    with as_transport(devnet.rpc_url) as http:
        assert isinstance(http, HttpTransport)
        assert as_transport(http) is http
    with pytest.raises(TypeError):
        Web3Transport(object())
