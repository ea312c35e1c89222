"""The fast word encoder/decoder in abis/ must agree with eth-abi byte for byte."""

from eth_abi import decode, encode
from hypothesis import given, settings
from hypothesis import strategies as st

from abis import AbiFunction, abi_function

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
uints = st.integers(0, 2**256 - 1)


@settings(max_examples=300)
@given(addresses, addresses, uints)
def test_fast_encode_equals_eth_abi(a, b, n):
    fn = AbiFunction("f", "f(address,address,uint256)", b"\x01\x02\x03\x04", ("address", "address", "uint256"), ())
    assert fn.encode(a, b, n) == b"\x01\x02\x03\x04" + encode(["address", "address", "uint256"], [a, b, n])


@settings(max_examples=300)
@given(st.lists(st.integers(0, 2**128 - 1), min_size=1, max_size=6))
def test_fast_decode_equals_eth_abi(values):
    types = tuple("uint128" for _ in values)
    fn = AbiFunction("g", "g()", b"\0\0\0\0", (), types)
    data = encode(list(types), values)
    assert fn.decode(data) == tuple(decode(list(types), data))


def test_overflowing_word_is_rejected():
    fn = AbiFunction("g", "g()", b"\0\0\0\0", (), ("uint8",))
    import pytest

    with pytest.raises(ValueError):
        fn.decode((256).to_bytes(32, "big"))


def test_real_abi_selector():
    assert abi_function("AavePool", "getUserAccountData").selector.hex() == "bf92857c"
