"""HOSTILE markets on the devnet: tokens, oracles and an IRM that misbehave on purpose.

Everything here is for tests of "a scan survives bad markets" (chain.scan). It runs on a
deployed :class:`chain.devnet.Devnet` (genuine Aave V3 v3.0.2, genuine Morpho Blue 1.0.0, the
Comet test double) and adds, beside the normal markets:

- tokens: Morpho's own ``src/mocks/ERC20Mock.sol`` (genuine; no ``symbol()``, no ``decimals()``)
  and liqrisk's own HOSTILE TEST CONTRACTS below (Solidity source in this module, compiled with
  the project's solc-js): a ``bytes32``-symbol token (MKR-style), a token without ``symbol()``,
  a token whose symbol carries markup and control characters, plain TestERC20s;
- Aave reserves (listed on the devnet pool with the genuine configurator) for each kind of token,
  one whose AaveOracle answer *reverts* (feed 0, fallback reverts), one whose answer is *0* (feed
  0, fallback answers 0), one *paused* and one *frozen* — each with a borrower;
- Morpho markets: collateral without decimals (read), loan token without decimals (skipped),
  an oracle that reverts (skipped), an oracle answering 0 (genuine OracleMock, skipped), an IRM
  that reverts (skipped), a loan token with no USD anchor (skipped unless a peg is configured),
  a bytes32-symbol collateral (read) — each with borrowers;
- a second Comet double with a collateral whose feed answers 0 (``getPrice`` reverts BadPrice),
  and a third whose base token's feed answers 0 (no account can be valued).

Positions are opened while every price is sound; then the oracles are broken, the reserves
paused/frozen. :func:`deploy_hostile` returns what it made and what a scan should do with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from eth_utils import keccak, to_checksum_address

from chain.devnet.deploy_aave import RATE_STRATEGY_RAY, _deploy
from chain.devnet.deploy_morpho import MARKET_PARAMS_TYPE, market_id, oracle_price
from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import MORPHO_SETTINGS, MORPHO_SRC, OWN_SETTINGS, compile_standard, compile_own_contracts

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
FEED_DECIMALS = 8
ETH_WEI = 10 * 10**18
GAS = 1_000_000

HOSTILE_SOURCE = r"""
// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

/// HOSTILE TEST CONTRACTS — liqrisk's own, DEVNET ONLY. They break optional parts of ERC-20 and
/// the oracle / IRM interfaces on purpose, to test that a scan survives them. Open mint, no
/// access control: never deploy anywhere else.

abstract contract HostileERC20Base {
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}

/// symbol() returns bytes32, as MKR and SAI do.
contract Bytes32SymbolToken is HostileERC20Base {
    bytes32 public immutable symbol;
    uint8 public immutable decimals;

    constructor(bytes32 symbol_, uint8 decimals_) {
        symbol = symbol_;
        decimals = decimals_;
    }
}

/// No symbol() at all (EIP-20 makes it optional).
contract NoSymbolToken is HostileERC20Base {
    uint8 public immutable decimals;

    constructor(uint8 decimals_) {
        decimals = decimals_;
    }
}

/// A string symbol with markup, a pipe and control characters.
contract OddSymbolToken is HostileERC20Base {
    string public symbol;
    uint8 public immutable decimals;

    constructor(string memory symbol_, uint8 decimals_) {
        symbol = symbol_;
        decimals = decimals_;
    }
}

/// A Morpho IOracle whose price() can be made to revert.
contract SwitchableOracle {
    uint256 public storedPrice;
    bool public reverting;

    function setPrice(uint256 newPrice) external {
        storedPrice = newPrice;
    }

    function setReverting(bool on) external {
        reverting = on;
    }

    function price() external view returns (uint256) {
        require(!reverting, "oracle down");
        return storedPrice;
    }
}

struct MarketParams {
    address loanToken;
    address collateralToken;
    address oracle;
    address irm;
    uint256 lltv;
}

struct Market {
    uint128 totalSupplyAssets;
    uint128 totalSupplyShares;
    uint128 totalBorrowAssets;
    uint128 totalBorrowShares;
    uint128 lastUpdate;
    uint128 fee;
}

/// A Morpho IIrm (rate 0) that can be made to revert.
contract SwitchableIrm {
    bool public reverting;

    function setReverting(bool on) external {
        reverting = on;
    }

    function borrowRate(MarketParams memory, Market memory) external view returns (uint256) {
        require(!reverting, "irm down");
        return 0;
    }

    function borrowRateView(MarketParams memory, Market memory) external view returns (uint256) {
        require(!reverting, "irm down");
        return 0;
    }
}

/// An Aave fallback oracle (asked by AaveOracle when a feed answers <= 0): per asset, revert or 0.
contract HostileFallbackOracle {
    mapping(address => bool) public answersZero;

    function setAnswersZero(address asset, bool on) external {
        answersZero[asset] = on;
    }

    function getAssetPrice(address asset) external view returns (uint256) {
        require(answersZero[asset], "no fallback price");
        return 0;
    }
}
"""


@dataclass(frozen=True)
class HostileDeployment:
    """What :func:`deploy_hostile` made (addresses checksummed).

    ``tokens``: label -> address. ``aave_reserves``: label -> expected handling ("read",
    "skipped"). ``aave_borrowers``: label -> borrower holding that reserve. ``morpho_markets``:
    label -> (market id 0x-hex, expected handling). ``morpho_borrowers``: label -> borrowers.
    ``comet``: the second Comet double; ``comet_borrowers``: label -> borrower.
    """

    tokens: Mapping[str, str]
    aave_reserves: Mapping[str, str]
    aave_borrowers: Mapping[str, str]
    morpho_markets: Mapping[str, tuple[str, str]]
    morpho_borrowers: Mapping[str, tuple[str, ...]]
    comet: str
    comet_borrowers: Mapping[str, str]
    comet_broken_base: str = ""
    comet_broken_base_borrower: str = ""
    oracles: Mapping[str, str] = field(default_factory=dict)
    irms: Mapping[str, str] = field(default_factory=dict)


def hostile_contracts() -> dict[str, Any]:
    compiled = compile_standard({"contracts/hostile/Hostile.sol": HOSTILE_SOURCE}, OWN_SETTINGS)
    out: dict[str, Any] = {c.name: c for c in compiled.values()}
    mocks = {f"src/mocks/{n}": (MORPHO_SRC / "mocks" / n).read_text()
             for n in ("ERC20Mock.sol", "interfaces/IERC20.sol")}
    out["ERC20Mock"] = compile_standard(mocks, MORPHO_SETTINGS)["src/mocks/ERC20Mock.sol:ERC20Mock"]
    return out


def hostile_address(label: str) -> str:
    """Deterministic borrower address for ``label`` (nobody holds its key)."""
    return to_checksum_address(keccak(text=f"liqrisk-devnet-hostile:{label}")[12:])


def _bytes32(text: str) -> bytes:
    return text.encode().ljust(32, b"\x00")


def deploy_hostile(devnet: Any) -> HostileDeployment:
    """Deploy the hostile tokens, reserves, markets and positions on ``devnet`` (deployed)."""
    rpc: DevnetRpc = devnet.rpc
    dep = devnet.deployment
    owner, lender = dep.deployer, dep.lender
    hc = hostile_contracts()
    own = compile_own_contracts()

    def deploy(name: str, types: tuple[str, ...] = (), args: tuple[Any, ...] = (), code: str | None = None) -> str:
        creation = (code or hc[name].bytecode) + (encode_args(types, args) if types else "")
        return rpc.deploy(owner, creation, gas=5_000_000, what=f"deploy {name}")

    def test_erc20(symbol: str, decimals: int = 18) -> str:
        return deploy("TestERC20", ("string", "string", "uint8"), (f"hostile {symbol}", symbol, decimals),
                      code=own["TestERC20"].bytecode)

    def feed(usd: int) -> str:
        return deploy("SettablePriceFeed", ("uint8", "string", "int256"), (FEED_DECIMALS, "hostile", usd * 10**FEED_DECIMALS),
                      code=own["SettablePriceFeed"].bytecode)

    tokens: dict[str, str] = {
        "HMKR": deploy("Bytes32SymbolToken", ("bytes32", "uint8"), (_bytes32("HMKR"), 18)),
        "NOSYM": deploy("NoSymbolToken", ("uint8",), (18,)),
        "ODD": deploy("OddSymbolToken", ("string", "uint8"), ("OD|D<b>\n`", 18)),
        "NODEC": deploy("ERC20Mock"),  # Morpho's own mock: no symbol(), no decimals()
        "NODECM": deploy("ERC20Mock"),  # the same, as a Morpho collateral only
        "NODEC2": deploy("ERC20Mock"),  # the same, as a Morpho loan token
        "BROKE": test_erc20("BROKE"),
        "ZERO": test_erc20("ZERO"),
        "PAUSD": test_erc20("PAUSD"),
        "FROZN": test_erc20("FROZN"),
        "USDX": test_erc20("USDX", 6),  # a "USD stablecoin" nobody prices
        "CBRK": test_erc20("CBRK"),
    }
    ercmock = {"NODEC", "NODECM", "NODEC2"}
    usd_prices = {"HMKR": 1_000, "NOSYM": 10, "ODD": 7, "NODEC": 5, "NODECM": 5, "BROKE": 100, "ZERO": 50, "PAUSD": 20,
                  "FROZN": 30, "CBRK": 40}
    feeds = {k: feed(v) for k, v in usd_prices.items()}

    def mint(token_label: str, to: str, raw: int) -> Tx:
        if token_label in ercmock:  # ERC20Mock has setBalance, not mint: add to the current balance
            (current,) = rpc.call_decode(tokens[token_label], "balanceOf(address)", (to,), ("uint256",))
            return Tx(owner, tokens[token_label], encode_call("setBalance(address,uint256)", to, current + raw), GAS)
        return Tx(owner, tokens[token_label], encode_call("mint(address,uint256)", to, raw), GAS)

    def mint_std(symbol: str, to: str, raw: int) -> Tx:
        return Tx(owner, dep.tokens[symbol], encode_call("mint(address,uint256)", to, raw), GAS)

    def approve(token: str, holder: str, spender: str) -> Tx:
        return Tx(holder, token, encode_call("approve(address,uint256)", spender, 2**256 - 1), GAS)

    labels = ["aave:HMKR", "aave:NOSYM", "aave:ODD", "aave:NODEC", "aave:BROKE-coll", "aave:BROKE-debt", "aave:ZERO",
              "aave:PAUSD", "aave:FROZN", "aave:normal", "morpho:NODECM/USDC:0", "morpho:NODECM/USDC:1",
              "morpho:WETH/NODEC2", "morpho:WETH/USDC-revert", "morpho:WETH/USDC-zero", "morpho:WETH/USDC-irm",
              "morpho:WETH/USDX", "morpho:HMKR/USDC", "comet:CBRK", "comet:WETH", "comet-base:WETH"]
    accounts = {label: hostile_address(label) for label in labels}
    rpc.batch([c for a in accounts.values() for c in (("anvil_impersonateAccount", [a]),
                                                     ("anvil_setBalance", [a, hex(ETH_WEI)]))])

    # ---------------------------------------------------------------- Aave: list the reserves
    pool, configurator = dep.aave.pool, dep.aave.pool_configurator
    aave_labels = ["HMKR", "NOSYM", "ODD", "NODEC", "BROKE", "ZERO", "PAUSD", "FROZN"]
    a_impl = _deploy(rpc, owner, "AToken", ("address",), (pool,))
    s_impl = _deploy(rpc, owner, "StableDebtToken", ("address",), (pool,))
    v_impl = _deploy(rpc, owner, "VariableDebtToken", ("address",), (pool,))
    strategy = _deploy(rpc, owner, "DefaultReserveInterestRateStrategy", ("address",) + ("uint256",) * 9,
                       (dep.aave.addresses_provider, *RATE_STRATEGY_RAY))
    init_type = ("(address,address,address,uint8,address,address,address,address,"
                 "string,string,string,string,string,string,bytes)[]")
    inputs = [(a_impl, s_impl, v_impl, 18, strategy, tokens[k], owner, ZERO_ADDRESS, f"aHostile {k}", f"aH{k}",
               f"vHostile {k}", f"vH{k}", f"sHostile {k}", f"sH{k}", b"") for k in aave_labels]
    txs = [Tx(owner, configurator, encode_call(f"initReserves({init_type})", inputs), 25_000_000)]
    txs.append(Tx(owner, dep.aave.oracle, encode_call("setAssetSources(address[],address[])",
                                                      [tokens[k] for k in aave_labels], [feeds[k] for k in aave_labels]),
                  GAS))
    for k in aave_labels:
        txs.append(Tx(owner, configurator, encode_call("configureReserveAsCollateral(address,uint256,uint256,uint256)",
                                                       tokens[k], 6500, 7000, 10800), GAS))
        txs.append(Tx(owner, configurator, encode_call("setReserveBorrowing(address,bool)", tokens[k], True), GAS))
    rpc.send_bulk(txs, per_block=1, what="hostile Aave reserves")

    # Liquidity: the lender supplies USDC and BROKE; each borrower supplies its token and borrows USDC.
    usdc = dep.tokens["USDC"]
    txs = [mint_std("USDC", lender, 10**7 * 10**6), approve(usdc, lender, pool),
           Tx(lender, pool, encode_call("supply(address,uint256,address,uint16)", usdc, 10**7 * 10**6, lender, 0), GAS),
           mint("BROKE", lender, 10**6 * 10**18), approve(tokens["BROKE"], lender, pool),
           Tx(lender, pool, encode_call("supply(address,uint256,address,uint16)", tokens["BROKE"], 10**6 * 10**18,
                                        lender, 0), GAS)]
    rpc.send_bulk(txs, per_block=1, what="hostile Aave liquidity")
    aave_borrowers: dict[str, str] = {}
    txs = []
    for k in aave_labels:
        label = "aave:BROKE-coll" if k == "BROKE" else f"aave:{k}"
        who = accounts[label]
        amount_tokens = 10_000 // usd_prices[k] * 10  # ~$100k of collateral
        raw = amount_tokens * 10**18
        txs += [mint(k, who, raw), approve(tokens[k], who, pool),
                Tx(who, pool, encode_call("supply(address,uint256,address,uint16)", tokens[k], raw, who, 0), GAS),
                Tx(who, pool, encode_call("borrow(address,uint256,uint256,uint16,address)", usdc,
                                          amount_tokens * usd_prices[k] // 2 * 10**6, 2, 0, who), GAS)]
        aave_borrowers[label] = who
    # a WETH-collateral borrower of BROKE, and a plain WETH/USDC borrower (must be read whatever happens)
    weth = dep.tokens["WETH"]
    for label, debt_token, debt_raw in (("aave:BROKE-debt", tokens["BROKE"], 100 * 10**18),
                                        ("aave:normal", usdc, 10_000 * 10**6)):
        who = accounts[label]
        txs += [mint_std("WETH", who, 20 * 10**18), approve(weth, who, pool),
                Tx(who, pool, encode_call("supply(address,uint256,address,uint16)", weth, 20 * 10**18, who, 0), GAS),
                Tx(who, pool, encode_call("borrow(address,uint256,uint256,uint16,address)", debt_token, debt_raw, 2, 0,
                                          who), GAS)]
        aave_borrowers[label] = who
    rpc.send_bulk(txs, per_block=1, what="hostile Aave borrowers")

    # ---------------------------------------------------------------- Morpho: markets
    morpho = dep.morpho.address
    lltv = 860 * 10**15  # enabled by deploy_morpho
    irm = deploy("SwitchableIrm")
    oracle_mock = compile_morpho_oracle_mock()
    switchable = deploy("SwitchableOracle")
    zero_oracle = rpc.deploy(owner, oracle_mock, gas=2_000_000, what="deploy OracleMock (zero)")
    weth_usdc_price = oracle_price(2_000 * 10**8, 18, 1 * 10**8, 6)

    def plain_oracle(price: int) -> str:
        address = rpc.deploy(owner, oracle_mock, gas=2_000_000, what="deploy OracleMock")
        rpc.transact(Tx(owner, address, encode_call("setPrice(uint256)", price), GAS))
        return address

    # NODECM collateral (no decimals): the oracle is in USDC raw units per collateral raw unit.
    # Its holder values one raw unit at $5e-18 (as if 18 decimals): 1e36 * 5e-18 * 1e6 / 1 = 5e24.
    nodec_oracle = plain_oracle(5 * 10**24)
    specs: dict[str, tuple[str, str, str, str, str]] = {
        # label: (loan, collateral, oracle, irm, expected)
        "NODECM/USDC": (usdc, tokens["NODECM"], nodec_oracle, ZERO_ADDRESS, "read"),
        "WETH/NODEC2": (tokens["NODEC2"], weth, plain_oracle(2_000 * 10**36), ZERO_ADDRESS, "skipped"),
        "WETH/USDC-revert": (usdc, weth, switchable, ZERO_ADDRESS, "skipped"),
        "WETH/USDC-zero": (usdc, weth, zero_oracle, ZERO_ADDRESS, "skipped"),
        "WETH/USDC-irm": (usdc, weth, plain_oracle(weth_usdc_price), irm, "skipped"),
        "WETH/USDX": (tokens["USDX"], weth, plain_oracle(weth_usdc_price), ZERO_ADDRESS, "skipped"),
        "HMKR/USDC": (usdc, tokens["HMKR"], plain_oracle(oracle_price(1_000 * 10**8, 18, 10**8, 6)), ZERO_ADDRESS,
                      "read"),
    }
    rpc.transact(Tx(owner, switchable, encode_call("setPrice(uint256)", weth_usdc_price), GAS))
    rpc.transact(Tx(owner, zero_oracle, encode_call("setPrice(uint256)", weth_usdc_price), GAS))
    rpc.transact(Tx(owner, morpho, encode_call("enableIrm(address)", irm), GAS))
    morpho_markets: dict[str, tuple[str, str]] = {}
    params_of: dict[str, tuple[str, str, str, str, int]] = {}
    txs = []
    for label, (loan, coll, oracle, market_irm, expected) in specs.items():
        params = (loan, coll, oracle, market_irm, lltv)
        params_of[label] = params
        morpho_markets[label] = (market_id(*params), expected)
        txs.append(Tx(owner, morpho, encode_call(f"createMarket({MARKET_PARAMS_TYPE})", params), GAS))
    rpc.send_bulk(txs, per_block=1, what="hostile Morpho markets")
    txs = []
    for label, params in params_of.items():
        loan = params[0]
        loan_label = next((k for k, v in tokens.items() if v == loan), None)
        supply_raw = 10**30 if loan_label in ercmock else (10**7 * 10**6 if loan != tokens.get("USDX") else 10**12)
        txs.append(mint(loan_label, lender, supply_raw) if loan_label else mint_std("USDC", lender, supply_raw))
        txs += [approve(loan, lender, morpho),
                Tx(lender, morpho, encode_call(f"supply({MARKET_PARAMS_TYPE},uint256,uint256,address,bytes)", params,
                                               supply_raw, 0, lender, b""), GAS)]
    rpc.send_bulk(txs, per_block=1, what="hostile Morpho liquidity")
    morpho_borrowers: dict[str, tuple[str, ...]] = {}
    txs = []
    for label, params in params_of.items():
        loan, coll = params[0], params[1]
        coll_label = next((k for k, v in tokens.items() if v == coll), None)
        who_labels = [f"morpho:{label}:0", f"morpho:{label}:1"] if label == "NODECM/USDC" else [f"morpho:{label}"]
        for n, wl in enumerate(who_labels):
            who = accounts[wl]
            if coll_label is None:  # WETH collateral, worth $2,000 per token
                coll_raw, value_usd = 10 * 10**18, 20_000
                txs.append(mint_std("WETH", who, coll_raw))
            else:
                coll_raw = (1_000 + 500 * n) * 10**18
                value_usd = coll_raw // 10**18 * usd_prices[coll_label]
                txs.append(mint(coll_label, who, coll_raw))
            if loan == usdc or loan == tokens["USDX"]:
                borrow_raw = value_usd * 10**6 // 2
            else:  # NODEC2 loan token: oracle 2,000e36 raw loan per raw WETH
                borrow_raw = coll_raw * 2_000 // 2
            txs += [approve(coll, who, morpho),
                    Tx(who, morpho, encode_call(f"supplyCollateral({MARKET_PARAMS_TYPE},uint256,address,bytes)", params,
                                                coll_raw, who, b""), GAS),
                    Tx(who, morpho, encode_call(f"borrow({MARKET_PARAMS_TYPE},uint256,uint256,address,address)", params,
                                                borrow_raw, 0, who, who), GAS)]
        morpho_borrowers[label] = tuple(accounts[w] for w in who_labels)
    rpc.send_bulk(txs, per_block=1, what="hostile Morpho borrowers")

    # ---------------------------------------------------------------- Comet double #2
    assets = [(0, weth, dep.aave.price_feeds["WETH"], 10**18, 83 * 10**16, 85 * 10**16, 95 * 10**16, 10**27),
              (1, tokens["CBRK"], feeds["CBRK"], 10**18, 70 * 10**16, 75 * 10**16, 90 * 10**16, 10**27)]
    comet_args = encode_args(
        ("address", "address", "uint256", "(uint8,address,address,uint64,uint64,uint64,uint64,uint128)[]"),
        (usdc, dep.aave.price_feeds["USDC"], 10**6, assets))
    comet = rpc.deploy(owner, own["CometDouble"].bytecode + comet_args, gas=5_000_000, what="deploy hostile Comet")
    comet_borrowers = {"comet:CBRK": accounts["comet:CBRK"], "comet:WETH": accounts["comet:WETH"]}
    txs = []
    for label, token_label, raw, debt_raw in (("comet:CBRK", "CBRK", 1_000 * 10**18, 10_000 * 10**6),
                                              ("comet:WETH", None, 10 * 10**18, 5_000 * 10**6)):
        who = accounts[label]
        token = weth if token_label is None else tokens[token_label]
        txs.append(mint_std("WETH", who, raw) if token_label is None else mint(token_label, who, raw))
        txs += [Tx(who, comet, encode_call("supply(address,uint256)", token, raw), GAS),
                Tx(who, comet, encode_call("withdraw(address,uint256)", usdc, debt_raw), GAS)]
    rpc.send_bulk(txs, per_block=1, what="hostile Comet borrowers")
    # Comet double #3: its base token's feed will answer 0, so Comet can value no account at all.
    base_feed = feed(1)
    comet_args = encode_args(
        ("address", "address", "uint256", "(uint8,address,address,uint64,uint64,uint64,uint64,uint128)[]"),
        (usdc, base_feed, 10**6, assets[:1]))
    comet_base = rpc.deploy(owner, own["CometDouble"].bytecode + comet_args, gas=5_000_000,
                            what="deploy hostile Comet (base feed)")
    who = accounts["comet-base:WETH"]
    rpc.send_bulk([mint_std("WETH", who, 10 * 10**18),
                   Tx(who, comet_base, encode_call("supply(address,uint256)", weth, 10 * 10**18), GAS),
                   Tx(who, comet_base, encode_call("withdraw(address,uint256)", usdc, 5_000 * 10**6), GAS)],
                  per_block=1, what="hostile Comet (base feed) borrower")

    # ---------------------------------------------------------------- now break things
    fallback = deploy("HostileFallbackOracle")
    txs = [Tx(owner, dep.aave.oracle, encode_call("setFallbackOracle(address)", fallback), GAS),
           Tx(owner, fallback, encode_call("setAnswersZero(address,bool)", tokens["ZERO"], True), GAS),
           Tx(owner, feeds["BROKE"], encode_call("setAnswer(int256)", 0), GAS),  # -> fallback -> revert
           Tx(owner, feeds["ZERO"], encode_call("setAnswer(int256)", 0), GAS),  # -> fallback -> 0
           Tx(owner, feeds["CBRK"], encode_call("setAnswer(int256)", 0), GAS),  # Comet getPrice -> BadPrice
           Tx(owner, base_feed, encode_call("setAnswer(int256)", 0), GAS),  # Comet #3: base price BadPrice
           Tx(owner, configurator, encode_call("setReservePause(address,bool)", tokens["PAUSD"], True), GAS),
           Tx(owner, configurator, encode_call("setReserveFreeze(address,bool)", tokens["FROZN"], True), GAS),
           Tx(owner, switchable, encode_call("setReverting(bool)", True), GAS),
           Tx(owner, zero_oracle, encode_call("setPrice(uint256)", 0), GAS),
           Tx(owner, irm, encode_call("setReverting(bool)", True), GAS)]
    rpc.send_bulk(txs, per_block=1, what="break the hostile markets")
    rpc.request("evm_mine", [])  # interest is due in the IRM market: its borrowRateView is needed
    rpc.batch([("anvil_stopImpersonatingAccount", [a]) for a in accounts.values()])
    aave_reserves = {k: ("skipped" if k in ("BROKE", "ZERO") else "read") for k in aave_labels}
    return HostileDeployment(
        tokens=tokens, aave_reserves=aave_reserves, aave_borrowers=aave_borrowers, morpho_markets=morpho_markets,
        morpho_borrowers=morpho_borrowers, comet=comet, comet_borrowers=comet_borrowers,
        comet_broken_base=comet_base, comet_broken_base_borrower=who,
        oracles={"revert": switchable, "zero": zero_oracle, "fallback": fallback, **{f"feed:{k}": v for k, v in feeds.items()}},
        irms={"revert": irm},
    )


def compile_morpho_oracle_mock() -> str:
    from chain.devnet.solc import compile_morpho

    return compile_morpho()["src/mocks/OracleMock.sol:OracleMock"].bytecode


__all__ = ["HOSTILE_SOURCE", "HostileDeployment", "deploy_hostile", "hostile_address", "hostile_contracts"]
