"""Euler v2 reader: EVK controller vaults and their borrowers (through the EVC) at one pinned block.

A self-contained venue reader with a small interface:

- :func:`euler_evc_source` / :func:`discover_accounts`: borrowers of a vault are the accounts that
  enabled it as controller on the EVC — ``ControllerStatus(account indexed, controller indexed,
  bool enabled)`` (euler-xyz/ethereum-vault-connector src/Events.sol @1601566c): account in topic
  1, the vault in topic 2 (the group);
- :meth:`EulerV2Reader.read_vaults` (per vault, through Multicall3 at the block: ``asset``,
  ``oracle``, ``unitOfAccount``, ``maxLiquidationDiscount``, ``configFlags``, ``LTVList`` and per
  collateral ``LTVFull`` / ``LTVLiquidation`` and the collateral vault's ``asset``; oracle quotes of
  one whole token of every asset in the unit of account) -> :class:`EulerVaultData`;
- :meth:`EulerV2Reader.read_accounts` (per account: ``EVC.getControllers`` / ``getCollaterals``,
  ``debtOf`` / ``debtOfExact``, ``accountLiquidity(account, true)``; per enabled collateral the share
  balance, ``convertToAssets`` of it and the vault oracle's mid-point quote of it) ->
  :class:`EulerAccountData`.

Return values are read by name from the ABI subsets ``abis/EulerEVault.json``,
``abis/EulerEVC.json`` and ``abis/EulerRouter.json`` (written from euler-vault-kit
src/EVault/IEVault.sol and the EVC/EulerRouter interfaces).

The liquidation LTV is computed at the pinned block's timestamp from ``LTVFull`` with
:func:`risk.euler_v2.liquidation_ltv_1e4` (the ramp) and must equal the vault's own
``LTVLiquidation`` at that block — a mismatch is an error, never a silent choice.

Snapshot mapping (Market venue ``euler_v2``, one Market per controller vault, id
``euler:<vault address>``): one collateral Reserve per recognised collateral vault, keyed by its
underlying asset (LT = liquidation LTV at the block, ``ltv_wad`` = borrow LTV, bonus =
``1 / (1 - maxLiquidationDiscount)``, protocol fee 0), and the debt Reserve of the vault's asset.
``Position.collateral`` = ``convertToAssets(shares)`` in the underlying's raw units (what the
EulerRouter values), ``Position.debt`` = ``debtOf`` (rounded up, as the vault liquidates on).
USD prices: a vault whose unit of account is USD (``0x…0348``) prices its assets itself
(``euler-oracle:<vault>``); otherwise the scan's other pricing must know them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from chain.abi_reads import abi_read as _read, named
from chain.aave_v3 import Read, ReaderError, checksum, require_contract, run_calls
from chain.blocks import PinnedBlock
from chain.discovery import AccountIndex, EventSource, EventSpec, LogScanner
from chain.transport import Transport
from risk.euler_v2 import LTVConfig, encode_max_discount, liquidation_ltv_1e4
from risk.snapshot import Market, Position, Reserve, Skipped

USD_UNIT_OF_ACCOUNT = "0x0000000000000000000000000000000000000348"
CONTROLLER_STATUS = "ControllerStatus(address,address,bool)"
_BPS_TO_WAD = 10**14
WAD = 10**18


def euler_evc_source(evc: str, start_block: int = 0, name: str = "euler-evc") -> EventSource:
    """The EVC's ``ControllerStatus`` events: account (topic 1), group = controller vault (topic 2)."""
    return EventSource(name, checksum(evc, "Euler EVC"), (EventSpec("ControllerStatus", CONTROLLER_STATUS, index=1,
                                                                    group_topic=2),), start_block)


def _word(address: str) -> str:
    return "0x" + "0" * 24 + address[2:].lower()


def discover_accounts(transport: Transport, index: AccountIndex, evc: str, vaults: Iterable[str], pinned: PinnedBlock,
                      start_block: int = 0) -> dict[str, list[str]]:
    """Vault -> accounts that ever enabled it as controller up to ``pinned`` (the reader drops the
    ones without debt or with another controller now)."""
    source = euler_evc_source(evc, start_block)
    LogScanner(index).scan(transport, source, pinned)
    wanted = {_word(checksum(v, "Euler vault")): checksum(v, "Euler vault") for v in vaults}
    out: dict[str, list[str]] = {v: [] for v in wanted.values()}
    for a in index.accounts(transport.chain_id, source, up_to_block=pinned.number):
        vault = wanted.get(a.group.lower())
        if vault is not None:
            out[vault].append(a.account)
    return out


# ----------------------------------------------------------------------------- named outputs


def _one(decoded: Sequence[Any] | None, what: str) -> Any:
    if decoded is None or len(decoded) != 1:
        raise ReaderError(f"{what} returned nothing")
    return decoded[0]


# ----------------------------------------------------------------------------------- typed rows


@dataclass(frozen=True, slots=True)
class EulerCollateralConfig:
    """One recognised collateral of a controller vault at the block."""

    vault: str  # the collateral vault (its shares are the collateral)
    asset: str  # its underlying token
    ltv: LTVConfig
    liquidation_ltv_1e4: int  # ramped, at the block timestamp (= the vault's LTVLiquidation)


@dataclass(frozen=True, slots=True)
class EulerVaultData:
    """A controller vault at the block (LTVs in 1e4; quotes in unit-of-account raw units)."""

    vault: str
    name: str
    asset: str
    oracle: str
    unit_of_account: str
    max_liquidation_discount_1e4: int
    config_flags: int
    collaterals: tuple[EulerCollateralConfig, ...]
    token_quotes: Mapping[str, int]  # token -> oracle quote of one whole token (10**decimals raw)
    decimals: Mapping[str, int]
    block_timestamp: int

    @property
    def market_id(self) -> str:
        return f"euler:{self.vault}"

    def collateral(self, vault: str) -> EulerCollateralConfig:
        for c in self.collaterals:
            if c.vault == vault:
                return c
        raise KeyError(f"{vault} is not a recognised collateral of Euler vault {self.vault}")

    @property
    def usd_quoted(self) -> bool:
        return self.unit_of_account.lower() == USD_UNIT_OF_ACCOUNT

    def price_usd(self, token: str) -> float | None:
        """USD per whole token from the vault's oracle (USD unit of account, 18 decimals), or None."""
        if not self.usd_quoted or token not in self.token_quotes:
            return None
        return self.token_quotes[token] / WAD

    def to_market(self, symbols: Mapping[str, str], *, name: str) -> tuple[Market, list[Skipped]]:
        """The Snapshot Market (see the module docstring); a second collateral vault of an asset
        already listed, or a collateral in the vault's own asset, is left out and named in the
        returned skips."""
        bonus_wad = int(round(encode_max_discount(self.max_liquidation_discount_1e4 / 1e4) * WAD))
        reserves: list[Reserve] = []
        skipped: list[Skipped] = []
        seen = {self.asset}
        for c in self.collaterals:
            if c.asset in seen:
                skipped.append(Skipped(venue="euler_v2", market=self.market_id, asset=c.asset,
                                       reason=f"collateral vault {c.vault} holds {symbols[c.asset]}, already a reserve of "
                                              f"this market: its positions' balance in it is not read"))
                continue
            seen.add(c.asset)
            reserves.append(Reserve(asset=symbols[c.asset], ltv_wad=min(c.ltv.borrow_ltv_1e4 * _BPS_TO_WAD, WAD),
                                    liquidation_threshold_wad=min(c.liquidation_ltv_1e4 * _BPS_TO_WAD, WAD),
                                    liquidation_bonus_wad=bonus_wad, protocol_fee_wad=0,
                                    oracle_price=self.token_quotes.get(c.asset), can_be_collateral=True,
                                    can_be_borrowed=False))
        reserves.append(Reserve(asset=symbols[self.asset], ltv_wad=0, liquidation_threshold_wad=0,
                                liquidation_bonus_wad=WAD, oracle_price=self.token_quotes.get(self.asset),
                                can_be_collateral=False, can_be_borrowed=True))
        market = Market(id=self.market_id, venue="euler_v2", name=f"{name} {self.name}".strip(), address=self.vault,
                        protocol_version="evk", price_unit=WAD, reserves=tuple(reserves))
        return market, skipped


@dataclass(frozen=True, slots=True)
class EulerAccountCollateral:
    vault: str
    balance: int  # shares
    assets: int  # convertToAssets(balance), underlying raw units
    value: int  # vault oracle mid-point quote of the balance (unit of account)


@dataclass(frozen=True, slots=True)
class EulerAccountData:
    """One account of a controller vault at the block."""

    vault: str
    account: str
    controllers: tuple[str, ...]
    enabled_collaterals: tuple[str, ...]
    collaterals: tuple[EulerAccountCollateral, ...]  # the recognised enabled ones, in EVC order
    debt_assets: int  # debtOf (rounded up)
    debt_owed_exact: int  # debtOfExact (Owed units, assets << 31)
    liquidity: tuple[int, int] | None  # accountLiquidity(account, true): (collateral adjusted, liability)

    def to_position(self, vault: EulerVaultData, symbols: Mapping[str, str], listed: set[str]) -> Position:
        collateral: dict[str, int] = {}
        for c in self.collaterals:
            asset = vault.collateral(c.vault).asset
            if symbols[asset] in listed and c.assets:
                collateral[symbols[asset]] = collateral.get(symbols[asset], 0) + c.assets
        debt = {symbols[vault.asset]: self.debt_assets} if self.debt_assets else {}
        return Position(market=vault.market_id, account=self.account, collateral=collateral, debt=debt)


@dataclass(frozen=True, slots=True)
class EulerSource:
    """An EVC and the controller vaults to scan."""

    evc: str
    vaults: tuple[str, ...]
    start_block: int = 0
    name: str = "Euler v2"
    checked: str = field(default="", compare=False)


# ------------------------------------------------------------------------------------- reader


class EulerV2Reader:
    """Read EVK controller vaults (mainnet or the devnet's EulerDouble) and their accounts."""

    def __init__(self, transport: Transport, *, evc: str, vaults: Sequence[str]) -> None:
        if not vaults:
            raise ReaderError("Euler v2: give at least one vault")
        self.transport = transport
        self.evc = checksum(evc, "Euler EVC")
        self.vaults = tuple(checksum(v, "Euler vault") for v in vaults)

    def read_vaults(self, block: PinnedBlock) -> list[EulerVaultData]:
        require_contract(self.transport, self.evc, block, "the Euler EVC")
        for v in self.vaults:
            require_contract(self.transport, v, block, "an Euler EVK vault")
        per = ("asset", "oracle", "unitOfAccount", "maxLiquidationDiscount", "configFlags", "LTVList", "EVC", "name")
        out = run_calls(self.transport, block, [_read(v, "EulerEVault", f) for v in self.vaults for f in per],
                        what="Euler vaults", allow_failure=True)
        heads = []
        for k, v in enumerate(self.vaults):
            got = dict(zip(per, out[k * len(per):(k + 1) * len(per)], strict=True))
            missing = [f for f in per if got[f] is None and f != "name"]
            if missing:
                raise ReaderError(f"{v} is a contract but not an EVK vault ({', '.join(missing)} failed at block "
                                  f"{block.number})")
            if checksum(_one(got["EVC"], "EVC()"), "EVC") != self.evc:
                raise ReaderError(f"Euler vault {v} is connected to EVC {_one(got['EVC'], 'EVC()')}, not {self.evc}")
            heads.append((v, {f: (_one(got[f], f) if got[f] is not None else "") for f in per}))
        # Per collateral: LTVFull, LTVLiquidation and the collateral vault's asset.
        reads: list[Read] = []
        keys: list[tuple[int, str]] = []
        for k, (v, h) in enumerate(heads):
            for c in dict.fromkeys(checksum(a, "LTVList entry") for a in h["LTVList"]):
                keys.append((k, c))
                reads += [_read(v, "EulerEVault", "LTVFull", c), _read(v, "EulerEVault", "LTVLiquidation", c),
                          _read(c, "EulerEVault", "asset")]
        got_c = run_calls(self.transport, block, reads, what="Euler LTVs")
        collaterals: list[list[EulerCollateralConfig]] = [[] for _ in heads]
        for n, (k, c) in enumerate(keys):
            full = named("EulerEVault", "LTVFull", got_c[3 * n])
            cfg = LTVConfig(full["borrowLTV"], full["liquidationLTV"], full["initialLiquidationLTV"],
                            full["targetTimestamp"], full["rampDuration"])
            if not cfg.recognized:
                continue  # listed once, LTV cleared: not a collateral any more
            ltv_now = liquidation_ltv_1e4(cfg, block.timestamp)
            on_chain = _one(got_c[3 * n + 1], "LTVLiquidation")
            if ltv_now != on_chain:
                raise ReaderError(f"Euler vault {heads[k][0]} collateral {c}: LTVLiquidation {on_chain} at block "
                                  f"{block.number} but the ramp from LTVFull gives {ltv_now}")
            collaterals[k].append(EulerCollateralConfig(c, checksum(_one(got_c[3 * n + 2], "asset"), "asset"), cfg,
                                                        ltv_now))
        # Decimals and quotes of one whole token of every asset, per vault oracle.
        tokens = sorted({checksum(h["asset"], "asset") for _, h in heads} | {c.asset for cs in collaterals for c in cs})
        dec = run_calls(self.transport, block, [_read(t, "EulerEVault", "decimals") for t in tokens],
                        what="Euler asset decimals")
        decimals = {t: int(_one(d, "decimals")) for t, d in zip(tokens, dec, strict=True)}
        quote_keys: list[tuple[int, str]] = []
        quote_reads: list[Read] = []
        for k, (v, h) in enumerate(heads):
            for t in [checksum(h["asset"], "asset")] + [c.asset for c in collaterals[k]]:
                quote_keys.append((k, t))
                quote_reads.append(_read(checksum(h["oracle"], "oracle"), "EulerRouter", "getQuote", 10 ** decimals[t], t,
                                         checksum(h["unitOfAccount"], "unit of account")))
        quotes = run_calls(self.transport, block, quote_reads, what="Euler oracle quotes", allow_failure=True)
        per_vault_quotes: list[dict[str, int]] = [{} for _ in heads]
        for (k, t), q in zip(quote_keys, quotes, strict=True):
            if q is not None:
                per_vault_quotes[k][t] = int(q[0])
        result = []
        for k, (v, h) in enumerate(heads):
            asset = checksum(h["asset"], "asset")
            result.append(EulerVaultData(
                vault=v, name=str(h["name"]), asset=asset, oracle=checksum(h["oracle"], "oracle"),
                unit_of_account=checksum(h["unitOfAccount"], "unit of account"),
                max_liquidation_discount_1e4=int(h["maxLiquidationDiscount"]), config_flags=int(h["configFlags"]),
                collaterals=tuple(collaterals[k]), token_quotes=per_vault_quotes[k],
                decimals={t: decimals[t] for t in [asset] + [c.asset for c in collaterals[k]]},
                block_timestamp=block.timestamp))
        return result

    def read_accounts(self, block: PinnedBlock, vaults: Sequence[EulerVaultData], accounts: Mapping[str, Iterable[str]],
                      *, include_empty: bool = False) -> list[EulerAccountData]:
        """``accounts``: vault -> candidate accounts. Kept: accounts whose sole controller is the
        vault and with debt (all of them with ``include_empty``)."""
        by_vault = {v.vault: v for v in vaults}
        keys = [(v, a) for v in by_vault for a in sorted({checksum(x, "account") for x in accounts.get(v, ())})]
        if not keys:
            return []
        reads: list[Read] = []
        for v, a in keys:
            reads += [_read(self.evc, "EulerEVC", "getControllers", a), _read(self.evc, "EulerEVC", "getCollaterals", a),
                      _read(v, "EulerEVault", "debtOf", a), _read(v, "EulerEVault", "debtOfExact", a),
                      _read(v, "EulerEVault", "accountLiquidity", a, True)]
        out = run_calls(self.transport, block, reads, what="Euler accounts", allow_failure=True)
        first: list[tuple[str, str, tuple[str, ...], tuple[str, ...], int, int, tuple[int, int] | None]] = []
        for n, (v, a) in enumerate(keys):
            ctrl, cols, debt, exact, liq = out[5 * n: 5 * n + 5]
            if ctrl is None or cols is None or debt is None or exact is None:
                raise ReaderError(f"Euler account {a} of vault {v}: EVC/vault reads failed at block {block.number}")
            controllers = tuple(checksum(c, "controller") for c in ctrl[0])
            if controllers != (v,):
                continue  # not (or no longer) this vault's borrower alone
            if debt[0] == 0 and not include_empty:
                continue
            lv = named("EulerEVault", "accountLiquidity", liq) if liq is not None else None
            first.append((v, a, controllers, tuple(checksum(c, "collateral") for c in cols[0]), int(debt[0]),
                          int(exact[0]), (lv["collateralValue"], lv["liabilityValue"]) if lv else None))
        coll_reads: list[Read] = []
        coll_keys: list[tuple[int, str]] = []
        for n, (v, a, _, enabled, _, _, _) in enumerate(first):
            data = by_vault[v]
            recognised = {c.vault for c in data.collaterals}
            for c in enabled:
                if c in recognised:
                    coll_keys.append((n, c))
                    coll_reads.append(_read(c, "EulerEVault", "balanceOf", a))
        balances = run_calls(self.transport, block, coll_reads, what="Euler collateral balances")
        value_reads: list[Read] = []
        for (n, c), b in zip(coll_keys, balances, strict=True):
            data = by_vault[first[n][0]]
            value_reads += [_read(c, "EulerEVault", "convertToAssets", int(b[0])),  # type: ignore[index]
                            _read(data.oracle, "EulerRouter", "getQuote", int(b[0]), c, data.unit_of_account)]  # type: ignore[index]
        values = run_calls(self.transport, block, value_reads, what="Euler collateral values")
        per_account: list[list[EulerAccountCollateral]] = [[] for _ in first]
        for m, ((n, c), b) in enumerate(zip(coll_keys, balances, strict=True)):
            per_account[n].append(EulerAccountCollateral(c, int(b[0]), int(_one(values[2 * m], "convertToAssets")),  # type: ignore[index]
                                                         int(_one(values[2 * m + 1], "getQuote"))))
        return [EulerAccountData(v, a, ctrl, enabled, tuple(per_account[n]), debt, exact, liq)
                for n, (v, a, ctrl, enabled, debt, exact, liq) in enumerate(first)]


# ------------------------------------------------------------------------------- scan helper


@dataclass(frozen=True, slots=True)
class EulerRead:
    """What one :class:`EulerSource` read gave: vaults and accounts at the block."""

    source: EulerSource
    vaults: tuple[EulerVaultData, ...]
    accounts: tuple[EulerAccountData, ...]

    def tokens(self) -> set[str]:
        return {v.asset for v in self.vaults} | {c.asset for v in self.vaults for c in v.collaterals}

    def usd_prices(self) -> dict[str, tuple[float, str]]:
        """Token -> (USD price, source) from USD-quoted vault oracles (first vault wins)."""
        out: dict[str, tuple[float, str]] = {}
        for v in self.vaults:
            for t in v.token_quotes:
                price = v.price_usd(t)
                if price is not None and price > 0 and t not in out:
                    out[t] = (price, f"euler-oracle:{v.vault}")
        return out


def read_euler(transport: Transport, pinned: PinnedBlock, source: EulerSource, *,
               accounts: Mapping[str, Iterable[str]] | Iterable[str] | None = None,
               index: AccountIndex | None = None, include_empty: bool = False) -> EulerRead:
    """Discover (unless ``accounts`` is given: per vault, or one list for every vault) and read."""
    reader = EulerV2Reader(transport, evc=source.evc, vaults=source.vaults)
    vaults = reader.read_vaults(pinned)
    if accounts is None:
        if index is None:
            raise ReaderError("Euler v2: give accounts or an AccountIndex to discover them")
        per_vault: Mapping[str, Iterable[str]] = discover_accounts(transport, index, reader.evc, reader.vaults, pinned,
                                                                   source.start_block)
    elif isinstance(accounts, Mapping):
        per_vault = {checksum(k, "vault"): list(v) for k, v in accounts.items()}
    else:
        flat = list(accounts)
        per_vault = {v: flat for v in reader.vaults}
    rows = reader.read_accounts(pinned, vaults, per_vault, include_empty=include_empty)
    return EulerRead(source, tuple(vaults), tuple(rows))


def euler_snapshot_parts(read: EulerRead, symbols: Mapping[str, str], problem: Any) -> tuple[list[Market], list[Position],
                                                                                           list[Skipped]]:
    """Markets, positions and skips of one :class:`EulerRead` for the Snapshot. ``problem(token)``
    says why a token cannot be an asset of the snapshot (no price, no decimals) or None: a vault
    whose debt asset has a problem is skipped; a collateral with one is left out of the market and
    the positions holding it are skipped (the vault values every enabled collateral)."""
    markets: list[Market] = []
    positions: list[Position] = []
    skipped: list[Skipped] = []
    for v in read.vaults:
        rows = [a for a in read.accounts if a.vault == v.vault]
        why = problem(v.asset)
        if why is not None:
            skipped.append(Skipped(venue="euler_v2", market=v.market_id, asset=v.asset,
                                   reason=f"debt asset: {why} ({len(rows)} accounts not read)"))
            continue
        bad = {c.vault: p for c in v.collaterals if (p := problem(c.asset)) is not None}
        kept = replace(v, collaterals=tuple(c for c in v.collaterals if c.vault not in bad))
        market, skips = kept.to_market(symbols, name=read.source.name)
        skipped += skips
        skipped += [Skipped(venue="euler_v2", market=v.market_id, asset=v.collateral(c).asset,
                            reason=f"collateral vault {c}: {p}; positions holding it are skipped") for c, p in bad.items()]
        listed = {r.asset for r in market.reserves if r.can_be_collateral}
        markets.append(market)
        for a in rows:
            held = next((c.vault for c in a.collaterals if c.vault in bad and c.balance), None)
            if held is not None:
                skipped.append(Skipped(venue="euler_v2", market=v.market_id, account=a.account,
                                       reason=f"holds collateral vault {held}: {bad[held]}"))
                continue
            positions.append(a.to_position(kept, symbols, listed))
    return markets, positions, skipped


__all__ = [
    "CONTROLLER_STATUS", "EulerAccountCollateral", "EulerAccountData", "EulerCollateralConfig", "EulerRead",
    "EulerSource", "EulerV2Reader", "EulerVaultData", "USD_UNIT_OF_ACCOUNT", "discover_accounts", "euler_evc_source",
    "euler_snapshot_parts", "read_euler",
]
