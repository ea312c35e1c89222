"""Read Uniswap v3 pools at one pinned block into :class:`risk.snapshot.UniswapV3Pool` records.

Per pool, all at the same block number and all through Multicall3 ``aggregate3``
(:func:`chain.multicall.multicall`):

1. ``token0``, ``token1``, ``fee``, ``tickSpacing``, ``slot0``, ``liquidity`` (one aggregate);
2. every ``tickBitmap`` word the pool can use — compressed ticks ``MIN_TICK / spacing`` to
   ``MAX_TICK / spacing``, 256 per word (694 words at spacing 10, 6,932 at spacing 1): the set
   bits are the initialized ticks (``TickBitmap.flipTick`` in Uniswap/v3-core
   ``contracts/libraries/TickBitmap.sol``);
3. ``ticks(tick)`` of every initialized tick, keeping ``liquidityNet``.

Check before returning (a snapshot is the chain at its block or an error): the in-range
``liquidity`` must equal the sum of ``liquidityNet`` over the initialized ticks at or below the
current tick — what ``UniswapV3Pool.swap`` would reach by crossing them — else :class:`ReaderError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from eth_abi import decode, encode

from chain.aave_v3 import ReaderError, block_number, checksum, read_token_metadata
from chain.blocks import PinnedBlock
from chain.multicall import Call, multicall, selector
from chain.transport import Transport
from risk.snapshot import UniswapV3Pool
from risk.uniswap_v3 import MAX_TICK, MIN_TICK

WORD_BATCH_SIZE = 500
"""tickBitmap reads are one SLOAD each: large aggregates are cheap."""

# Output (name, type) pairs as IUniswapV3PoolState declares them (Uniswap/v3-core npm 1.0.1,
# contracts/interfaces/pool/IUniswapV3PoolState.sol, IUniswapV3PoolImmutables.sol): results are
# read by these names, never by position.
_META: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("token0()", (("token0", "address"),)), ("token1()", (("token1", "address"),)), ("fee()", (("fee", "uint24"),)),
    ("tickSpacing()", (("tickSpacing", "int24"),)),
    ("slot0()", (("sqrtPriceX96", "uint160"), ("tick", "int24"), ("observationIndex", "uint16"),
                 ("observationCardinality", "uint16"), ("observationCardinalityNext", "uint16"),
                 ("feeProtocol", "uint8"), ("unlocked", "bool"))),
    ("liquidity()", (("liquidity", "uint128"),)))
_TICKS_OUT = (("liquidityGross", "uint128"), ("liquidityNet", "int128"), ("feeGrowthOutside0X128", "uint256"),
              ("feeGrowthOutside1X128", "uint256"), ("tickCumulativeOutside", "int56"),
              ("secondsPerLiquidityOutsideX128", "uint160"), ("secondsOutside", "uint32"), ("initialized", "bool"))


def _decode_named(outputs: Sequence[tuple[str, str]], data: bytes) -> dict[str, object]:
    return dict(zip((n for n, _ in outputs), decode([t for _, t in outputs], data), strict=True))


def word_range(tick_spacing: int) -> range:
    """Every ``tickBitmap`` word position a pool with this spacing can set."""
    return range((MIN_TICK // tick_spacing) >> 8, ((MAX_TICK // tick_spacing) >> 8) + 1)


def read_pools(transport: Transport, block: PinnedBlock | int, addresses: Sequence[str],
               symbols: Mapping[str, str] | None = None) -> tuple[UniswapV3Pool, ...]:
    """The pools at ``addresses`` at the pinned block, in the order given.

    ``symbols``: token address (checksummed) -> symbol to use (e.g. the snapshot's unique
    symbols); tokens not in it get their ERC-20 ``symbol()``.
    """
    number = block_number(block)
    pools = [checksum(a, "Uniswap v3 pool") for a in addresses]
    if not pools:
        return ()
    calls = [Call(p, selector(sig)) for p in pools for sig, _ in _META]
    try:
        results = multicall(transport, calls, number, allow_failure=False)
    except Exception as exc:
        raise ReaderError(f"Uniswap v3 pool read failed at block {number} (not a pool?): {exc}") from exc
    meta = []
    for i, pool in enumerate(pools):
        v: dict[str, object] = {}
        for j, (_, out) in enumerate(_META):
            v.update(_decode_named(out, results[i * len(_META) + j].data))
        token0, token1 = checksum(str(v["token0"]), "token0"), checksum(str(v["token1"]), "token1")
        meta.append((pool, token0, token1, int(v["fee"]), int(v["tickSpacing"]), int(v["sqrtPriceX96"]),  # type: ignore[call-overload]
                     int(v["tick"]), int(v["liquidity"])))  # type: ignore[call-overload]

    word_calls, word_keys = [], []
    for pool, *_rest in meta:
        spacing = _rest[3]
        for word in word_range(spacing):
            word_calls.append(Call(pool, selector("tickBitmap(int16)") + encode(["int16"], [word])))
            word_keys.append((pool, spacing, word))
    word_results = multicall(transport, word_calls, number, batch_size=WORD_BATCH_SIZE, allow_failure=False)
    initialized: dict[str, list[int]] = {m[0]: [] for m in meta}
    for (pool, spacing, word), res in zip(word_keys, word_results):
        bits = int.from_bytes(res.data[:32], "big")
        while bits:
            low = bits & -bits
            initialized[pool].append(((word << 8) + low.bit_length() - 1) * spacing)
            bits ^= low
    tick_calls, tick_keys = [], []
    for pool, ticks in initialized.items():
        for tick in ticks:
            tick_calls.append(Call(pool, selector("ticks(int24)") + encode(["int24"], [tick])))
            tick_keys.append(pool)
    tick_results = multicall(transport, tick_calls, number, allow_failure=False)
    nets: dict[str, list[int]] = {m[0]: [] for m in meta}
    for pool, res in zip(tick_keys, tick_results):
        nets[pool].append(int(_decode_named(_TICKS_OUT, res.data)["liquidityNet"]))  # type: ignore[call-overload]

    tokens = {m[1] for m in meta} | {m[2] for m in meta}
    token_meta = read_token_metadata(transport, number, tokens)
    names = {a: (symbols or {}).get(a, token_meta[a].symbol) for a in tokens}
    out = []
    for pool, token0, token1, fee, spacing, sqrt_price, tick, liquidity in meta:
        ticks, net = initialized[pool], nets[pool]
        in_range = sum(n for t, n in zip(ticks, net) if t <= tick)
        if in_range != liquidity:
            raise ReaderError(f"pool {pool} at block {number}: liquidity {liquidity} != sum of liquidityNet at or "
                              f"below tick {tick} ({in_range}); the tick data is inconsistent")
        out.append(UniswapV3Pool(
            address=pool, token0=names[token0], token1=names[token1], token0_address=token0, token1_address=token1,
            decimals0=token_meta[token0].decimals, decimals1=token_meta[token1].decimals, fee_pips=fee,
            tick_spacing=spacing, sqrt_price_x96=sqrt_price, tick=tick, liquidity=liquidity, ticks=tuple(ticks),
            liquidity_net=tuple(net)))
    return tuple(out)


def pool_addresses(pools: Iterable[UniswapV3Pool]) -> list[str]:
    return [p.address for p in pools]


__all__ = ["WORD_BATCH_SIZE", "read_pools", "word_range"]
