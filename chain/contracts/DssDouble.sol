// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

/// @title DssDouble — a TEST DOUBLE of the Sky/Maker core (dss), NOT Maker's code.
/// @notice No genuine dss is installable from a package registry, so the liqrisk devnet uses this
///         double. It implements the READ interface liqrisk uses (same signatures and units as
///         mainnet: Vat.ilks/urns, Spotter.ilks/par, Dog.ilks/Hole/Dirt/chop, Clipper.buf/tail/
///         cusp/calc/sales/getStatus, Abacus.price) and the MATH that decides liquidations, written
///         from the dss sources checked with the project's search tools:
///           - makerdao/dss src/vat.sol (verified mainnet Vat 0x35D1…492B as published in
///             renardbebe/Smart-Contract-Benchmark-Suites dataset/UR/0x35d1…492b.sol): frob/fork
///             checks and the anonymous LogNote(sig, arg1, arg2, arg3, data) emitted by `note`;
///           - makerdao/dss src/spot.sol: poke: spot = val * 1e9 / par / mat (rdiv twice);
///           - makerdao/dss src/dog.sol (read at commit 01c3a887b66fc8b61d61d003ade5d6094bde32dd;
///             the current bark(ilk, urn, kpr) partial-liquidation branch as in sky-ecosystem/dss
///             master): unsafe iff ink*spot < art*rate; room = min(Hole-Dirt, hole-dirt);
///             dart = min(art, room*WAD/rate/chop); dust edge case; dink = ink*dart/art;
///             tab = dart*rate*chop/WAD;
///           - makerdao/dss src/clip.sol (commit 0057e942c94fa31d336a3c07539268ee16ddd913):
///             kick top = price*buf, status: done = dur > tail || price/top < cusp, take with the
///             dust rule; src/abaci.sol: LinearDecrease and StairstepExponentialDecrease
///             (price(top, dur), rpow with RAY rounding).
///         Simplifications (by design, labelled): no Vow/Jug/Joins — `vat.suck`/`vow.fess` are
///         bookkeeping only, gems are minted with `slip` by the deployer, `par` is 1 RAY, the
///         Pip is settable with no OSM delay, Clipper keeper incentives (tip/chip) are not paid.

contract Auth {
    mapping(address => uint256) public wards;
    constructor() { wards[msg.sender] = 1; }
    modifier auth() { require(wards[msg.sender] == 1, "not-authorized"); _; }
    function rely(address usr) external auth { wards[usr] = 1; }
    function deny(address usr) external auth { wards[usr] = 0; }
}

contract VatDouble is Auth {
    struct Ilk { uint256 Art; uint256 rate; uint256 spot; uint256 line; uint256 dust; }
    struct Urn { uint256 ink; uint256 art; }

    mapping(bytes32 => Ilk) public ilks;
    mapping(bytes32 => mapping(address => Urn)) public urns;
    mapping(bytes32 => mapping(address => uint256)) public gem;  // [wad]
    mapping(address => uint256) public dai;                       // [rad]
    mapping(address => uint256) public sin;                       // [rad]
    mapping(address => mapping(address => uint256)) public can;
    uint256 public debt;  // [rad]
    uint256 public vice;  // [rad]
    uint256 public Line;  // [rad]
    uint256 public live = 1;

    // Mainnet Vat's anonymous note: topics = selector, first three call arguments.
    event LogNote(bytes4 indexed sig, bytes32 indexed arg1, bytes32 indexed arg2, bytes32 indexed arg3, bytes data)
        anonymous;

    modifier note() {
        _;
        bytes32 a1; bytes32 a2; bytes32 a3;
        assembly { a1 := calldataload(4) a2 := calldataload(36) a3 := calldataload(68) }
        emit LogNote(msg.sig, a1, a2, a3, msg.data);
    }

    function hope(address usr) external { can[msg.sender][usr] = 1; }
    function wish(address bit, address usr) internal view returns (bool) { return bit == usr || can[bit][usr] == 1; }

    function _add(uint256 x, int256 y) internal pure returns (uint256) {
        return y >= 0 ? x + uint256(y) : x - uint256(-y);
    }
    function _mul(uint256 x, int256 y) internal pure returns (int256) { return int256(x) * y; }

    function init(bytes32 ilk) external auth {
        require(ilks[ilk].rate == 0, "Vat/ilk-already-init");
        ilks[ilk].rate = 10 ** 27;
    }
    function file(bytes32 what, uint256 data) external auth {
        if (what == "Line") Line = data; else revert("Vat/file-unrecognized-param");
    }
    function file(bytes32 ilk, bytes32 what, uint256 data) external auth {
        if (what == "spot") ilks[ilk].spot = data;
        else if (what == "line") ilks[ilk].line = data;
        else if (what == "dust") ilks[ilk].dust = data;
        else revert("Vat/file-unrecognized-param");
    }
    function slip(bytes32 ilk, address usr, int256 wad) external auth { gem[ilk][usr] = _add(gem[ilk][usr], wad); }
    function flux(bytes32 ilk, address src, address dst, uint256 wad) external {
        require(wish(src, msg.sender), "Vat/not-allowed");
        gem[ilk][src] -= wad;
        gem[ilk][dst] += wad;
    }
    function move(address src, address dst, uint256 rad) external {
        require(wish(src, msg.sender), "Vat/not-allowed");
        dai[src] -= rad;
        dai[dst] += rad;
    }

    // dss vat.sol frob: the same safety, dust and consent checks (ceilings included).
    function frob(bytes32 i, address u, address v, address w, int256 dink, int256 dart) external note {
        require(live == 1, "Vat/not-live");
        Urn memory urn = urns[i][u];
        Ilk memory ilk = ilks[i];
        require(ilk.rate != 0, "Vat/ilk-not-init");
        urn.ink = _add(urn.ink, dink);
        urn.art = _add(urn.art, dart);
        ilk.Art = _add(ilk.Art, dart);
        int256 dtab = _mul(ilk.rate, dart);
        uint256 tab = ilk.rate * urn.art;
        debt = _add(debt, dtab);
        require(dart <= 0 || (ilk.Art * ilk.rate <= ilk.line && debt <= Line), "Vat/ceiling-exceeded");
        require((dart <= 0 && dink >= 0) || tab <= urn.ink * ilk.spot, "Vat/not-safe");
        require((dart <= 0 && dink >= 0) || wish(u, msg.sender), "Vat/not-allowed-u");
        require(dink <= 0 || wish(v, msg.sender), "Vat/not-allowed-v");
        require(dart >= 0 || wish(w, msg.sender), "Vat/not-allowed-w");
        require(urn.art == 0 || tab >= ilk.dust, "Vat/dust");
        gem[i][v] = _add(gem[i][v], -dink);
        dai[w] = _add(dai[w], dtab);
        urns[i][u] = urn;
        ilks[i] = ilk;
    }

    // dss vat.sol fork: move ink/art between urns; both sides must stay safe and not dusty.
    function fork(bytes32 ilk, address src, address dst, int256 dink, int256 dart) external note {
        Urn storage u = urns[ilk][src];
        Urn storage v = urns[ilk][dst];
        Ilk storage i = ilks[ilk];
        u.ink = _add(u.ink, -dink);
        u.art = _add(u.art, -dart);
        v.ink = _add(v.ink, dink);
        v.art = _add(v.art, dart);
        uint256 utab = u.art * i.rate;
        uint256 vtab = v.art * i.rate;
        require(wish(src, msg.sender) && wish(dst, msg.sender), "Vat/not-allowed");
        require(utab <= u.ink * i.spot, "Vat/not-safe-src");
        require(vtab <= v.ink * i.spot, "Vat/not-safe-dst");
        require(utab >= i.dust || u.art == 0, "Vat/dust-src");
        require(vtab >= i.dust || v.art == 0, "Vat/dust-dst");
    }

    function grab(bytes32 i, address u, address v, address w, int256 dink, int256 dart) external auth note {
        Urn storage urn = urns[i][u];
        Ilk storage ilk = ilks[i];
        urn.ink = _add(urn.ink, dink);
        urn.art = _add(urn.art, dart);
        ilk.Art = _add(ilk.Art, dart);
        int256 dtab = _mul(ilk.rate, dart);
        gem[i][v] = _add(gem[i][v], -dink);
        sin[w] = _add(sin[w], -dtab);
        vice = _add(vice, -dtab);
    }

    function suck(address u, address v, uint256 rad) external auth {
        sin[u] += rad;
        dai[v] += rad;
        vice += rad;
        debt += rad;
    }

    // dss vat.sol fold (called by Jug.drip): accrue stability fees into `rate`.
    function fold(bytes32 i, address u, int256 rate) external auth note {
        Ilk storage ilk = ilks[i];
        ilk.rate = _add(ilk.rate, rate);
        int256 rad = _mul(ilk.Art, rate);
        dai[u] = _add(dai[u], rad);
        debt = _add(debt, rad);
    }
}

/// Settable price source with the OSM's `peek` / `read` interface (no delay).
contract PipDouble is Auth {
    uint256 public val;  // [wad] USD per collateral unit
    bool public has;
    constructor(uint256 val_) { val = val_; has = val_ > 0; }
    function poke(uint256 val_) external auth { val = val_; has = val_ > 0; }
    function peek() external view returns (bytes32, bool) { return (bytes32(val), has); }
    function read() external view returns (bytes32) { require(has, "Pip/no-price"); return bytes32(val); }
}

interface PipLike { function peek() external view returns (bytes32, bool); }
interface VatFileLike { function file(bytes32, bytes32, uint256) external; }

contract SpotterDouble is Auth {
    struct Ilk { PipLike pip; uint256 mat; }  // mat [ray]
    mapping(bytes32 => Ilk) public ilks;
    VatFileLike public vat;
    uint256 public par = 10 ** 27;  // [ray] value of DAI in the reference asset
    uint256 constant ONE = 10 ** 27;

    event Poke(bytes32 ilk, bytes32 val, uint256 spot);

    constructor(address vat_) { vat = VatFileLike(vat_); }

    function file(bytes32 ilk, bytes32 what, address pip_) external auth {
        if (what == "pip") ilks[ilk].pip = PipLike(pip_); else revert("Spotter/file-unrecognized-param");
    }
    function file(bytes32 ilk, bytes32 what, uint256 data) external auth {
        if (what == "mat") ilks[ilk].mat = data; else revert("Spotter/file-unrecognized-param");
    }
    function rdiv(uint256 x, uint256 y) internal pure returns (uint256) { return x * ONE / y; }

    // dss spot.sol poke
    function poke(bytes32 ilk) external {
        (bytes32 val, bool has) = ilks[ilk].pip.peek();
        uint256 spot = has ? rdiv(rdiv(uint256(val) * 10 ** 9, par), ilks[ilk].mat) : 0;
        vat.file(ilk, "spot", spot);
        emit Poke(ilk, val, spot);
    }
}

interface VatLike {
    function ilks(bytes32) external view returns (uint256, uint256, uint256, uint256, uint256);
    function urns(bytes32, address) external view returns (uint256, uint256);
    function grab(bytes32, address, address, address, int256, int256) external;
    function flux(bytes32, address, address, uint256) external;
    function move(address, address, uint256) external;
}

interface ClipperLike { function kick(uint256 tab, uint256 lot, address usr, address kpr) external returns (uint256); }

contract DogDouble is Auth {
    struct Ilk { address clip; uint256 chop; uint256 hole; uint256 dirt; }  // chop [wad], hole/dirt [rad]
    mapping(bytes32 => Ilk) public ilks;
    VatLike public immutable vat;
    address public vow;
    uint256 public live = 1;
    uint256 public Hole;  // [rad]
    uint256 public Dirt;  // [rad]
    uint256 constant WAD = 10 ** 18;

    event Bark(bytes32 indexed ilk, address indexed urn, uint256 ink, uint256 art, uint256 due, address clip,
               uint256 indexed id);

    constructor(address vat_) { vat = VatLike(vat_); vow = address(this); }

    function file(bytes32 what, uint256 data) external auth {
        if (what == "Hole") Hole = data; else revert("Dog/file-unrecognized-param");
    }
    function file(bytes32 ilk, bytes32 what, uint256 data) external auth {
        if (what == "chop") ilks[ilk].chop = data;
        else if (what == "hole") ilks[ilk].hole = data;
        else revert("Dog/file-unrecognized-param");
    }
    function file(bytes32 ilk, bytes32 what, address clip) external auth {
        if (what == "clip") ilks[ilk].clip = clip; else revert("Dog/file-unrecognized-param");
    }
    function chop(bytes32 ilk) external view returns (uint256) { return ilks[ilk].chop; }

    // dss dog.sol bark (Liquidation 2.0), same arithmetic and require order.
    function bark(bytes32 ilk, address urn, address kpr) external returns (uint256 id) {
        require(live == 1, "Dog/not-live");
        (uint256 ink, uint256 art) = vat.urns(ilk, urn);
        Ilk memory milk = ilks[ilk];
        uint256 dart;
        uint256 rate;
        uint256 dust;
        {
            uint256 spot;
            (, rate, spot,, dust) = vat.ilks(ilk);
            require(spot > 0 && ink * spot < art * rate, "Dog/not-unsafe");
            require(Hole > Dirt && milk.hole > milk.dirt, "Dog/liquidation-limit-hit");
            uint256 room = Hole - Dirt < milk.hole - milk.dirt ? Hole - Dirt : milk.hole - milk.dirt;
            uint256 most = room * WAD / rate / milk.chop;
            dart = art < most ? art : most;
            if (art > dart) {
                if ((art - dart) * rate < dust) {
                    dart = art;
                } else {
                    require(dart * rate >= dust, "Dog/dusty-auction-from-partial-liquidation");
                }
            }
        }
        uint256 dink = ink * dart / art;
        require(dink > 0, "Dog/null-auction");
        require(dart <= 2 ** 255 && dink <= 2 ** 255, "Dog/overflow");
        vat.grab(ilk, urn, milk.clip, vow, -int256(dink), -int256(dart));
        uint256 due = dart * rate;
        uint256 tab = due * milk.chop / WAD;
        Dirt += tab;
        ilks[ilk].dirt = milk.dirt + tab;
        id = ClipperLike(milk.clip).kick(tab, dink, urn, kpr);
        emit Bark(ilk, urn, dink, dart, due, milk.clip, id);
    }

    function digs(bytes32 ilk, uint256 rad) external auth {
        Dirt -= rad;
        ilks[ilk].dirt -= rad;
    }
}

interface AbacusLike { function price(uint256 top, uint256 dur) external view returns (uint256); }
interface SpotterLike {
    function par() external view returns (uint256);
    function ilks(bytes32) external view returns (PipLike, uint256);
}
interface DogLike { function digs(bytes32, uint256) external; }

/// dss abaci.sol LinearDecrease: price = top * (tau - dur) / tau, 0 once dur >= tau.
contract LinearDecreaseDouble is Auth {
    uint256 public tau;  // [seconds]
    uint256 constant RAY = 10 ** 27;
    function file(bytes32 what, uint256 data) external auth {
        if (what == "tau") tau = data; else revert("LinearDecrease/file-unrecognized-param");
    }
    function price(uint256 top, uint256 dur) external view returns (uint256) {
        if (dur >= tau) return 0;
        return top * ((tau - dur) * RAY / tau) / RAY;
    }
}

/// dss abaci.sol StairstepExponentialDecrease: price = top * cut^(dur / step), rpow rounding as dss.
contract StairstepExponentialDecreaseDouble is Auth {
    uint256 public step;  // [seconds]
    uint256 public cut;   // [ray] per-step multiplier
    uint256 constant RAY = 10 ** 27;
    function file(bytes32 what, uint256 data) external auth {
        if (what == "cut") { require(data <= RAY, "StairstepExponentialDecrease/cut-gt-RAY"); cut = data; }
        else if (what == "step") step = data;
        else revert("StairstepExponentialDecrease/file-unrecognized-param");
    }
    function rpow(uint256 x, uint256 n, uint256 b) internal pure returns (uint256 z) {
        if (n == 0) return b;
        if (x == 0) return 0;
        z = n % 2 == 0 ? b : x;
        uint256 half = b / 2;
        for (n /= 2; n != 0; n /= 2) {
            x = (x * x + half) / b;
            if (n % 2 == 1) z = (z * x + half) / b;
        }
    }
    function price(uint256 top, uint256 dur) external view returns (uint256) {
        return top * rpow(cut, dur / step, RAY) / RAY;
    }
}

contract ClipperDouble is Auth {
    bytes32 public immutable ilk;
    VatLike public immutable vat;
    DogLike public dog;
    SpotterLike public spotter;
    AbacusLike public calc;
    address public vow;
    uint256 public buf;   // [ray]
    uint256 public tail;  // [seconds]
    uint256 public cusp;  // [ray]
    uint64 public chip;   // [wad] (not paid by the double)
    uint192 public tip;   // [rad] (not paid by the double)
    uint256 public dust;  // [rad] cached ilk dust
    uint256 public kicks;
    uint256[] public active;

    struct Sale { uint256 pos; uint256 tab; uint256 lot; address usr; uint96 tic; uint256 top; }
    mapping(uint256 => Sale) public sales;

    uint256 constant BLN = 10 ** 9;
    uint256 constant RAY = 10 ** 27;

    event Kick(uint256 indexed id, uint256 top, uint256 tab, uint256 lot, address indexed usr, address indexed kpr,
               uint256 coin);
    event Take(uint256 indexed id, uint256 max, uint256 price, uint256 owe, uint256 tab, uint256 lot,
               address indexed usr);
    event Redo(uint256 indexed id, uint256 top, uint256 tab, uint256 lot, address indexed usr, address indexed kpr,
               uint256 coin);

    constructor(address vat_, address spotter_, address dog_, bytes32 ilk_) {
        vat = VatLike(vat_);
        spotter = SpotterLike(spotter_);
        dog = DogLike(dog_);
        ilk = ilk_;
        buf = RAY;
        vow = dog_;
        (,,,, uint256 _dust) = VatLike(vat_).ilks(ilk_);
        dust = _dust;
    }

    function file(bytes32 what, uint256 data) external auth {
        if (what == "buf") buf = data;
        else if (what == "tail") tail = data;
        else if (what == "cusp") cusp = data;
        else revert("Clipper/file-unrecognized-param");
    }
    function file(bytes32 what, address data) external auth {
        if (what == "calc") calc = AbacusLike(data); else revert("Clipper/file-unrecognized-param");
    }
    function updust() external { (,,,, uint256 _dust) = vat.ilks(ilk); dust = _dust; }

    function getPrice() internal view returns (uint256) {
        (PipLike pip, ) = spotter.ilks(ilk);
        (bytes32 val, bool has) = pip.peek();
        require(has, "Clipper/invalid-price");
        return uint256(val) * BLN * RAY / spotter.par();
    }

    function kick(uint256 tab, uint256 lot, address usr, address kpr) external auth returns (uint256 id) {
        require(tab > 0, "Clipper/zero-tab");
        require(lot > 0, "Clipper/zero-lot");
        require(usr != address(0), "Clipper/zero-usr");
        id = ++kicks;
        active.push(id);
        sales[id].pos = active.length - 1;
        sales[id].tab = tab;
        sales[id].lot = lot;
        sales[id].usr = usr;
        sales[id].tic = uint96(block.timestamp);
        uint256 top = getPrice() * buf / RAY;
        require(top > 0, "Clipper/zero-top-price");
        sales[id].top = top;
        emit Kick(id, top, tab, lot, usr, kpr, 0);
    }

    function status(uint96 tic, uint256 top) internal view returns (bool done, uint256 price) {
        price = calc.price(top, block.timestamp - tic);
        done = (block.timestamp - tic > tail || price * RAY / top < cusp);
    }

    function getStatus(uint256 id) external view returns (bool needsRedo, uint256 price, uint256 lot, uint256 tab) {
        address usr = sales[id].usr;
        bool done;
        (done, price) = status(sales[id].tic, sales[id].top);
        needsRedo = usr != address(0) && done;
        lot = sales[id].lot;
        tab = sales[id].tab;
    }

    function redo(uint256 id, address kpr) external {
        address usr = sales[id].usr;
        require(usr != address(0), "Clipper/not-running-auction");
        (bool done,) = status(sales[id].tic, sales[id].top);
        require(done, "Clipper/cannot-reset");
        sales[id].tic = uint96(block.timestamp);
        uint256 top = getPrice() * buf / RAY;
        require(top > 0, "Clipper/zero-top-price");
        sales[id].top = top;
        emit Redo(id, top, sales[id].tab, sales[id].lot, usr, kpr, 0);
    }

    // dss clip.sol take (no external callee): owe/slice with the dust rule.
    function take(uint256 id, uint256 amt, uint256 max, address who) external {
        address usr = sales[id].usr;
        require(usr != address(0), "Clipper/not-running-auction");
        uint256 price;
        {
            bool done;
            (done, price) = status(sales[id].tic, sales[id].top);
            require(!done, "Clipper/needs-reset");
        }
        require(max >= price, "Clipper/too-expensive");
        uint256 lot = sales[id].lot;
        uint256 tab = sales[id].tab;
        uint256 owe;
        {
            uint256 slice = lot < amt ? lot : amt;
            owe = slice * price;
            if (owe > tab) {
                owe = tab;
                slice = owe / price;
            } else if (owe < tab && slice < lot) {
                if (tab - owe < dust) {
                    require(tab > dust, "Clipper/no-partial-purchase");
                    owe = tab - dust;
                    slice = owe / price;
                }
            }
            tab = tab - owe;
            lot = lot - slice;
            vat.flux(ilk, address(this), who, slice);
            vat.move(msg.sender, vow, owe);
            dog.digs(ilk, lot == 0 ? tab + owe : owe);
        }
        if (lot == 0) {
            _remove(id);
        } else if (tab == 0) {
            vat.flux(ilk, address(this), usr, lot);
            _remove(id);
        } else {
            sales[id].tab = tab;
            sales[id].lot = lot;
        }
        emit Take(id, max, price, owe, tab, lot, usr);
    }

    function _remove(uint256 id) internal {
        uint256 _move = active[active.length - 1];
        if (id != _move) {
            uint256 _index = sales[id].pos;
            active[_index] = _move;
            sales[_move].pos = _index;
        }
        active.pop();
        delete sales[id];
    }

    function count() external view returns (uint256) { return active.length; }
}
