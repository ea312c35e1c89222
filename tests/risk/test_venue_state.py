"""``Snapshot.venue_state`` (:mod:`risk.venue_state`): a venue plugin's own payload on the snapshot —
validated by the model the plugin declares, JSON round trip, unknown fields and loose types refused
like the rest of the snapshot, an undeclared key a clear error, old files (the former top-level
``liquity_branches``) converted at load, several sources joined by the model."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from risk.sample import sample_snapshot
from risk.snapshot import Snapshot
from risk.venue_state import (VenueState, VenueStateError, VenueStateType, combine_venue_states, register_venue_state,
                              venue_state_type, venue_state_types)
from risk.venues.liquity_v2 import LiquityBranch, LiquityState, LiquityTrove

E18 = 10**18


def _branch(market: str = "liquity-v2:WETH", troves: int = 2) -> LiquityBranch:
    return LiquityBranch(
        market=market, mcr_wad=11 * 10**17, ccr_wad=15 * 10**17, scr_wad=11 * 10**17, penalty_sp_wad=5 * 10**16,
        penalty_redistribution_wad=10**17, price_wad=2_000 * E18, sp_deposits_wei=10**21, branch_coll_wei=10**19,
        branch_debt_wei=10**22, shutdown_time=0,
        troves=tuple(LiquityTrove(account="0x" + f"{k + 1:040x}", trove_id=k + 1, status=1,
                                  annual_interest_rate_wad=5 * 10**16, stake=E18, entire_debt_wei=(k + 1) * 10**21,
                                  entire_coll_wei=E18, batch_manager=None) for k in range(troves)))


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    base = sample_snapshot(40, seed=2)
    return base.model_copy(update={"venue_state": {"liquity_v2": LiquityState(branches=(_branch(),))}})


def test_the_liquity_state_is_declared_from_its_own_module():
    declared = {t.key: t for t in venue_state_types()}
    assert declared["liquity_v2"].model is LiquityState
    assert declared["liquity_v2"].module == "risk.venues.liquity_v2"
    assert declared["liquity_v2"].legacy_field == "liquity_branches"


def test_json_round_trip_keeps_the_typed_payload(snap, tmp_path):
    back = Snapshot.from_json(snap.to_json())
    assert back == snap
    state = back.venue_state["liquity_v2"]
    assert isinstance(state, LiquityState) and isinstance(state.branches, tuple)
    assert state.branches[0].troves[1].entire_debt_wei == 2 * 10**21
    assert Snapshot.load(snap.save(tmp_path / "s.json")) == snap
    # Python-mode validation (a dict dump) builds the same typed payload
    assert Snapshot.model_validate(snap.model_dump()) == snap


def test_a_snapshot_without_venue_state_has_none(snap):
    plain = sample_snapshot(10, seed=1)
    assert plain.venue_state == {}
    assert "venue_state" in json.loads(plain.to_json())


def _edited(snap: Snapshot, edit) -> str:
    data = json.loads(snap.to_json())
    edit(data)
    return json.dumps(data)


def test_an_unknown_payload_field_is_refused_naming_its_path(snap):
    text = _edited(snap, lambda d: d["venue_state"]["liquity_v2"]["branches"][0]["troves"][1].update(colour="red"))
    with pytest.raises(ValidationError) as err:
        Snapshot.from_json(text)
    message = str(err.value)
    assert "venue_state" in message and "liquity_v2.branches.0.troves.1.colour: unknown key" in message


def test_a_payload_is_strict_like_the_rest_of_the_file(snap):
    text = _edited(snap, lambda d: d["venue_state"]["liquity_v2"]["branches"][0].update(mcr_wad="1100000000000000000"))
    with pytest.raises(ValidationError, match=r"liquity_v2\.branches\.0\.mcr_wad: Input should be a valid integer"):
        Snapshot.from_json(text)
    negative = _edited(snap, lambda d: d["venue_state"]["liquity_v2"]["branches"][0].update(sp_deposits_wei=-1))
    with pytest.raises(ValidationError, match=r"sp_deposits_wei"):
        Snapshot.from_json(negative)


def test_a_payload_of_a_plugin_not_installed_is_a_clear_error(snap):
    text = _edited(snap, lambda d: d["venue_state"].update(moonlend={"vaults": []}))
    with pytest.raises(ValidationError) as err:
        Snapshot.from_json(text)
    assert "moonlend: no installed venue plugin declares this venue state (declared: " in str(err.value)
    assert "liquity_v2" in str(err.value)
    with pytest.raises(VenueStateError, match="moonlend"):
        venue_state_type("moonlend")


def test_an_old_snapshot_with_the_top_level_liquity_branches_still_loads(snap):
    def to_old(d):
        d["liquity_branches"] = d.pop("venue_state")["liquity_v2"]["branches"]

    old = _edited(snap, to_old)
    assert "venue_state" not in json.loads(old)
    assert Snapshot.from_json(old) == snap
    empty_old = _edited(sample_snapshot(10, seed=1), lambda d: d.update(liquity_branches=[]))
    assert Snapshot.from_json(empty_old).venue_state == {}
    both = _edited(snap, lambda d: d.update(liquity_branches=d["venue_state"]["liquity_v2"]["branches"]))
    with pytest.raises(ValidationError, match=r"liquity_branches\n.*both given"):
        Snapshot.from_json(both)
    # the old field's payload is validated like the new one
    bad_old = _edited(snap, lambda d: (to_old(d), d["liquity_branches"][0].update(extra=1)))
    with pytest.raises(ValidationError, match="unknown key"):
        Snapshot.from_json(bad_old)


def test_sources_are_joined_by_the_model():
    a, b = LiquityState(branches=(_branch("m1"),)), LiquityState(branches=(_branch("m2"), _branch("m3")))
    joined = combine_venue_states({"liquity_v2": [a, b]})
    assert [x.market for x in joined["liquity_v2"].branches] == ["m1", "m2", "m3"]
    assert combine_venue_states({"liquity_v2": []}) == {}


class _OneOnly(VenueState):
    total_wad: int = 0


def test_registration_rules_and_the_default_combine():
    register_venue_state(VenueStateType("test_one_only", _OneOnly, module=__name__))
    register_venue_state(VenueStateType("test_one_only", _OneOnly, module=__name__))  # re-import: same module, fine
    with pytest.raises(ValueError, match="registered twice"):
        register_venue_state(VenueStateType("test_one_only", _OneOnly, module="elsewhere"))
    with pytest.raises(ValueError, match="more than|2 sources"):
        combine_venue_states({"test_one_only": [_OneOnly(total_wad=1), _OneOnly(total_wad=2)]})
    assert combine_venue_states({"test_one_only": [_OneOnly(total_wad=1)]})["test_one_only"].total_wad == 1
    with pytest.raises(TypeError, match="VenueState"):
        register_venue_state(VenueStateType("test_not_a_state", dict, module=__name__))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="identifier"):
        register_venue_state(VenueStateType("not-an-identifier", _OneOnly, module=__name__))
    with pytest.raises(ValueError, match="legacy field 'liquity_branches'"):
        register_venue_state(VenueStateType("test_clash", _OneOnly, module=__name__, legacy_field="liquity_branches",
                                            from_legacy=lambda v: v))
