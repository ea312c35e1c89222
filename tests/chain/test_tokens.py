"""chain.tokens: decoding what ERC-20 tokens answer to symbol() / decimals(), hostile answers included.

Return data is built with eth-abi the way a contract's ABI encoder would (string, bytes32, uint);
the devnet versions of these tokens are in tests/chain/test_hostile.py.
"""

from __future__ import annotations

from eth_abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.tokens import MAX_DECIMALS, MAX_SYMBOL_CHARS, clean_symbol, decode_decimals, decode_symbol


def test_string_and_bytes32_symbols():
    assert decode_symbol(encode(["string"], ["WETH"])) == ("WETH", "string")
    assert decode_symbol(b"MKR".ljust(32, b"\x00")) == ("MKR", "bytes32")
    assert decode_symbol(encode(["bytes32"], [b"SAI".ljust(32, b"\x00")])) == ("SAI", "bytes32")
    assert decode_symbol(encode(["string"], ["USD₮0"])) == ("USD₮0", "string")  # currency signs are kept


def test_unusable_symbols():
    assert decode_symbol(b"") == (None, "none")
    assert decode_symbol(b"\x00" * 32) == (None, "none")
    assert decode_symbol(b"\x01\x02") == (None, "none")
    assert decode_symbol(encode(["string"], [" \n\t|<>`"])) == (None, "none")


def test_markup_and_length_are_cleaned():
    assert clean_symbol("OD|D<b>\n`") == "ODDb"
    assert clean_symbol("a" * 100) == "a" * MAX_SYMBOL_CHARS
    assert clean_symbol("wstETH") == "wstETH" and clean_symbol("USDC.e") == "USDC.e"


@settings(deadline=None, derandomize=True, max_examples=200)
@given(st.text(max_size=80))
def test_any_string_symbol_decodes_to_something_safe(text):
    symbol, source = decode_symbol(encode(["string"], [text]))
    if symbol is not None:
        assert source in ("string", "bytes32") and 0 < len(symbol) <= MAX_SYMBOL_CHARS
        assert not set(symbol) & set("|<>`*[]\n\r\t ")


def test_decimals():
    assert decode_decimals(encode(["uint8"], [6])) == (6, None)
    assert decode_decimals(encode(["uint256"], [MAX_DECIMALS])) == (MAX_DECIMALS, None)
    value, problem = decode_decimals(encode(["uint256"], [255]))
    assert value is None and "out of range" in problem
    value, problem = decode_decimals(b"")
    assert value is None and "no value" in problem
    value, problem = decode_decimals(b"\x12")
    assert value is None and "1 bytes" in problem
