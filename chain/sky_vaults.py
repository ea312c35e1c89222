"""Sky (Maker) vaults reader: ilks and urns of the dss ``Vat`` at one pinned block.

Reads, through Multicall3, per ilk: ``Vat.ilks`` (``Art``, ``rate``, ``spot``, ``line``, ``dust``),
``Spotter.ilks`` (``pip``, ``mat``) and ``par``, ``Dog.ilks`` (``clip``, ``chop``, ``hole``,
``dirt``) with ``Hole``/``Dirt``, and the ilk's ``Clipper`` (``buf``, ``tail``, ``cusp``, ``calc``)
with its ``Abacus`` (``cut``/``step`` of StairstepExponentialDecrease, or ``tau`` of
LinearDecrease); per urn ``Vat.urns`` (``ink``, ``art``). Return values are read **by name** from
the ABI outputs (``abis/Sky*.json``), never by position.

Urns are discovered from the Vat's anonymous ``LogNote`` events (dss ``note`` modifier: topic0 is
the selector, topics 1-3 the first three arguments): ``frob(i, u, v, w, dink, dart)`` names the urn
``u`` in topic 2, ``fork(ilk, src, dst, dink, dart)`` the receiving urn ``dst`` in topic 3; topic 1
is the ilk. Every urn that ever held debt was frobbed or forked into.

Prices: the USD price used is the one the Vat liquidates on, ``spot * mat * par`` (the Spotter's
last ``poke`` of the OSM value), so the snapshot's boundary is the protocol's own; the OSM itself
is not read (its ``peek`` is whitelisted on mainnet).

Snapshot mapping (Market venue ``sky_vault``, one Market per ilk, id ``sky:<ILK>``):
- collateral reserve (the ilk's gem): LT = ``1 / mat`` as WAD (``WAD * RAY // mat``), bonus =
  ``chop``, protocol fee = 100% of the penalty (it goes to the Vow, not to the keeper);
- DAI reserve: debt only; ``Position.debt`` = ``ceil(art * rate / RAY)`` (never understated);
- ``Position.collateral`` = ``ink`` in the gem's raw units (``ink`` is always 18-decimal in the Vat:
  ``GemJoin`` scales by ``10**(18 - dec)``);
- ``Market.rule_params`` (the rule's declared market parameters, ``risk/venues/sky_vault.py``):
  ``dust_rad`` and the Dog's limits ``hole_rad``/``dirt_rad`` (``Dog.ilks(ilk)``) and
  ``Hole_rad``/``Dirt_rad`` (``Dog.Hole()``/``Dog.Dirt()``, the same on every ilk of the Dog), as read;
  the rest of the exact dss state (``rate``, ``spot``, Clipper curve) is kept in :class:`SkyIlkData`.

The Dog's getters (makerdao/dss src/dog.sol @3f30552a586264b32ebdb5bac94ba67020282e53): ``ilks(bytes32)
-> (clip, chop [wad], hole [rad], dirt [rad])``, ``Hole() [rad]``, ``Dirt() [rad]``. Checked as read:
``chop >= WAD`` (``file`` refuses less: ``Dog/file-chop-lt-WAD``) and ``Dirt >= sum of the ilks'
dirt`` (every ``bark`` adds its ``tab`` to both, every ``digs`` takes it from both, so ``Dirt`` is
the sum over all ilks); a read that breaks either is not a dss Dog at that block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chain.abi_reads import abi_read as _read, named
from chain.aave_v3 import Read, ReaderError, checksum, require_contract, run_calls
from chain.blocks import PinnedBlock
from chain.discovery import EventSource, EventSpec
from chain.transport import Transport
from risk.snapshot import Market, Position, Reserve
from risk.sky_vaults import RAY, WAD, ClipperCurve, encode_bonus_fee, sale_price_ratio

FROB_SIGNATURE = "frob(bytes32,address,address,address,int256,int256)"
FORK_SIGNATURE = "fork(bytes32,address,address,int256,int256)"


def ilk_bytes32(name: str) -> bytes:
    """``"ETH-A"`` -> the 32-byte ilk id (ASCII, right-padded with zeros)."""
    raw = name.encode("ascii")
    if not raw or len(raw) > 32:
        raise ValueError(f"ilk name {name!r} must be 1..32 ASCII characters")
    return raw.ljust(32, b"\0")


def ilk_name(word: bytes | str) -> str:
    raw = bytes.fromhex(word[2:]) if isinstance(word, str) else bytes(word)
    return raw.rstrip(b"\0").decode("ascii", errors="replace")


@dataclass(frozen=True, slots=True)
class NoteSpec(EventSpec):
    """A dss ``LogNote`` (anonymous): topic0 is the function selector left-aligned in 32 bytes."""

    @property
    def topic0(self) -> str:  # type: ignore[override]
        from eth_utils import keccak

        return "0x" + keccak(text=self.signature)[:4].hex() + "00" * 28


VAT_NOTES = (
    NoteSpec("frob", FROB_SIGNATURE, index=2, group_topic=1),
    NoteSpec("fork", FORK_SIGNATURE, index=3, group_topic=1),
)


def sky_vat_source(vat: str, start_block: int = 0, name: str = "sky-vat") -> EventSource:
    """The Vat's ``frob`` (urn ``u``) and ``fork`` (urn ``dst``) notes; group = ilk (bytes32 hex)."""
    return EventSource(name, vat, VAT_NOTES, start_block)


# ----------------------------------------------------------------------------------- typed rows


@dataclass(frozen=True, slots=True)
class SkyIlk:
    """One ilk to read: its name (``ETH-A``) and its gem token (the GemJoin's ``gem``)."""

    name: str
    gem: str


@dataclass(frozen=True, slots=True)
class ClipperCurveData:
    clip: str
    buf_ray: int
    tail_s: int
    cusp_ray: int
    calc: str
    kind: str  # "stairstep" | "linear"
    cut_ray: int = 0
    step_s: int = 0
    tau_s: int = 0


@dataclass(frozen=True, slots=True)
class SkyIlkData:
    """An ilk's dss state at the block (units in the names: wad 1e18, ray 1e27, rad 1e45)."""

    name: str
    gem: str
    Art_wad: int  # noqa: N815 - dss name
    rate_ray: int
    spot_ray: int
    line_rad: int
    dust_rad: int
    mat_ray: int
    par_ray: int
    chop_wad: int
    hole_rad: int
    dirt_rad: int
    Hole_rad: int  # noqa: N815
    Dirt_rad: int  # noqa: N815
    clipper: ClipperCurveData

    @property
    def market_id(self) -> str:
        return f"sky:{self.name}"

    @property
    def price_ray(self) -> int:
        """The collateral price the Vat last saw, DAI per gem unit [ray]: ``spot * mat / RAY``."""
        return self.spot_ray * self.mat_ray // RAY

    def price_usd(self) -> float:
        """USD per gem token at ``par`` (DAI's value in USD, 1.0 when par = RAY)."""
        return self.spot_ray * self.mat_ray / RAY / RAY * self.par_ray / RAY

    @property
    def liquidation_threshold_wad(self) -> int:
        return WAD * RAY // self.mat_ray if self.mat_ray else 0

    def rule_params(self) -> dict[str, int]:
        """The Sky rule's market parameters (``risk/venues/sky_vault.py``): ``dust`` and the Dog's
        limits, exactly as read (rad integers); the kernel and the engines turn ``hole - dirt`` and
        ``Hole - Dirt`` into the consumable room of each round (:mod:`risk.budgets`)."""
        return {"dust_rad": self.dust_rad, "hole_rad": self.hole_rad, "dirt_rad": self.dirt_rad,
                "Hole_rad": self.Hole_rad, "Dirt_rad": self.Dirt_rad}


def clipper_curve(c: "ClipperCurveData") -> ClipperCurve:
    return ClipperCurve(buf=c.buf_ray / RAY, tail_s=float(c.tail_s), cusp=c.cusp_ray / RAY, kind=c.kind,
                        cut=c.cut_ray / RAY if c.kind == "stairstep" else 0.99,
                        step_s=float(c.step_s) if c.kind == "stairstep" else 90.0,
                        tau_s=float(c.tau_s) if c.kind == "linear" else 0.0)


def ilk_market(ilk: "SkyIlkData", symbols: Mapping[str, str], *, dai: str, vat: str, name: str) -> Market:
    """The Snapshot Market of one ilk (see the module docstring for the mapping). The Clipper's
    clearing price for keepers at the oracle price (first Abacus step at or below it) goes into
    the bonus/fee columns (:func:`risk.sky_vaults.encode_bonus_fee`)."""
    chop = ilk.chop_wad / WAD
    ratio = float(sale_price_ratio(clipper_curve(ilk.clipper), 0.0))
    if not ratio > 0:
        raise ReaderError(f"Sky ilk {ilk.name}: its Clipper curve never reaches the oracle price before a redo")
    bonus, fee = encode_bonus_fee(chop, ratio)
    lt = ilk.liquidation_threshold_wad
    reserves = (
        Reserve(asset=symbols[ilk.gem], ltv_wad=min(lt, WAD), liquidation_threshold_wad=min(lt, WAD),
                liquidation_bonus_wad=int(round(bonus * WAD)), protocol_fee_wad=min(WAD, int(round(fee * WAD))),
                oracle_price=ilk.price_ray // 10**9, can_be_collateral=True, can_be_borrowed=False),
        Reserve(asset=symbols[dai], ltv_wad=0, liquidation_threshold_wad=0, liquidation_bonus_wad=WAD,
                oracle_price=ilk.par_ray // 10**9, can_be_collateral=False, can_be_borrowed=True),
    )
    return Market(id=ilk.market_id, venue="sky_vault", name=f"{name} {ilk.name}", address=vat,
                  protocol_version="dss", price_unit=WAD, reserves=reserves, rule_params=ilk.rule_params())


@dataclass(frozen=True, slots=True)
class SkySource:
    """A dss deployment to scan: Vat, Spotter, Dog, the DAI token and the ilks."""

    vat: str
    spotter: str
    dog: str
    dai: str
    ilks: tuple[SkyIlk, ...]
    start_block: int = 0
    name: str = "Sky"


@dataclass(frozen=True, slots=True)
class SkyUrnData:
    ilk: str
    urn: str
    ink_wad: int
    art_wad: int

    def debt_wad(self, rate_ray: int) -> int:
        """DAI owed, rounded up: ``ceil(art * rate / RAY)``."""
        return -(-self.art_wad * rate_ray // RAY)

    def to_position(self, ilk: "SkyIlkData", symbols: Mapping[str, str], decimals: Mapping[str, int], *,
                    dai: str) -> Position:
        raw = self.ink_wad // 10 ** (18 - decimals[ilk.gem])  # Vat ink is 18-decimal for every gem
        debt = self.debt_wad(ilk.rate_ray)
        return Position(market=ilk.market_id, account=self.urn, collateral={symbols[ilk.gem]: raw} if raw else {},
                        debt={symbols[dai]: debt} if debt else {})


# ------------------------------------------------------------------------------------- reader


class SkyVaultReader:
    """Read a dss Vat/Spotter/Dog (mainnet Sky or the devnet's DssDouble) for some ilks."""

    def __init__(self, transport: Transport, *, vat: str, spotter: str, dog: str, ilks: Sequence[SkyIlk]) -> None:
        if not ilks:
            raise ReaderError("Sky vaults: give at least one ilk")
        self.transport = transport
        self.vat = checksum(vat, "Sky Vat")
        self.spotter = checksum(spotter, "Sky Spotter")
        self.dog = checksum(dog, "Sky Dog")
        self.ilks = tuple(SkyIlk(i.name, checksum(i.gem, f"gem of {i.name}")) for i in ilks)
        for i in self.ilks:
            ilk_bytes32(i.name)

    def read_market(self, block: PinnedBlock | int) -> list[SkyIlkData]:
        for address, what in ((self.vat, "a dss Vat"), (self.spotter, "a dss Spotter"), (self.dog, "a dss Dog")):
            require_contract(self.transport, address, block, what)
        reads: list[Read] = [_read(self.spotter, "SkySpotter", "par"), _read(self.dog, "SkyDog", "Hole"),
                             _read(self.dog, "SkyDog", "Dirt")]
        for i in self.ilks:
            word = ilk_bytes32(i.name)
            reads += [_read(self.vat, "SkyVat", "ilks", word), _read(self.spotter, "SkySpotter", "ilks", word),
                      _read(self.dog, "SkyDog", "ilks", word)]
        out = run_calls(self.transport, block, reads, what=f"Sky Vat {self.vat}", allow_failure=True)
        if any(o is None for o in out):
            raise ReaderError(f"{self.vat}/{self.spotter}/{self.dog} are contracts but not a dss Vat/Spotter/Dog "
                              f"(ilks/par/Hole reads failed at block {block})")
        par = named("SkySpotter", "par", out[0])["par"]
        Hole = named("SkyDog", "Hole", out[1])["Hole"]  # noqa: N806
        Dirt = named("SkyDog", "Dirt", out[2])["Dirt"]  # noqa: N806
        per_ilk = []
        for k, i in enumerate(self.ilks):
            vat_ilk = named("SkyVat", "ilks", out[3 + 3 * k])
            spot_ilk = named("SkySpotter", "ilks", out[4 + 3 * k])
            dog_ilk = named("SkyDog", "ilks", out[5 + 3 * k])
            if vat_ilk["rate"] == 0:
                raise ReaderError(f"Sky ilk {i.name!r} is not initialised in Vat {self.vat} (rate 0)")
            if spot_ilk["mat"] == 0:
                raise ReaderError(f"Sky ilk {i.name!r} has no liquidation ratio (mat 0) in Spotter {self.spotter}")
            per_ilk.append((i, vat_ilk, spot_ilk, dog_ilk))
        for i, _, _, d in per_ilk:
            if d["chop"] < WAD:
                raise ReaderError(f"Sky ilk {i.name!r}: Dog {self.dog} chop {d['chop']} < WAD (dss refuses it: "
                                  f"Dog/file-chop-lt-WAD)")
        if Dirt < sum(d["dirt"] for _, _, _, d in per_ilk):
            raise ReaderError(f"Dog {self.dog}: Dirt {Dirt} is below the sum of its ilks' dirt at block {block} "
                              f"(dss keeps Dirt = the sum over every ilk)")
        curves = self._read_clippers(block, [checksum(d["clip"], f"clip of {i.name}") for i, _, _, d in per_ilk])
        return [
            SkyIlkData(
                name=i.name, gem=i.gem, Art_wad=v["Art"], rate_ray=v["rate"], spot_ray=v["spot"], line_rad=v["line"],
                dust_rad=v["dust"], mat_ray=s["mat"], par_ray=par, chop_wad=d["chop"], hole_rad=d["hole"],
                dirt_rad=d["dirt"], Hole_rad=Hole, Dirt_rad=Dirt, clipper=curve,
            )
            for (i, v, s, d), curve in zip(per_ilk, curves, strict=True)
        ]

    def _read_clippers(self, block: PinnedBlock | int, clips: list[str]) -> list[ClipperCurveData]:
        reads = []
        for clip in clips:
            reads += [_read(clip, "SkyClipper", f) for f in ("buf", "tail", "cusp", "calc")]
        out = run_calls(self.transport, block, reads, what="Sky Clippers")
        calcs = [checksum(named("SkyClipper", "calc", out[4 * k + 3])["calc"], "Clipper calc") for k in range(len(clips))]
        abacus = run_calls(self.transport, block,
                           [r for c in calcs for r in (_read(c, "SkyAbacus", "cut"), _read(c, "SkyAbacus", "step"),
                                                       _read(c, "SkyLinearAbacus", "tau"))],
                           what="Sky Abacus", allow_failure=True)
        curves = []
        for k, clip in enumerate(clips):
            buf = named("SkyClipper", "buf", out[4 * k])["buf"]
            tail = named("SkyClipper", "tail", out[4 * k + 1])["tail"]
            cusp = named("SkyClipper", "cusp", out[4 * k + 2])["cusp"]
            cut, step, tau = abacus[3 * k: 3 * k + 3]
            if cut is not None and step is not None:
                curves.append(ClipperCurveData(clip, buf, tail, cusp, calcs[k], "stairstep",
                                               cut_ray=named("SkyAbacus", "cut", cut)["cut"],
                                               step_s=named("SkyAbacus", "step", step)["step"]))
            elif tau is not None:
                curves.append(ClipperCurveData(clip, buf, tail, cusp, calcs[k], "linear",
                                               tau_s=named("SkyLinearAbacus", "tau", tau)["tau"]))
            else:
                raise ReaderError(f"Clipper {clip}: calc {calcs[k]} is neither a StairstepExponentialDecrease "
                                  f"(cut/step) nor a LinearDecrease (tau)")
        return curves

    def read_positions(self, block: PinnedBlock | int, urns: Mapping[str, Iterable[str]], *,
                       include_empty: bool = False) -> list[SkyUrnData]:
        """``urns``: ilk name -> urn addresses. Urns without debt are dropped unless ``include_empty``."""
        known = {i.name for i in self.ilks}
        keys: list[tuple[str, str]] = []
        for name, addresses in urns.items():
            if name not in known:
                continue
            keys += [(name, a) for a in sorted({checksum(a, "urn") for a in addresses})]
        if not keys:
            return []
        out = run_calls(self.transport, block, [_read(self.vat, "SkyVat", "urns", ilk_bytes32(n), u) for n, u in keys],
                        what=f"Sky Vat {self.vat} urns")
        rows = []
        for (name, urn), decoded in zip(keys, out, strict=True):
            u = named("SkyVat", "urns", decoded)
            if u["art"] == 0 and not include_empty:
                continue
            rows.append(SkyUrnData(name, urn, u["ink"], u["art"]))
        return rows


__all__ = [
    "ClipperCurveData", "FORK_SIGNATURE", "SkySource", "clipper_curve", "ilk_market", "FROB_SIGNATURE", "NoteSpec", "SkyIlk", "SkyIlkData", "SkyUrnData",
    "SkyVaultReader", "VAT_NOTES", "ilk_bytes32", "ilk_name", "named", "sky_vat_source",
]
