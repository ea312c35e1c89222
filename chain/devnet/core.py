"""The local devnet: anvil + genuine Aave V3 + genuine Morpho Blue + genuine Uniswap v3 + Comet test double + Multicall3.

``Devnet`` drives one anvil node from Python; ``devnet_up`` / ``devnet_status`` /
``devnet_down`` keep a detached node described by a state file (``.liqrisk-cache/devnet/
state.json``) for the CLI. Block timestamps are deterministic: fixed genesis (chain.anvil) and
a fixed interval per mined block, so the same seed gives the same chain state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from eth_utils import to_checksum_address

from chain.anvil import AnvilProcess, _alive, start_anvil, stop_process_group
from chain.locations import cache_root
from chain.devnet import population as _population
from chain.devnet.deploy_aave import AaveDeployment, deploy_aave
from chain.devnet.deploy_aave36 import deploy_aave36
from chain.devnet.deploy_morpho import MorphoDeployment, MorphoMarket, deploy_morpho, oracle_price
from chain.devnet.deploy_uniswap import UniswapDeployment, deploy_uniswap
from chain.devnet.plugins import UNISWAP_ORDER, DevnetContext, devnet_venue_keys, devnet_venues
from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import compile_own_contracts
from chain.files import write_atomic

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
BLOCK_INTERVAL_S = 12
TOKEN_DECIMALS: dict[str, int] = {"WETH": 18, "WBTC": 8, "USDC": 6, "wstETH": 18}
FEED_DECIMALS = _population.FEED_DECIMALS
START_PRICES_USD = _population.START_PRICES_USD
DEFAULT_N_BORROWERS = 300
DEFAULT_SEED = 7


class DevnetError(RuntimeError):
    pass


def default_state_path() -> Path:
    return cache_root() / "devnet" / "state.json"


@dataclass(frozen=True, slots=True)
class DevnetDeployment:
    """Everything deployed on the devnet (addresses checksummed; ``decimals`` per token symbol).

    The Comet double uses the same 8-decimal USD feeds as AaveOracle (``aave.price_feeds``).
    ``aave`` is Aave v3.0.2 (the Spark line), ``aave36`` the genuine Aave v3.6 market (same
    tokens, and its AaveOracle reads the same feeds, ``aave.price_feeds`` = ``aave36.price_feeds``).
    ``aave36`` is None only in state files written before it existed.

    ``parts``: the deployments of plugin venues (:mod:`chain.devnet.plugins`: the Sky dss double,
    the Liquity v2 double, the Euler EVC/EVK double, ...), by key; read as attributes
    (``dep.sky``, None when that venue was not deployed).
    """

    rpc_url: str
    chain_id: int
    deployer: str  # anvil account 0: owner/admin of everything
    lender: str  # anvil account 1: supplies loan liquidity
    tokens: Mapping[str, str]
    decimals: Mapping[str, int]
    aave: AaveDeployment
    morpho: MorphoDeployment
    comet_double: str
    multicall3: str
    deploy_block: int
    uniswap: UniswapDeployment | None = None  # genuine Uniswap v3 pools (chain.devnet.deploy_uniswap)
    aave36: AaveDeployment | None = None
    parts: Mapping[str, Any] = field(default_factory=dict)  # plugin venues (chain.devnet.plugins), by key

    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails: a registered plugin key reads its part (or None)
        if not name.startswith("_") and name in devnet_venue_keys():
            return self.parts.get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_json(self) -> str:
        return json.dumps({
            **{key: part.to_dict() if part is not None else None for key, part in self.parts.items()},
            "rpc_url": self.rpc_url, "chain_id": self.chain_id, "deployer": self.deployer, "lender": self.lender,
            "tokens": dict(self.tokens), "decimals": dict(self.decimals), "aave": self.aave.to_dict(),
            "morpho": self.morpho.to_dict(), "comet_double": self.comet_double, "multicall3": self.multicall3,
            "deploy_block": self.deploy_block,
            "uniswap": self.uniswap.to_dict() if self.uniswap else None,
            "aave36": self.aave36.to_dict() if self.aave36 else None,
        }, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DevnetDeployment":
        d = json.loads(text)
        return cls(
            rpc_url=d["rpc_url"], chain_id=d["chain_id"], deployer=d["deployer"], lender=d["lender"],
            tokens=dict(d["tokens"]), decimals={k: int(v) for k, v in d["decimals"].items()},
            aave=AaveDeployment.from_dict(d["aave"]), morpho=MorphoDeployment.from_dict(d["morpho"]),
            comet_double=d["comet_double"], multicall3=d["multicall3"], deploy_block=d["deploy_block"],
            uniswap=UniswapDeployment.from_dict(d["uniswap"]) if d.get("uniswap") else None,
            aave36=AaveDeployment.from_dict(d["aave36"]) if d.get("aave36") else None,
            parts={p.key: p.from_dict(d[p.key]) for p in devnet_venues() if d.get(p.key)},
        )

    def context(self, rpc: DevnetRpc) -> DevnetContext:
        """The :class:`chain.devnet.plugins.DevnetContext` of this deployment (for plugin hooks)."""
        return DevnetContext(rpc, self.deployer, (), self.tokens, self.decimals, self.aave.price_feeds,
                             {s: float(p) for s, p in START_PRICES_USD.items()}, BLOCK_INTERVAL_S)


class Devnet:
    """One anvil node with the liqrisk contracts. Use as a context manager or call ``stop()``.

    Pass ``rpc_url`` to attach to an already running (deployed) node instead of starting one.
    """

    def __init__(self, *, port: int | None = None, rpc_url: str | None = None,
                 deployment: DevnetDeployment | None = None, chain_id: int = 31337) -> None:
        self._port = port
        self._chain_id = chain_id
        self.process: AnvilProcess | None = None
        self.rpc: DevnetRpc | None = DevnetRpc(rpc_url) if rpc_url else None
        self.deployment = deployment
        self.population: _population.Population | None = None
        self.populations: dict[str, Any] = {}  # plugin venues' populations, by key (chain.devnet.plugins)

    def __getattr__(self, name: str) -> Any:
        # ``<key>_population`` of a registered plugin venue (e.g. sky_population): None before populate()
        if name.endswith("_population") and name.removesuffix("_population") in devnet_venue_keys():
            return self.__dict__.get("populations", {}).get(name.removesuffix("_population"))
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def from_state(cls, *, state_path: Path | None = None) -> "Devnet":
        """Attach to the detached node recorded by :func:`devnet_up` (``stop()`` then only closes
        the connection; use :func:`devnet_down` to stop the node)."""
        status = devnet_status(state_path=state_path)
        if not status["running"]:
            raise DevnetError(f"no running devnet recorded at {status['state_path']}: run devnet_up first")
        net = cls(rpc_url=status["rpc_url"], deployment=DevnetDeployment.from_json(json.dumps(status["deployment"])))
        net.population = _population.Population.from_dict(status["population"])
        return net

    # --------------------------------------------------------------------------- lifecycle

    def start(self, *, detach: bool = False) -> "Devnet":
        if self.rpc is not None:
            raise DevnetError("devnet already started / attached")
        self.process = start_anvil(port=self._port, detach=detach, chain_id=self._chain_id)
        self.rpc = DevnetRpc(self.process.rpc_url)
        # Deterministic timestamps: each mined block is BLOCK_INTERVAL_S after the previous one.
        self.rpc.request("anvil_setBlockTimestampInterval", [BLOCK_INTERVAL_S])
        return self

    def stop(self) -> None:
        if self.rpc is not None:
            self.rpc.close()
        if self.process is not None:
            self.process.stop()
        self.process = None
        self.rpc = None

    def __enter__(self) -> "Devnet":
        if self.rpc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rpc_url(self) -> str:
        return self._rpc().url

    def _rpc(self) -> DevnetRpc:
        if self.rpc is None:
            raise DevnetError("devnet not started")
        return self.rpc

    def _dep(self) -> DevnetDeployment:
        if self.deployment is None:
            raise DevnetError("devnet not deployed: call deploy() first")
        return self.deployment

    # ----------------------------------------------------------------------------- deploy

    def deploy(self) -> DevnetDeployment:
        """Deploy tokens, USD feeds, Aave v3.0.2, Aave v3.6, Morpho Blue, the Comet double and Multicall3."""
        if self.deployment is not None:
            raise DevnetError("already deployed")
        rpc = self._rpc()
        accounts = rpc.accounts()
        deployer, lender, treasury = accounts[0], accounts[1], accounts[9]
        own = compile_own_contracts()
        tokens: dict[str, str] = {}
        feeds: dict[str, str] = {}
        answers = {s: START_PRICES_USD[s] * 10**FEED_DECIMALS for s in TOKEN_DECIMALS}
        for sym, dec in TOKEN_DECIMALS.items():
            code = own["TestERC20"].bytecode + encode_args(("string", "string", "uint8"), (f"devnet {sym}", sym, dec))
            tokens[sym] = rpc.deploy(deployer, code, gas=3_000_000, what=f"deploy {sym}")
        for sym in TOKEN_DECIMALS:
            code = own["SettablePriceFeed"].bytecode + encode_args(
                ("uint8", "string", "int256"), (FEED_DECIMALS, f"{sym} / USD", answers[sym]))
            feeds[sym] = rpc.deploy(deployer, code, gas=3_000_000, what=f"deploy {sym} feed")
        aave = deploy_aave(rpc, deployer, treasury, tokens, TOKEN_DECIMALS, feeds)
        aave36 = deploy_aave36(rpc, deployer, treasury, tokens, TOKEN_DECIMALS, feeds)
        morpho = deploy_morpho(rpc, deployer, tokens, TOKEN_DECIMALS, answers)
        comet = self._deploy_comet(rpc, deployer, own["CometDouble"].bytecode, tokens, feeds)
        rpc.request("anvil_setCode", [MULTICALL3_ADDRESS, own["Multicall3"].deployed_bytecode])
        # Plugin venues (chain.devnet.plugins: Sky, Liquity v2, Euler v2, ...) deploy from their own
        # files, in their order; those ordered before UNISWAP_ORDER go before the Uniswap pools.
        ctx = DevnetContext(rpc, deployer, tuple(accounts), tokens, dict(TOKEN_DECIMALS), feeds,
                            {s: float(p) for s, p in START_PRICES_USD.items()}, BLOCK_INTERVAL_S)
        plugins = devnet_venues()
        parts: dict[str, Any] = {p.key: p.deploy(ctx) for p in plugins if p.order < UNISWAP_ORDER}
        uniswap = deploy_uniswap(rpc, deployer, accounts[3], tokens, TOKEN_DECIMALS, START_PRICES_USD)
        parts.update({p.key: p.deploy(ctx) for p in plugins if p.order >= UNISWAP_ORDER})
        self.deployment = DevnetDeployment(
            rpc_url=rpc.url, chain_id=int(rpc.request("eth_chainId", []), 16), deployer=deployer, lender=lender,
            tokens=tokens, decimals=dict(TOKEN_DECIMALS), aave=aave, morpho=morpho, comet_double=comet,
            multicall3=MULTICALL3_ADDRESS, deploy_block=rpc.block_number(), uniswap=uniswap, aave36=aave36,
            parts=parts,
        )
        return self.deployment

    @staticmethod
    def _deploy_comet(rpc: DevnetRpc, deployer: str, bytecode: str, tokens: Mapping[str, str],
                      feeds: Mapping[str, str]) -> str:
        assets = []
        for i, sym in enumerate(("WETH", "WBTC")):
            borrow_cf, liq_cf, liq_factor = _population.COMET_FACTORS[sym]
            scale = 10 ** TOKEN_DECIMALS[sym]
            assets.append((i, tokens[sym], feeds[sym], scale, borrow_cf, liq_cf, liq_factor, 10**9 * scale))
        args = encode_args(
            ("address", "address", "uint256", "(uint8,address,address,uint64,uint64,uint64,uint64,uint128)[]"),
            (tokens["USDC"], feeds["USDC"], 10 ** TOKEN_DECIMALS["USDC"], assets))
        return rpc.deploy(deployer, bytecode + args, gas=5_000_000, what="deploy CometDouble")

    def populate(self, n_borrowers: int = DEFAULT_N_BORROWERS, seed: int = DEFAULT_SEED,
                 n_aave36: int | None = None) -> _population.Population:
        """Open the seeded borrower population (see :mod:`chain.devnet.population`); the Aave v3.6
        market gets ``n_aave36`` borrowers of its own (default ``n_borrowers // 2``)."""
        self.population = _population.populate(self._rpc(), self._dep(), n_borrowers, seed, n_aave36)
        dep = self._dep()
        ctx = dep.context(self._rpc())
        for plugin in devnet_venues():  # each plugin venue sizes its own population from n_borrowers
            part = dep.parts.get(plugin.key)
            if part is not None and plugin.populate is not None:
                self.populations[plugin.key] = plugin.populate(ctx, part, n_borrowers, seed)
        return self.population

    # ------------------------------------------------------------------------------ prices

    def feed_answer(self, symbol: str) -> int:
        """Current 8-decimal USD answer of ``symbol``'s feed."""
        (value,) = self._rpc().call_decode(self._feed(symbol), "latestAnswer()", (), ("int256",))
        return int(value)

    def _feed(self, symbol: str) -> str:
        feeds = self._dep().aave.price_feeds
        if symbol not in feeds:
            raise DevnetError(f"unknown token symbol {symbol!r}; known: {sorted(feeds)}")
        return feeds[symbol]

    def set_feed_answer(self, symbol: str, raw: int) -> None:
        """Set only ``symbol``'s USD feed (8 decimals) — seen by both AaveOracles and the Comet
        double, in one block. Morpho oracles are left alone (see :meth:`set_morpho_oracle_price`)."""
        self._rpc().transact(Tx(self._dep().deployer, self._feed(symbol), encode_call("setAnswer(int256)", raw),
                                200_000), what=f"setAnswer {symbol}")

    def set_morpho_oracle_price(self, market: str, raw: int) -> None:
        """Set one Morpho market's OracleMock price (1e36 × 10^(loanDec − collDec) scale)."""
        m = self._market(market)
        self._rpc().transact(Tx(self._dep().deployer, m.oracle, encode_call("setPrice(uint256)", raw), 200_000),
                             what=f"setPrice {market}")

    def _market(self, market: str) -> MorphoMarket:
        markets = self._dep().morpho.markets
        if market not in markets:
            raise DevnetError(f"unknown Morpho market {market!r}; known: {sorted(markets)}")
        return markets[market]

    def set_price_usd(self, symbol: str, price_usd: float | int | str | Decimal) -> None:
        """Move ``symbol`` to ``price_usd`` everywhere, in one block: its USD feeds (both AaveOracles
        and the Comet double) and every Morpho oracle of a market that uses it (recomputed from the
        feeds). The price must be representable with 8 decimals."""
        raw_dec = Decimal(str(price_usd)) * 10**FEED_DECIMALS
        if raw_dec != raw_dec.to_integral_value() or raw_dec <= 0:
            raise DevnetError(f"price {price_usd!r} for {symbol} must be > 0 with at most 8 decimals")
        raw = int(raw_dec)
        dep = self._dep()
        answers = {s: self.feed_answer(s) for s in dep.tokens}
        answers[symbol] = raw
        txs = [Tx(dep.deployer, self._feed(symbol), encode_call("setAnswer(int256)", raw), 200_000)]
        for name, m in dep.morpho.markets.items():
            coll, loan = name.split("/")
            if symbol in (coll, loan):
                price = oracle_price(answers[coll], dep.decimals[coll], answers[loan], dep.decimals[loan])
                txs.append(Tx(dep.deployer, m.oracle, encode_call("setPrice(uint256)", price), 200_000))
        self._rpc().send_bulk(txs, what=f"set_price_usd {symbol}")
        ctx = dep.context(self._rpc())
        for plugin in devnet_venues():  # plugin venues' own oracles (each ignores a symbol it does not use)
            part = dep.parts.get(plugin.key)
            if part is not None and plugin.set_price is not None:
                plugin.set_price(ctx, part, symbol, raw_dec / 10**FEED_DECIMALS)

    def morpho_oracle_price(self, market: str) -> int:
        (value,) = self._rpc().call_decode(self._market(market).oracle, "price()", (), ("uint256",))
        return int(value)

    # ------------------------------------------------------------------------------- misc

    def fund(self, account: str, symbol: str, amount_raw: int) -> None:
        """Mint ``amount_raw`` of ``symbol`` (raw token units) to ``account``."""
        dep = self._dep()
        if symbol not in dep.tokens:
            raise DevnetError(f"unknown token symbol {symbol!r}; known: {sorted(dep.tokens)}")
        self._rpc().transact(Tx(dep.deployer, dep.tokens[symbol],
                                encode_call("mint(address,uint256)", to_checksum_address(account), amount_raw),
                                200_000), what=f"fund {symbol}")

    def mine(self, blocks: int = 1) -> int:
        """Mine ``blocks`` empty blocks (each BLOCK_INTERVAL_S later); returns the new block number."""
        rpc = self._rpc()
        for _ in range(blocks):
            rpc.request("evm_mine", [])
        return rpc.block_number()


# --------------------------------------------------------------------- detached node + state




def devnet_up(port: int | None = None, n_borrowers: int = DEFAULT_N_BORROWERS, seed: int = DEFAULT_SEED,
              *, state_path: Path | None = None) -> dict[str, Any]:
    """Start a detached anvil, deploy, populate, and write the state file. Returns the state.

    Refuses if the state file names a node that is still running.
    """
    path = state_path or default_state_path()
    status = devnet_status(state_path=path)
    if status["running"]:
        raise DevnetError(f"a devnet is already running (pid {status['pid']}, port {status['port']}); "
                          f"run devnet_down first")
    devnet = Devnet(port=port)
    devnet.start(detach=True)
    try:
        deployment = devnet.deploy()
        population = devnet.populate(n_borrowers, seed)
    except BaseException:
        devnet.stop()
        raise
    assert devnet.process is not None
    state = {
        "pid": devnet.process.pid, "port": devnet.process.port, "rpc_url": devnet.rpc_url,
        "log_path": str(devnet.process.log_path),
        "deployment": json.loads(deployment.to_json()), "population": population.to_dict(),
    }
    devnet.rpc.close()  # type: ignore[union-attr]
    write_atomic(path, json.dumps(state, indent=2, sort_keys=True))
    from chain.devnet.markets import write_devnet_market_file

    # The devnet as a market-file network (for --source rpc --markets <this file>).
    state["markets_file"] = str(write_devnet_market_file(deployment, path.parent / "markets.toml"))
    return state


def _read_state(path: Path) -> dict[str, Any]:
    """The state file, checked: a truncated or foreign file is a :class:`DevnetError` naming it
    (and never a pid to signal: ``devnet down`` kills the process group the file names)."""
    fix = (f"delete {path} (if its anvil still runs, stop it yourself), then `liqrisk devnet up`")
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DevnetError(f"devnet state file {path} is unreadable ({type(exc).__name__}: {exc}); {fix}") from None
    if not isinstance(state, dict):
        raise DevnetError(f"devnet state file {path}: expected a JSON object, got {type(state).__name__}; {fix}")
    for key, kind in (("pid", int), ("port", int), ("rpc_url", str), ("deployment", dict)):
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise DevnetError(f"devnet state file {path}: field {key!r} is missing or not a {kind.__name__}; {fix}")
    if state["pid"] <= 1 or not 0 < state["port"] < 65536:
        raise DevnetError(f"devnet state file {path}: pid {state['pid']} / port {state['port']} out of range; {fix}")
    return state


def devnet_status(*, state_path: Path | None = None) -> dict[str, Any]:
    """``{"running": bool, ...state}``; running means the pid is alive and the node answers."""
    path = state_path or default_state_path()
    if not path.exists():
        return {"running": False, "state_path": str(path)}
    state = _read_state(path)
    running = _alive(int(state["pid"]))
    if running:
        try:
            DevnetRpc(state["rpc_url"], timeout=2.0).request("eth_chainId", [])
        except Exception:
            running = False
    return {**state, "running": running, "state_path": str(path)}


def devnet_down(*, state_path: Path | None = None) -> bool:
    """Stop the node named in the state file and remove the file. Returns whether one was stopped."""
    path = state_path or default_state_path()
    if not path.exists():
        return False
    state = _read_state(path)
    was_alive = _alive(int(state["pid"]))
    if was_alive:
        stop_process_group(int(state["pid"]))
    path.unlink(missing_ok=True)
    return was_alive


def load_deployment(*, state_path: Path | None = None) -> DevnetDeployment:
    """The deployment recorded by :func:`devnet_up`."""
    status = devnet_status(state_path=state_path)
    if "deployment" not in status:
        raise DevnetError(f"no devnet state at {status['state_path']}: run devnet_up first")
    try:
        return DevnetDeployment.from_json(json.dumps(status["deployment"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DevnetError(f"devnet state file {status['state_path']}: the deployment record is invalid "
                          f"({type(exc).__name__}: {exc}); run `liqrisk devnet down` and `liqrisk devnet up`") from None
