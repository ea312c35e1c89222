"""Session-scoped devnet fixtures shared by the chain tests.

- ``devnet``: a started, deployed and populated :class:`chain.devnet.Devnet` (genuine Aave V3 and
  Morpho Blue, Comet double, Multicall3), ``DEVNET_N_BORROWERS`` borrowers from ``DEVNET_SEED``.
  Read-only by convention: a test that changes chain state must use ``devnet_revert``.
- ``devnet_deployment``: its :class:`chain.devnet.DevnetDeployment`.
- ``devnet_population``: its :class:`chain.devnet.Population`.
- ``devnet_revert``: function-scoped; the same devnet, reverted (evm_snapshot / evm_revert) after
  the test, so price moves and liquidations do not leak into other tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chain.devnet import Devnet, DevnetDeployment, Population

DEVNET_N_BORROWERS = 96
DEVNET_SEED = 7


@contextmanager
def started_devnet() -> Iterator[Devnet]:
    """A fresh devnet, deployed and populated with the shared seed; stopped on exit."""
    net = Devnet().start()
    try:
        net.deploy()
        net.populate(DEVNET_N_BORROWERS, DEVNET_SEED)
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="session")
def devnet() -> Iterator[Devnet]:
    with started_devnet() as net:
        yield net


@pytest.fixture(scope="session")
def devnet_deployment(devnet: Devnet) -> DevnetDeployment:
    assert devnet.deployment is not None
    return devnet.deployment


@pytest.fixture(scope="session")
def devnet_population(devnet: Devnet) -> Population:
    assert devnet.population is not None
    return devnet.population


@pytest.fixture
def devnet_revert(devnet: Devnet) -> Iterator[Devnet]:
    assert devnet.rpc is not None
    snapshot_id = devnet.rpc.request("evm_snapshot", [])
    try:
        yield devnet
    finally:
        if not devnet.rpc.request("evm_revert", [snapshot_id]):
            raise RuntimeError("evm_revert failed: later tests would see a modified devnet")
