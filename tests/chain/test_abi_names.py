"""ABI outputs are read by name (``abis.named_outputs``), not by position: the struct fields of
Aave's ``getReserveData`` and Comet's ``getAssetInfo`` come back under the names the ABI declares,
a wrong value count is refused, and the readers hold no positional index into a decoded struct."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from eth_abi import encode

from abis import abi_function, named_outputs

ROOT = Path(__file__).resolve().parents[2]


def test_reserve_data_fields_by_name():
    fn = abi_function("AavePool", "getReserveData")
    a_token, stable, variable, strategy = ("0x" + c * 40 for c in "abcd")
    values = ((12345,), 1, 2, 3, 4, 5, 6, 7, a_token, stable, variable, strategy, 8, 9, 10)
    decoded = fn.decode(encode(list(fn.output_types), [values]))
    rd = named_outputs("AavePool", "getReserveData", decoded)
    assert rd["configuration"] == {"data": 12345}
    assert rd["id"] == 7 and rd["lastUpdateTimestamp"] == 6
    assert rd["aTokenAddress"].lower() == a_token and rd["variableDebtTokenAddress"].lower() == variable
    assert rd["stableDebtTokenAddress"].lower() == stable


def test_asset_info_and_plain_outputs_by_name():
    fn = abi_function("Comet", "getAssetInfo")
    feed = "0x" + "e" * 40
    decoded = fn.decode(encode(list(fn.output_types), [(3, "0x" + "f" * 40, feed, 10**18, 1, 2, 3, 4)]))
    info = named_outputs("Comet", "getAssetInfo", decoded)
    assert info["offset"] == 3 and info["priceFeed"].lower() == feed and info["supplyCap"] == 4
    basic = named_outputs("Comet", "userBasic", (-5, 1, 2, 3, 0))
    assert basic["principal"] == -5 and basic["assetsIn"] == 3


def test_wrong_value_count_is_refused():
    with pytest.raises(ValueError, match="2 values for 5 outputs"):
        named_outputs("Comet", "userBasic", (1, 2))
    with pytest.raises(ValueError, match="struct fields"):
        named_outputs("AavePool", "getEModeCategoryCollateralConfig", ((1, 2),))


@pytest.mark.parametrize("path", ["chain/aave_v3.py", "chain/compound_v3.py", "chain/uniswap_v3.py"])
def test_readers_hold_no_positional_struct_index(path):
    """``rd[7]``, ``values[4][1]``, ``decoded[k][0][0]``: a decoded struct indexed by position (the
    issue's example) must not come back in these readers (``decoded[k][0]``, the one output of call
    ``k``, is fine)."""
    text = (ROOT / path).read_text()
    offenders = [m.group(0) for m in re.finditer(r"\brd\[\d+\]|\]\[[1-9]\d*\]|\]\[\d+\]\[\d+\]", text)]
    assert not offenders, f"{path}: positional indexing of decoded results: {offenders}"
