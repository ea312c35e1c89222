"""Sky/Maker vaults on the devnet: the dss TEST DOUBLE (``chain/contracts/DssDouble.sol``) and a
seeded population of urns.

``deploy_sky`` deploys Vat, Spotter, Dog, a settable Pip per ilk, a Clipper per ilk with its
Abacus (ETH-A: StairstepExponentialDecrease, WSTETH-A: LinearDecrease) and a DAI token (only
as the debt asset's address), with mainnet-like parameters (``ILK_PARAMS``). ``populate_sky``
opens urns with a seeded ``numpy.random.Generator``: gem is credited with ``Vat.slip`` by the
deployer, the urn (an impersonated, deterministic address) ``frob``s it in and draws DAI; one urn in
ten ``fork``s part of its position into a fresh urn that is never frobbed (so discovery must read
the ``fork`` notes too). A ``Vat.fold`` then accrues stability fees (``rate`` > 1), and the
Spotter is poked: every urn is safe at the start prices.

Nothing here is Maker's code: the double implements dss's read interface and liquidation math
from the dss sources (cited in the .sol file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from eth_utils import keccak, to_checksum_address

from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import compile_own_contracts
from chain.sky_vaults import ilk_bytes32
from risk.sky_vaults import RAD, RAY, WAD

# Per ilk: gem symbol, mat, chop, dust (DAI), line (DAI), hole (DAI), buf, tail (s), cusp, curve.
# (WSTETH-A's hole is devnet-sized, see GLOBAL_HOLE_DAI.)
ILK_PARAMS: dict[str, dict[str, Any]] = {
    "ETH-A": {"gem": "WETH", "mat": 1.45, "chop": 1.13, "dust": 7_500, "line": 10**9, "hole": 40_000_000,
              "buf": 1.10, "tail": 7_200, "cusp": 0.45, "curve": ("stairstep", {"cut": 0.99, "step": 90})},
    "WSTETH-A": {"gem": "wstETH", "mat": 1.50, "chop": 1.13, "dust": 7_500, "line": 10**9, "hole": 2_500_000,
                 "buf": 1.20, "tail": 8_400, "cusp": 0.40, "curve": ("linear", {"tau": 14_400})},
}
GLOBAL_HOLE_DAI = 12_000_000
"""The Dog's ``Hole``. ETH-A keeps a mainnet-like ``hole`` (40M DAI, never binding here); WSTETH-A's
``hole`` (2.5M) and the global ``Hole`` (12M) are scaled to the devnet's population (an urn per six
borrowers, ~$0.4M debt each: the demo's 300 borrowers hold ~$20M of Sky debt), so that in a deep
drawdown both limits bind and the cascade barks less than every unsafe urn (Dog.bark's partial and
refused liquidations: chain/contracts/DssDouble.sol, risk/sky_vaults.py)."""
STABILITY_RATE = 1.05  # rate after the population's fold (5% accrued)
_GAS = 600_000
_URN_ETH_WEI = 10 * 10**18


def _ray(x: float) -> int:
    return int(round(x * 10**9)) * 10**18


def _wad(x: float) -> int:
    return int(round(x * 10**9)) * 10**9


@dataclass(frozen=True, slots=True)
class SkyIlkDeployment:
    name: str
    gem_symbol: str
    gem: str
    pip: str
    clip: str
    calc: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "gem_symbol": self.gem_symbol, "gem": self.gem, "pip": self.pip,
                "clip": self.clip, "calc": self.calc}


@dataclass(frozen=True, slots=True)
class SkyDeployment:
    """The dss double's addresses (checksummed)."""

    vat: str
    spotter: str
    dog: str
    dai: str
    ilks: tuple[SkyIlkDeployment, ...]
    deploy_block: int

    def to_dict(self) -> dict[str, Any]:
        return {"vat": self.vat, "spotter": self.spotter, "dog": self.dog, "dai": self.dai,
                "ilks": [i.to_dict() for i in self.ilks], "deploy_block": self.deploy_block}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SkyDeployment":
        return cls(d["vat"], d["spotter"], d["dog"], d["dai"], tuple(SkyIlkDeployment(**i) for i in d["ilks"]),
                   int(d["deploy_block"]))

    def ilk(self, name: str) -> SkyIlkDeployment:
        for i in self.ilks:
            if i.name == name:
                return i
        raise KeyError(f"no ilk {name!r} on the devnet; have {[i.name for i in self.ilks]}")


def deploy_sky(rpc: DevnetRpc, deployer: str, tokens: Mapping[str, str], prices_usd: Mapping[str, float],
               *, ilk_params: Mapping[str, Mapping[str, Any]] = ILK_PARAMS) -> SkyDeployment:
    """Deploy and configure the dss double for ``ilk_params`` (gems from ``tokens``)."""
    own = compile_own_contracts()

    def deploy(name: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> str:
        code = own[name].bytecode + (encode_args(types, args) if types else "")
        return rpc.deploy(deployer, code, gas=6_000_000, what=f"deploy {name}")

    dai = deploy("TestERC20", ("string", "string", "uint8"), ("devnet Dai", "DAI", 18))
    vat = deploy("VatDouble")
    spotter = deploy("SpotterDouble", ("address",), (vat,))
    dog = deploy("DogDouble", ("address",), (vat,))
    txs = [
        Tx(deployer, vat, encode_call("rely(address)", spotter), _GAS),
        Tx(deployer, vat, encode_call("rely(address)", dog), _GAS),
        Tx(deployer, vat, encode_call("file(bytes32,uint256)", b"Line".ljust(32, b"\0"), 10**12 * RAD), _GAS),
        Tx(deployer, dog, encode_call("file(bytes32,uint256)", b"Hole".ljust(32, b"\0"), GLOBAL_HOLE_DAI * RAD), _GAS),
    ]
    ilks = []
    for name, p in ilk_params.items():
        word = ilk_bytes32(name)
        gem_symbol = p["gem"]
        pip = deploy("PipDouble", ("uint256",), (_wad(prices_usd[gem_symbol]),))
        kind, curve = p["curve"]
        if kind == "stairstep":
            calc = deploy("StairstepExponentialDecreaseDouble")
            txs += [Tx(deployer, calc, encode_call("file(bytes32,uint256)", b"cut".ljust(32, b"\0"), _ray(curve["cut"])), _GAS),
                    Tx(deployer, calc, encode_call("file(bytes32,uint256)", b"step".ljust(32, b"\0"), curve["step"]), _GAS)]
        else:
            calc = deploy("LinearDecreaseDouble")
            txs.append(Tx(deployer, calc, encode_call("file(bytes32,uint256)", b"tau".ljust(32, b"\0"), curve["tau"]), _GAS))
        txs += [
            Tx(deployer, vat, encode_call("init(bytes32)", word), _GAS),
            Tx(deployer, vat, encode_call("file(bytes32,bytes32,uint256)", word, b"line".ljust(32, b"\0"), p["line"] * RAD), _GAS),
            Tx(deployer, vat, encode_call("file(bytes32,bytes32,uint256)", word, b"dust".ljust(32, b"\0"), p["dust"] * RAD), _GAS),
            Tx(deployer, spotter, encode_call("file(bytes32,bytes32,address)", word, b"pip".ljust(32, b"\0"), pip), _GAS),
            Tx(deployer, spotter, encode_call("file(bytes32,bytes32,uint256)", word, b"mat".ljust(32, b"\0"), _ray(p["mat"])), _GAS),
            Tx(deployer, spotter, encode_call("poke(bytes32)", word), _GAS),
            Tx(deployer, dog, encode_call("file(bytes32,bytes32,uint256)", word, b"chop".ljust(32, b"\0"), _wad(p["chop"])), _GAS),
            Tx(deployer, dog, encode_call("file(bytes32,bytes32,uint256)", word, b"hole".ljust(32, b"\0"), p["hole"] * RAD), _GAS),
        ]
        rpc.send_bulk(txs, what=f"configure Sky {name}")
        txs = []
        clip = deploy("ClipperDouble", ("address", "address", "address", "bytes32"), (vat, spotter, dog, word))
        txs += [
            Tx(deployer, dog, encode_call("file(bytes32,bytes32,address)", word, b"clip".ljust(32, b"\0"), clip), _GAS),
            Tx(deployer, dog, encode_call("rely(address)", clip), _GAS),
            Tx(deployer, vat, encode_call("rely(address)", clip), _GAS),
            Tx(deployer, clip, encode_call("rely(address)", dog), _GAS),
            Tx(deployer, clip, encode_call("file(bytes32,uint256)", b"buf".ljust(32, b"\0"), _ray(p["buf"])), _GAS),
            Tx(deployer, clip, encode_call("file(bytes32,uint256)", b"tail".ljust(32, b"\0"), p["tail"]), _GAS),
            Tx(deployer, clip, encode_call("file(bytes32,uint256)", b"cusp".ljust(32, b"\0"), _ray(p["cusp"])), _GAS),
            Tx(deployer, clip, encode_call("file(bytes32,address)", b"calc".ljust(32, b"\0"), calc), _GAS),
        ]
        ilks.append(SkyIlkDeployment(name, gem_symbol, to_checksum_address(tokens[gem_symbol]), pip, clip, calc))
    rpc.send_bulk(txs, what="configure Sky clippers")
    return SkyDeployment(vat, spotter, dog, dai, tuple(ilks), rpc.block_number())


# ------------------------------------------------------------------------------------ population


@dataclass(frozen=True, slots=True)
class UrnPlan:
    ilk: str
    urn: str
    ink_wad: int
    art_wad: int  # at rate = RAY (before the fold)
    fork_to: str | None = None
    fork_ink_wad: int = 0
    fork_art_wad: int = 0


def urn_address(seed: int, index: int) -> str:
    return to_checksum_address(keccak(text=f"liqrisk-sky-urn:{seed}:{index}")[-20:])


def plan_urns(n_urns: int, seed: int, prices_usd: Mapping[str, float],
              ilk_params: Mapping[str, Mapping[str, Any]] = ILK_PARAMS) -> list[UrnPlan]:
    """Seeded urns: 60% ETH-A, 40% WSTETH-A; collateral ratio ``mat * U(1.06, 2.6)`` after the fold,
    a third of them in a cluster just above ``mat`` (liquidated by a 10-20% drawdown)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5C1]))
    names = list(ilk_params)
    plans = []
    for i in range(n_urns):
        name = names[0] if (rng.random() < 0.6 or len(names) == 1) else names[1]
        p = ilk_params[name]
        price = float(prices_usd[p["gem"]])
        coll_usd = float(np.exp(rng.uniform(np.log(30_000), np.log(3_000_000))))
        ratio = p["mat"] * (rng.uniform(1.12, 1.25) if rng.random() < 0.35 else rng.uniform(1.06, 2.6))
        forks = i % 10 == 9
        debt_dai = max(coll_usd / ratio, p["dust"] * (4.5 if forks else 1.5))  # both fork halves above dust
        coll_usd = max(coll_usd, debt_dai * ratio)
        ink = _wad(coll_usd / price)
        art = int(debt_dai / STABILITY_RATE * 1e6) * 10**12  # debt after fold = art * STABILITY_RATE
        plan = UrnPlan(name, urn_address(seed, i), ink, art)
        if forks:
            fork_to = urn_address(seed, 1_000_000 + i)
            plan = UrnPlan(name, plan.urn, ink, art, fork_to, ink // 2, art // 2)
        plans.append(plan)
    return plans


@dataclass(frozen=True, slots=True)
class SkyPopulation:
    seed: int
    urns: Mapping[str, tuple[str, ...]]  # ilk -> urn addresses (forked-into urns included)
    first_block: int
    last_block: int

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "urns": {k: list(v) for k, v in self.urns.items()},
                "first_block": self.first_block, "last_block": self.last_block}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SkyPopulation":
        return cls(int(d["seed"]), {k: tuple(v) for k, v in d["urns"].items()}, int(d["first_block"]),
                   int(d["last_block"]))


def populate_sky(rpc: DevnetRpc, deployer: str, sky: SkyDeployment, prices_usd: Mapping[str, float],
                 n_urns: int, seed: int) -> SkyPopulation:
    """Open ``n_urns`` seeded urns (plus their fork targets), then fold the rate to ``STABILITY_RATE``."""
    plans = plan_urns(n_urns, seed, prices_usd)
    first_block = rpc.block_number() + 1
    actors = sorted({p.urn for p in plans} | {p.fork_to for p in plans if p.fork_to})
    rpc.batch([c for a in actors for c in (("anvil_impersonateAccount", [a]), ("anvil_setBalance", [a, hex(_URN_ETH_WEI)]))])
    # Three phases, because a block may order different senders' transactions either way.
    slips = [Tx(deployer, sky.vat, encode_call("slip(bytes32,address,int256)", ilk_bytes32(p.ilk), p.urn, p.ink_wad),
                _GAS) for p in plans]
    rpc.send_bulk(slips, what="Sky gems")
    frobs = [Tx(p.urn, sky.vat, encode_call("frob(bytes32,address,address,address,int256,int256)", ilk_bytes32(p.ilk),
                                            p.urn, p.urn, p.urn, p.ink_wad, p.art_wad), _GAS) for p in plans]
    frobs += [Tx(p.fork_to, sky.vat, encode_call("hope(address)", p.urn), _GAS) for p in plans if p.fork_to]
    rpc.send_bulk(frobs, what="Sky urns")
    forks = [Tx(p.urn, sky.vat, encode_call("fork(bytes32,address,address,int256,int256)", ilk_bytes32(p.ilk), p.urn,
                                            p.fork_to, p.fork_ink_wad, p.fork_art_wad), _GAS) for p in plans if p.fork_to]
    rpc.send_bulk(forks, what="Sky forks")
    fold = [Tx(deployer, sky.vat, encode_call("fold(bytes32,address,int256)", ilk_bytes32(i.name), deployer,
                                              _ray(STABILITY_RATE) - RAY), _GAS) for i in sky.ilks]
    rpc.send_bulk(fold, what="Sky fold")
    rpc.batch([("anvil_stopImpersonatingAccount", [a]) for a in actors])
    urns: dict[str, list[str]] = {i.name: [] for i in sky.ilks}
    for p in plans:
        urns[p.ilk].append(p.urn)
        if p.fork_to:
            urns[p.ilk].append(p.fork_to)
    return SkyPopulation(seed, {k: tuple(v) for k, v in urns.items()}, first_block, rpc.block_number())


def set_sky_price(rpc: DevnetRpc, deployer: str, sky: SkyDeployment, gem_symbol: str, price_usd: float) -> None:
    """Set the Pip of every ilk whose gem is ``gem_symbol`` and poke the Spotter (one block)."""
    txs = []
    for i in sky.ilks:
        if i.gem_symbol == gem_symbol:
            txs.append(Tx(deployer, i.pip, encode_call("poke(uint256)", _wad(price_usd)), _GAS))
            txs.append(Tx(deployer, sky.spotter, encode_call("poke(bytes32)", ilk_bytes32(i.name)), _GAS))
    rpc.send_bulk(txs, what=f"Sky price {gem_symbol}")



# ------------------------------------------------------------------ the devnet plugin (chain.devnet.plugins)


def _devnet_price(ctx: Any, sky: SkyDeployment, symbol: str, price_usd: Any) -> None:
    if any(i.gem_symbol == symbol for i in sky.ilks):
        set_sky_price(ctx.rpc, ctx.deployer, sky, symbol, float(price_usd * 10**8) / 10**8)


def _register_devnet() -> None:
    from chain.devnet.plugins import DevnetVenue, register_devnet_venue

    register_devnet_venue(DevnetVenue(
        "sky", order=10, module=__name__,  # before the Uniswap pools, as the devnet always deployed it
        deploy=lambda ctx: deploy_sky(ctx.rpc, ctx.deployer, ctx.tokens, ctx.start_prices_usd),
        from_dict=SkyDeployment.from_dict,
        # one urn per six borrowers (at least 12)
        populate=lambda ctx, sky, n, seed: populate_sky(ctx.rpc, ctx.deployer, sky, ctx.start_prices_usd,
                                                        max(12, n // 6), seed),
        set_price=_devnet_price,
    ))


_register_devnet()

__all__ = [
    "GLOBAL_HOLE_DAI", "ILK_PARAMS", "STABILITY_RATE", "SkyDeployment", "SkyIlkDeployment", "SkyPopulation", "UrnPlan",
    "WAD", "deploy_sky", "plan_urns", "populate_sky", "set_sky_price", "urn_address",
]
