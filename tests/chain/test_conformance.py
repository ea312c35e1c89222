"""Conformance suite over every registered venue reader (:mod:`chain.venues`): what a plugin
registers is checked here without a line added to this file.

Per reader: its market-file entry (a :class:`chain.venues.MarketEntryBase` with ``kind`` equal to
the reader's) round-trips through JSON and refuses an unknown field naming it; an entry becomes a
source of the reader's ``source_type``; and where the devnet's market file has an entry of that
kind, scanning only it gives rows whose rules are registered, whose positions name existing markets
and assets, which round-trip through the Snapshot JSON and the position book, and which are the
same when read again at the same block (the reader is a function of the block).

The example entry of a kind comes from the shipped market file, else the devnet's, else the
reader's ``example`` attribute (a dict); a reader with none of these fails here.
"""

from __future__ import annotations

import copy

import pytest

from chain.devnet.markets import devnet_market_file
from chain.markets import SHIPPED_MARKET_FILE, MarketFileError, parse_market_file
from chain.scan import devnet_usd_anchors, scan_snapshot
from chain.transport import HttpTransport
from chain.venues import MarketEntryBase, VenueError, venue, venue_kinds
from risk.book import PositionBook
from risk.rules import RULE_NAMES
from risk.snapshot import Snapshot

KINDS = venue_kinds()


def _shipped() -> dict:
    import tomllib

    return tomllib.loads(SHIPPED_MARKET_FILE.read_text())


def example_entry(kind: str, devnet_data: dict | None = None) -> tuple[dict, dict]:
    """(a network dict holding one entry of ``kind``, that entry)."""
    for data in (_shipped(), devnet_data or {"networks": {}}):
        for net in data["networks"].values():
            for entry in net["markets"]:
                if entry["kind"] == kind:
                    one = copy.deepcopy(net)
                    one["markets"] = [copy.deepcopy(entry)]
                    one.pop("uniswap_v3_pools", None)
                    one.pop("uniswap_v3_factory", None)
                    return one, one["markets"][0]
    example = getattr(venue(kind), "example", None)
    if example is None:
        pytest.fail(f"venue {kind!r}: no entry in the shipped market file and no `example` attribute")
    net = {"chain_id": 1, "markets": [copy.deepcopy(example)]}
    return net, net["markets"][0]


def test_registry_is_complete_and_unknown_kinds_are_errors():
    assert {"aave_v3", "morpho_blue", "compound_v3", "sky_vaults"} <= set(KINDS)
    with pytest.raises(VenueError, match="unknown venue kind 'no_such_venue'; registered: "):
        venue("no_such_venue")


@pytest.mark.parametrize("kind", KINDS)
def test_entry_round_trips_and_refuses_unknown_fields(kind):
    reader = venue(kind)
    assert issubclass(reader.entry, MarketEntryBase)
    assert reader.entry.model_fields["kind"].annotation.__args__ == (kind,)  # Literal[kind]
    net, entry = example_entry(kind)
    parsed = parse_market_file({"networks": {"n": net}}, where="conf.toml").networks["n"].markets[0]
    assert isinstance(parsed, reader.entry) and parsed.kind == kind
    assert reader.entry.model_validate_json(parsed.model_dump_json()) == parsed
    source = reader.source_from_entry(parsed)
    assert isinstance(source, reader.source_type)
    assert reader.source_address(source).startswith("0x") and len(reader.source_address(source)) == 42
    entry["unknwn_field"] = 1
    with pytest.raises(MarketFileError, match=r"(?s)conf\.toml: \d+ problems?:.*networks\.n\.markets\.0\.unknwn_field: "
                                              r"unknown key"):
        parse_market_file({"networks": {"n": net}}, where="conf.toml")
    del entry["unknwn_field"]
    entry.pop("id")
    with pytest.raises(MarketFileError, match=r"networks\.n\.markets\.0\.id: required field is missing"):
        parse_market_file({"networks": {"n": net}}, where="conf.toml")


@pytest.mark.devnet
@pytest.mark.parametrize("kind", KINDS)
def test_reader_on_the_devnet(kind, devnet, devnet_deployment):
    data = devnet_market_file(devnet_deployment)
    net = data["networks"]["devnet"]
    entries = [e for e in net["markets"] if e["kind"] == kind]
    if not entries:
        pytest.skip(f"the devnet deploys no {kind} market")
    parsed = parse_market_file({"networks": {"devnet": {**net, "markets": entries}}}, where="devnet")
    sources = parsed.networks["devnet"].sources()
    with HttpTransport(devnet.rpc_url) as transport:
        # the devnet's Chainlink feeds anchor USD for a venue scanned alone (Morpho's loan tokens)
        anchors = devnet_usd_anchors(devnet_deployment)
        snap = scan_snapshot(transport, sources=sources, usd_anchors=anchors)
        again = scan_snapshot(transport, block=snap.block_number, sources=sources, usd_anchors=anchors)
    assert snap == again
    assert snap.markets and snap.positions, f"{kind}: nothing read on the devnet"
    assert {m.venue for m in snap.markets} <= set(RULE_NAMES)
    markets = {m.id: m for m in snap.markets}
    symbols = {a.symbol for a in snap.assets}
    for m in snap.markets:
        assert {r.asset for r in m.reserves} <= symbols
    for p in snap.positions:
        assert p.market in markets
        assert set(p.collateral) | set(p.debt) <= {r.asset for r in markets[p.market].reserves}
    assert Snapshot.from_json(snap.to_json()) == snap
    book = PositionBook.from_snapshot(snap)
    assert len(book.accounts) == len(snap.positions)
