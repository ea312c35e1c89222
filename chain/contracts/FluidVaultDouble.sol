// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

// @title FluidVaultDouble — a TEST DOUBLE of Instadapp Fluid vault T1 (and the parts of its factory,
//        resolver and oracle liqrisk reads), NOT Fluid's code.
// @notice No genuine Fluid code is installable from a package registry, so the liqrisk devnet uses
//         this double. It mirrors, from Instadapp/fluid-contracts-public read with the project's
//         search tools:
//           - the vault's STORAGE LAYOUT (contracts/protocols/vault/vaultT1/common/variables.sol
//             @f8a93859822cbe7ca7b9bac076c5e81fe1fcadaf): vaultVariables (slot 0), vaultVariables2 (1),
//             absorbedLiquidity (2), positionData (3), tickHasDebt (4), tickData (5), tickId (6),
//             branchData (7), rates (8), rebalancer (9), absorbedDustDebt (10), bit-packed as there, and
//             readFromStorage(bytes32) answering them (so the resolver's raw getters decode as on mainnet);
//           - IFluidVaultT1 (contracts/protocols/vault/interfaces/iVaultT1.sol @9496626f71a761fc296dc3b2efbfd54c504e18f0):
//             VAULT_ID, VAULT_FACTORY, LIQUIDITY, readFromStorage, constantsView (ConstantViews),
//             updateExchangePrices, liquidate(debtAmt, colPerUnitDebt, to, absorb), absorb();
//           - the resolver (contracts/periphery/resolvers/vault/main.sol and iVaultResolver.sol
//             @499e1ab40581fa71e71a934f2820d8385f1e1878): getVaultVariablesRaw, getVaultVariables2Raw,
//             getAbsorbedLiquidityRaw, getPositionDataRaw, getTickDataRaw, getBranchDataRaw, getRateRaw,
//             getTotalVaults, getAllVaultsAddresses, getVaultAddress, vaultByNftId, totalPositions,
//             getVaultState (VaultState / CurrentBranchState structs of resolvers/vault/structs.sol @499e1ab);
//           - libraries/tickMath.sol (@499e1ab) getRatioAtTick / getTickAtRatio and
//             libraries/bigMathMinified.sol (@499e1ab) toBigNumber / fromBigNumber (56-bit coefficient,
//             8-bit exponent), ported here;
//           - the liquidation math as liqrisk's exact Python has it (risk/fluid_vaults.py, from
//             vaultT1/coreModule/main.sol liquidate @47e2ae8c698fd17835f0277c3f88a4198c200071 and
//             main2.sol absorb): oracle step (colPerDebt with the penalty, liquidation tick at the
//             threshold, max tick at the max limit), absorb of the ticks above the max tick, then the
//             walk from the top tick down, each step repaying x = (debt - ref*debt/ratio)*1e27 /
//             (1e27 - colPerDebt*ref/2^96).
//         Simplifications (by design, labelled): positions are opened by the deployer through
//         openPosition (no operate(), no Liquidity layer, no tokens move: collateral and debt are
//         bookkeeping); exchange prices are stored, never accrued; tickHasDebt is not maintained (the
//         double keeps its own tick list); ONE liquidation per vault: the walk is over perfect ticks
//         (a second liquidation, which on mainnet merges branches and partials, reverts here with
//         "FluidVaultDouble: branches not modelled"); absorbed liquidity is recorded, not re-liquidated.
//         Functions and variables marked "double-only" do not exist on mainnet.

library FluidTickMathDouble {
    int256 internal constant MIN_TICK = -32767;
    int256 internal constant MAX_TICK = 32767;
    uint256 internal constant ZERO_TICK_SCALED_RATIO = 1 << 96;
    uint256 internal constant MIN_RATIOX96 = 37075072;
    uint256 internal constant MAX_RATIOX96 = 169307877264527972847801929085841449095838922544595;

    // tickMath.sol getRatioAtTick: 1.0015**tick * 2**96, rounded up for positive ticks.
    function getRatioAtTick(int256 tick) internal pure returns (uint256) {
        uint256 a = tick < 0 ? uint256(-tick) : uint256(tick);
        require(a <= uint256(MAX_TICK), "tick out of range");
        uint256 factor = a & 0x1 != 0 ? 0xff9dd7de423466c20352b1246ce4856f : 1 << 128;
        if (a & 0x2 != 0) factor = (factor * 0xff3bd55f4488ad277531fa1c725a66d0) >> 128;
        if (a & 0x4 != 0) factor = (factor * 0xfe78410fd6498b73cb96a6917f853259) >> 128;
        if (a & 0x8 != 0) factor = (factor * 0xfcf2d9987c9be178ad5bfeffaa123273) >> 128;
        if (a & 0x10 != 0) factor = (factor * 0xf9ef02c4529258b057769680fc6601b3) >> 128;
        if (a & 0x20 != 0) factor = (factor * 0xf402d288133a85a17784a411f7aba082) >> 128;
        if (a & 0x40 != 0) factor = (factor * 0xe895615b5beb6386553757b0352bda90) >> 128;
        if (a & 0x80 != 0) factor = (factor * 0xd34f17a00ffa00a8309940a15930391a) >> 128;
        if (a & 0x100 != 0) factor = (factor * 0xae6b7961714e20548d88ea5123f9a0ff) >> 128;
        if (a & 0x200 != 0) factor = (factor * 0x76d6461f27082d74e0feed3b388c0ca1) >> 128;
        if (a & 0x400 != 0) factor = (factor * 0x372a3bfe0745d8b6b19d985d9a8b85bb) >> 128;
        if (a & 0x800 != 0) factor = (factor * 0x0be32cbee48979763cf7247dd7bb539d) >> 128;
        if (a & 0x1000 != 0) factor = (factor * 0x8d4f70c9ff4924dac37612d1e2921e) >> 128;
        if (a & 0x2000 != 0) factor = (factor * 0x4e009ae5519380809a02ca7aec77) >> 128;
        if (a & 0x4000 != 0) factor = (factor * 0x17c45e641b6e95dee056ff10) >> 128;
        uint256 precision = 0;
        if (tick >= 0) {
            factor = type(uint256).max / factor;
            if (factor % (1 << 32) != 0) precision = 1;
        }
        return (factor >> 32) + precision;
    }

    // tickMath.sol getTickAtRatio: (tick rounded down, that tick's perfect ratio).
    function getTickAtRatio(uint256 ratioX96) internal pure returns (int256 tick, uint256 perfectRatioX96) {
        require(ratioX96 >= MIN_RATIOX96 && ratioX96 <= MAX_RATIOX96, "ratio out of range");
        bool below = ratioX96 < ZERO_TICK_SCALED_RATIO;
        uint256 factor = below ? (ZERO_TICK_SCALED_RATIO * 1e26) / ratioX96 : (ratioX96 * 1e26) / ZERO_TICK_SCALED_RATIO;
        uint256 t = 0;
        uint256[15] memory thresholds = [
            uint256(4626198540796508716348404308345255985), 21508599537851153911767490449162,
            46377364670549310883002866649, 2153540449365864845468344760, 464062544207767844008185025,
            215421109505955298802281577, 146772309890508740607270615, 121149622323187099817270416,
            110067989135437147685980801, 104913292358707887270979600, 102427189924701091191840928,
            101206318935480056907421313, 100601351350506250000000000, 100300225000000000000000000,
            100150000000000000000000000
        ];
        for (uint256 k = 0; k < 15; k++) {
            if (factor >= thresholds[k]) {
                t |= uint256(1) << (14 - k);
                factor = (factor * 1e26) / thresholds[k];
            }
        }
        if (below) {
            tick = ~int256(t);
            perfectRatioX96 = (ratioX96 * factor) / 100150000000000000000000000;
        } else {
            tick = int256(t);
            perfectRatioX96 = (ratioX96 * 1e26) / factor;
        }
        require(perfectRatioX96 <= ratioX96, "perfect ratio above ratio");
    }
}

library FluidBigMathDouble {
    // bigMathMinified.sol toBigNumber (same rounding: round up adds 1 to the coefficient when bits are cut).
    function toBigNumber(uint256 normal, uint256 coefficientSize, uint256 exponentSize, bool roundUp)
        internal pure returns (uint256)
    {
        uint256 lastBit = 0;
        uint256 n = normal;
        while (n > 0) {
            n >>= 1;
            lastBit++;
        }
        if (lastBit < coefficientSize) lastBit = coefficientSize;
        uint256 exponent = lastBit - coefficientSize;
        uint256 coefficient = normal >> exponent;
        if (roundUp && exponent > 0) {
            coefficient += 1;
            if (coefficient == (uint256(1) << coefficientSize)) {
                coefficient = uint256(1) << (coefficientSize - 1);
                exponent += 1;
            }
        }
        require(exponent < (uint256(1) << exponentSize), "big number too big");
        return (coefficient << exponentSize) + exponent;
    }

    function fromBigNumber(uint256 bigNumber, uint256 exponentSize, uint256 exponentMask)
        internal pure returns (uint256)
    {
        return (bigNumber >> exponentSize) << (bigNumber & exponentMask);
    }
}

// A Fluid oracle double: getExchangeRateOperate / getExchangeRateLiquidate (contracts/oracle/fluidOracle.sol
// interface @499e1ab): debt token per 1 collateral token, 1e27, in raw token units. Settable (devnet only).
contract FluidOracleDouble {
    uint256 public rate;

    constructor(uint256 rate_) {
        rate = rate_;
    }

    function setRate(uint256 rate_) external {  // double-only
        rate = rate_;
    }

    function getExchangeRateOperate() external view returns (uint256) {
        return rate;
    }

    function getExchangeRateLiquidate() external view returns (uint256) {
        return rate;
    }

    function getExchangeRate() external view returns (uint256) {
        return rate;
    }
}

// The factory's NFT bookkeeping (positions are NFTs of the vault factory on mainnet): vault list,
// nftId -> vault id, owners.
contract FluidVaultFactoryDouble {
    address[] internal _vaults;
    mapping(uint256 => uint256) public vaultIdOfNft;  // double-only (the factory's tokenConfig >> 192)
    mapping(uint256 => address) public ownerOf;
    uint256 public totalSupply;
    mapping(address => uint256) internal _vaultIds;

    function registerVault(address vault) external returns (uint256 vaultId) {  // double-only
        _vaults.push(vault);
        vaultId = _vaults.length;
        _vaultIds[vault] = vaultId;
    }

    function mint(address owner) external returns (uint256 nftId) {  // double-only, called by a vault
        uint256 vaultId = _vaultIds[msg.sender];
        require(vaultId != 0, "not a vault");
        nftId = ++totalSupply;
        vaultIdOfNft[nftId] = vaultId;
        ownerOf[nftId] = owner;
    }

    function totalVaults() external view returns (uint256) {
        return _vaults.length;
    }

    function getVaultAddress(uint256 vaultId) public view returns (address) {
        if (vaultId == 0 || vaultId > _vaults.length) return address(0);
        return _vaults[vaultId - 1];
    }
}

interface IFluidVaultDoubleStorage {
    function readFromStorage(bytes32 slot_) external view returns (uint256);
}

// The resolver's read functions (resolvers/vault/main.sol @499e1ab), over the factory and vault doubles.
contract FluidVaultResolverDouble {
    struct CurrentBranchState {
        uint256 status;
        int256 minimaTick;
        uint256 debtFactor;
        uint256 partials;
        uint256 debtLiquidity;
        uint256 baseBranchId;
        int256 baseBranchMinima;
    }

    struct VaultState {
        uint256 totalPositions;
        int256 topTick;
        uint256 currentBranch;
        uint256 totalBranch;
        uint256 totalBorrow;
        uint256 totalSupply;
        CurrentBranchState currentBranchState;
    }

    uint256 internal constant X8 = 0xff;
    uint256 internal constant X20 = 0xfffff;
    uint256 internal constant X30 = 0x3fffffff;
    uint256 internal constant X32 = 0xffffffff;
    uint256 internal constant X50 = 0x3ffffffffffff;
    uint256 internal constant X64 = 0xffffffffffffffff;

    FluidVaultFactoryDouble public immutable FACTORY;

    constructor(FluidVaultFactoryDouble factory_) {
        FACTORY = factory_;
    }

    function _slot(uint256 slot) internal pure returns (bytes32) {
        return bytes32(slot);
    }

    function _uintMapping(uint256 slot, uint256 key) internal pure returns (bytes32) {
        return keccak256(abi.encode(key, slot));
    }

    function _intMapping(uint256 slot, int256 key) internal pure returns (bytes32) {
        return keccak256(abi.encode(key, slot));
    }

    function _read(address vault, bytes32 slot) internal view returns (uint256) {
        return IFluidVaultDoubleStorage(vault).readFromStorage(slot);
    }

    function getVaultVariablesRaw(address vault_) public view returns (uint256) {
        return _read(vault_, _slot(0));
    }

    function getVaultVariables2Raw(address vault_) public view returns (uint256) {
        return _read(vault_, _slot(1));
    }

    function getAbsorbedLiquidityRaw(address vault_) public view returns (uint256) {
        return _read(vault_, _slot(2));
    }

    function getPositionDataRaw(address vault_, uint256 positionId_) public view returns (uint256) {
        return _read(vault_, _uintMapping(3, positionId_));
    }

    function getTickDataRaw(address vault_, int256 tick_) public view returns (uint256) {
        return _read(vault_, _intMapping(5, tick_));
    }

    function getBranchDataRaw(address vault_, uint256 branch_) public view returns (uint256) {
        return _read(vault_, _uintMapping(7, branch_));
    }

    function getRateRaw(address vault_) public view returns (uint256) {
        return _read(vault_, _slot(8));
    }

    function getTotalVaults() public view returns (uint256) {
        return FACTORY.totalVaults();
    }

    function getVaultAddress(uint256 vaultId_) public view returns (address) {
        return FACTORY.getVaultAddress(vaultId_);
    }

    function getAllVaultsAddresses() external view returns (address[] memory vaults_) {
        uint256 n = getTotalVaults();
        vaults_ = new address[](n);
        for (uint256 i = 0; i < n; i++) vaults_[i] = getVaultAddress(i + 1);
    }

    function vaultByNftId(uint256 nftId_) public view returns (address vault_) {
        return FACTORY.getVaultAddress(FACTORY.vaultIdOfNft(nftId_));
    }

    function totalPositions() external view returns (uint256) {
        return FACTORY.totalSupply();
    }

    function _tickHelper(uint256 tickRaw) internal pure returns (int256 tick) {
        require(tickRaw < (1 << 20), "invalid tick raw");
        tick = int256(tickRaw >> 1);
        if (tickRaw & 1 == 0) tick = -tick;
    }

    function getVaultState(address vault_) public view returns (VaultState memory vaultState_) {
        uint256 v = getVaultVariablesRaw(vault_);
        vaultState_.topTick = _tickHelper((v >> 2) & X20);
        vaultState_.currentBranch = (v >> 22) & X30;
        vaultState_.totalBranch = (v >> 52) & X30;
        vaultState_.totalSupply = FluidBigMathDouble.fromBigNumber((v >> 82) & X64, 8, X8);
        vaultState_.totalBorrow = FluidBigMathDouble.fromBigNumber((v >> 146) & X64, 8, X8);
        vaultState_.totalPositions = (v >> 210) & X32;
        uint256 b = getBranchDataRaw(vault_, vaultState_.currentBranch);
        vaultState_.currentBranchState.status = b & 3;
        vaultState_.currentBranchState.minimaTick = _tickHelper((b >> 2) & X20);
        vaultState_.currentBranchState.debtFactor = (b >> 116) & X50;
        vaultState_.currentBranchState.partials = (b >> 22) & X30;
        vaultState_.currentBranchState.debtLiquidity = FluidBigMathDouble.fromBigNumber((b >> 52) & X64, 8, X8);
        vaultState_.currentBranchState.baseBranchId = (b >> 166) & X30;
        vaultState_.currentBranchState.baseBranchMinima = _tickHelper((b >> 196) & X20);
    }
}

contract FluidVaultT1Double {
    struct ConstantViews {
        address liquidity;
        address factory;
        address adminImplementation;
        address secondaryImplementation;
        address supplyToken;
        address borrowToken;
        uint8 supplyDecimals;
        uint8 borrowDecimals;
        uint256 vaultId;
        bytes32 liquiditySupplyExchangePriceSlot;
        bytes32 liquidityBorrowExchangePriceSlot;
        bytes32 liquidityUserSupplySlot;
        bytes32 liquidityUserBorrowSlot;
    }

    // double-only: the exact integer result of the last liquidate()/absorb() (raw amounts), for tests
    struct LiquidationRecord {
        uint256 debtLiquidatedRaw;
        uint256 colLiquidatedRaw;
        uint256 debtAbsorbedRaw;
        uint256 colAbsorbedRaw;
        uint256 debtLeftRaw;
        uint256 colLeftRaw;
        int256 finalTick;
        int256 liquidationTick;
        int256 maxTick;
        uint256 colPerDebt;
        uint256 ticksLiquidated;
    }

    // ---- storage: the order of vaultT1/common/variables.sol (@f8a9385), so the slots are mainnet's ----
    uint256 internal vaultVariables; // 0
    uint256 internal vaultVariables2; // 1
    uint256 internal absorbedLiquidity; // 2: raw debt (low 128) | raw col (high 128)
    mapping(uint256 => uint256) internal positionData; // 3
    mapping(int256 => uint256) internal tickHasDebt; // 4 (not maintained by the double)
    mapping(int256 => uint256) internal tickData; // 5
    mapping(int256 => mapping(uint256 => uint256)) internal tickId; // 6 (not used by the double)
    mapping(uint256 => uint256) internal branchData; // 7
    uint256 internal rates; // 8
    address internal rebalancer; // 9
    uint256 internal absorbedDustDebt; // 10
    // ---- double-only state (after mainnet's slots) ----
    int256[] internal _ticks; // every tick that ever had debt (the double's stand-in for tickHasDebt)
    mapping(int256 => bool) internal _listed;
    LiquidationRecord public lastLiquidation;

    uint256 internal constant X8 = 0xff;
    uint256 internal constant X19 = 0x7ffff;
    uint256 internal constant X24 = 0xffffff;
    uint256 internal constant X64 = 0xffffffffffffffff;
    uint256 internal constant Q96 = 1 << 96;

    address public immutable VAULT_FACTORY;
    uint256 public immutable VAULT_ID;
    address public immutable LIQUIDITY; // no Liquidity layer in the double: address(0)
    address internal immutable SUPPLY_TOKEN;
    address internal immutable BORROW_TOKEN;
    uint8 internal immutable SUPPLY_DECIMALS;
    uint8 internal immutable BORROW_DECIMALS;

    event LogLiquidate(address indexed liquidator, uint256 colAmt, uint256 debtAmt, address to);
    event LogAbsorb(uint256 colAbsorbedRaw, uint256 debtAbsorbedRaw);

    // thresholds in 1e3 as stored (800 = 80%), penalty in 1e4 (100 = 1%), as vaultVariables2 packs them.
    constructor(
        FluidVaultFactoryDouble factory_,
        address supplyToken_,
        address borrowToken_,
        uint8 supplyDecimals_,
        uint8 borrowDecimals_,
        address oracle_,
        uint256 collateralFactor1e3_,
        uint256 liquidationThreshold1e3_,
        uint256 liquidationMaxLimit1e3_,
        uint256 liquidationPenalty1e4_
    ) {
        require(collateralFactor1e3_ < liquidationThreshold1e3_ && liquidationThreshold1e3_ < liquidationMaxLimit1e3_,
                "cf < lt < max limit");
        require(liquidationMaxLimit1e3_ < 1000 && liquidationPenalty1e4_ < 1024, "config out of range");
        VAULT_FACTORY = address(factory_);
        VAULT_ID = factory_.registerVault(address(this));
        LIQUIDITY = address(0);
        SUPPLY_TOKEN = supplyToken_;
        BORROW_TOKEN = borrowToken_;
        SUPPLY_DECIMALS = supplyDecimals_;
        BORROW_DECIMALS = borrowDecimals_;
        vaultVariables2 = 10000 | (uint256(10000) << 16) | (collateralFactor1e3_ << 32) | (liquidationThreshold1e3_ << 42)
            | (liquidationMaxLimit1e3_ << 52) | (uint256(50) << 62) | (liquidationPenalty1e4_ << 72)
            | (uint256(uint160(oracle_)) << 96);
        uint256 e = 1e12;
        rates = e | (e << 64) | (e << 128) | (e << 192);
        vaultVariables = (uint256(1) << 22) | (uint256(1) << 52); // branch 1 current and total, top tick 0 (-0)
    }

    function readFromStorage(bytes32 slot_) external view returns (uint256 result_) {
        assembly {
            result_ := sload(slot_)
        }
    }

    function constantsView() external view returns (ConstantViews memory c) {
        c.liquidity = LIQUIDITY;
        c.factory = VAULT_FACTORY;
        c.supplyToken = SUPPLY_TOKEN;
        c.borrowToken = BORROW_TOKEN;
        c.supplyDecimals = SUPPLY_DECIMALS;
        c.borrowDecimals = BORROW_DECIMALS;
        c.vaultId = VAULT_ID;
    }

    // Exchange prices as stored (the double never accrues interest).
    function updateExchangePrices(uint256)
        public view returns (uint256 liqSupplyExPrice_, uint256 liqBorrowExPrice_, uint256 vaultSupplyExPrice_,
                             uint256 vaultBorrowExPrice_)
    {
        uint256 r = rates;
        return (r & X64, (r >> 64) & X64, (r >> 128) & X64, (r >> 192) & X64);
    }

    // double-only: set the four exchange prices (1e12 = 1.0).
    function setRates(uint64 liqSupply, uint64 liqBorrow, uint64 vaultSupply, uint64 vaultBorrow) external {
        rates = uint256(liqSupply) | (uint256(liqBorrow) << 64) | (uint256(vaultSupply) << 128)
            | (uint256(vaultBorrow) << 192);
    }

    function _big(uint256 normal, bool up) internal pure returns (uint256) {
        return FluidBigMathDouble.toBigNumber(normal, 56, 8, up);
    }

    function _norm(uint256 big) internal pure returns (uint256) {
        return FluidBigMathDouble.fromBigNumber(big, 8, X8);
    }

    function _tickRaw(int256 tick) internal pure returns (uint256) {
        return tick >= 0 ? (uint256(tick) << 1) | 1 : uint256(-tick) << 1;
    }

    function _tickDebtRaw(int256 tick) internal view returns (uint256) {
        uint256 d = tickData[tick];
        if (d & 1 == 1) return 0; // liquidated
        return _norm((d >> 25) & X64);
    }

    function _setTopTick(int256 tick) internal {
        uint256 v = vaultVariables & ~(uint256(0xfffff) << 2);
        vaultVariables = v | (_tickRaw(tick) << 2);
    }

    function _topTick() internal view returns (int256) {
        uint256 raw = (vaultVariables >> 2) & 0xfffff;
        int256 t = int256(raw >> 1);
        return raw & 1 == 1 ? t : -t;
    }

    // double-only stand-in for operate(0, col, debt, to): a new borrow position of ``owner`` with raw
    // collateral and raw net debt. As vaultT1 (coreModule/helpers.sol _addDebtToTickWrite): the
    // collateral is stored as a big number rounded down; the position's tick is tickAtRatio(netDebt *
    // 2^96 / col) + 1, its raw debt that tick's ratio (perfect ratio * 1.0015) times col; the
    // difference is its dust debt; the tick's raw debt grows by the position's raw debt (rounded up).
    function openPosition(address owner, uint256 colRaw, uint256 netDebtRaw) external returns (uint256 nftId) {
        require(netDebtRaw >= 10000, "Vault__UserDebtTooLow");
        require((vaultVariables >> 1) & 1 == 0, "FluidVaultDouble: branches not modelled");
        uint256 colBig = _big(colRaw, false);
        uint256 col = _norm(colBig);
        (int256 tick, uint256 ratio) = FluidTickMathDouble.getTickAtRatio((netDebtRaw * Q96) / col);
        tick += 1;
        ratio = (ratio * 10015) / 10000;
        uint256 userRawDebt = (ratio * col) >> 96;
        uint256 dust = userRawDebt - netDebtRaw;
        nftId = FluidVaultFactoryDouble(VAULT_FACTORY).mint(owner);
        // a position's tick id is the tick's count of liquidations so far (0: never liquidated; the
        // double does not reopen liquidated ticks, see above)
        uint256 ids = (tickData[tick] >> 1) & X24;
        uint256 tickDebt = _tickDebtRaw(tick) + userRawDebt;
        tickData[tick] = (ids << 1) | (_big(tickDebt, true) << 25);
        if (!_listed[tick]) {
            _listed[tick] = true;
            _ticks.push(tick);
        }
        positionData[nftId] = (tick >= 0 ? 2 : 0) | ((tick >= 0 ? uint256(tick) : uint256(-tick)) << 2) | (ids << 21)
            | (colBig << 45) | (_big(dust, false) << 109);
        uint256 v = vaultVariables;
        uint256 totalSupply = _norm((v >> 82) & X64) + col;
        uint256 totalBorrow = _norm((v >> 146) & X64) + netDebtRaw;
        uint256 positions = ((v >> 210) & 0xffffffff) + 1;
        v &= (uint256(1) << 82) - 1;
        vaultVariables = v | (_big(totalSupply, true) << 82) | (_big(totalBorrow, true) << 146) | (positions << 210);
        if (positions == 1 || tick > _topTick()) _setTopTick(tick);
    }

    struct Setup {
        uint256 colPerDebt;
        int256 liquidationTick;
        int256 maxTick;
    }

    // main.sol liquidate's oracle step (risk/fluid_vaults.py liquidation_setup).
    function _setup() internal view returns (Setup memory s) {
        uint256 v2 = vaultVariables2;
        uint256 price = FluidOracleDouble(address(uint160(v2 >> 96))).getExchangeRateLiquidate();
        require(price > 0 && price <= 1e54, "Vault__InvalidOraclePrice");
        (, , uint256 supplyEx, uint256 borrowEx) = updateExchangePrices(v2);
        uint256 debtPerCol = (price * supplyEx) / borrowEx;
        if (debtPerCol > 1e45) debtPerCol = 1e45;
        uint256 penalty = (v2 >> 72) & 0x3ff;
        s.colPerDebt = ((1e54 / debtPerCol) * (10000 + penalty)) / 10000;
        uint256 scaled = (debtPerCol * Q96) / 1e27;
        (s.liquidationTick,) = FluidTickMathDouble.getTickAtRatio((scaled * ((v2 >> 42) & 0x3ff)) / 1000);
        (s.maxTick,) = FluidTickMathDouble.getTickAtRatio((scaled * ((v2 >> 52) & 0x3ff)) / 1000);
    }

    function _markLiquidated(int256 tick, bool fully) internal {
        uint256 ids = (tickData[tick] >> 1) & X24;
        tickData[tick] = 1 | (ids << 1) | ((fully ? uint256(1) : 0) << 25) | (uint256(1) << 26);
    }

    // main2.sol absorb: ticks above the max tick are taken whole (raw col = debt * 2^96 / ratio).
    function _absorb(Setup memory s) internal returns (uint256 debt, uint256 col) {
        for (uint256 i = 0; i < _ticks.length; i++) {
            int256 t = _ticks[i];
            uint256 d = _tickDebtRaw(t);
            if (t > s.maxTick && d > 0) {
                debt += d;
                col += (d * Q96) / FluidTickMathDouble.getRatioAtTick(t);
                _markLiquidated(t, true);
            }
        }
        if (debt > 0) {
            uint256 a = absorbedLiquidity;
            absorbedLiquidity = ((a & ((uint256(1) << 128) - 1)) + debt) | (((a >> 128) + col) << 128);
            emit LogAbsorb(col, debt);
        }
    }

    function absorb() external payable {
        require((vaultVariables >> 1) & 1 == 0, "FluidVaultDouble: branches not modelled");
        Setup memory s = _setup();
        (uint256 d, uint256 c) = _absorb(s);
        delete lastLiquidation;
        lastLiquidation.debtAbsorbedRaw = d;
        lastLiquidation.colAbsorbedRaw = c;
        lastLiquidation.liquidationTick = s.liquidationTick;
        lastLiquidation.maxTick = s.maxTick;
        lastLiquidation.colPerDebt = s.colPerDebt;
        _refreshTopTick();
    }

    function _refreshTopTick() internal {
        int256 top = type(int256).min;
        for (uint256 i = 0; i < _ticks.length; i++) {
            if (_tickDebtRaw(_ticks[i]) > 0 && _ticks[i] > top) top = _ticks[i];
        }
        int256 minima = (vaultVariables >> 1) & 1 == 1 ? lastLiquidation.finalTick : type(int256).min;
        if (minima > top) top = minima;
        if (top != type(int256).min) _setTopTick(top);
    }

    // The ticks with debt above the liquidation tick, highest first (insertion sort; the double's lists are small).
    function _ticksAbove(int256 liqTick) internal view returns (int256[] memory out) {
        uint256 n = 0;
        int256[] memory tmp = new int256[](_ticks.length);
        for (uint256 i = 0; i < _ticks.length; i++) {
            int256 t = _ticks[i];
            if (t > liqTick && _tickDebtRaw(t) > 0) {
                uint256 j = n++;
                while (j > 0 && tmp[j - 1] < t) {
                    tmp[j] = tmp[j - 1];
                    j--;
                }
                tmp[j] = t;
            }
        }
        out = new int256[](n);
        for (uint256 i = 0; i < n; i++) out[i] = tmp[i];
    }

    function _debtToLiquidate(uint256 debt, uint256 ratio, uint256 refRatio, uint256 colPerDebt)
        internal pure returns (uint256)
    {
        return ((debt - (refRatio * debt) / ratio) * 1e27) / (1e27 - (colPerDebt * refRatio) / Q96);
    }

    struct Walk {
        uint256 remaining;
        uint256 debt;
        uint256 col;
        uint256 totalDebt;
        uint256 totalCol;
        uint256 ratio;
        int256 finalTick;
        uint256 n;
    }

    // The walk of risk/fluid_vaults.py liquidate_ticks over perfect ticks (no earlier branch).
    function _walk(Setup memory s, uint256 debtAmtRaw) internal returns (Walk memory w) {
        int256[] memory ticks = _ticksAbove(s.liquidationTick);
        w.finalTick = s.liquidationTick;
        if (ticks.length == 0) return w;
        w.remaining = debtAmtRaw;
        w.ratio = FluidTickMathDouble.getRatioAtTick(ticks[0]);
        uint256 i = 0;
        while (true) {
            int256 t = ticks[i];
            uint256 td = _tickDebtRaw(t);
            w.debt += td;
            w.col += (td * Q96) / w.ratio;
            _markLiquidated(t, false);
            i++;
            w.n = i;
            bool last = i >= ticks.length;
            int256 refTick = last ? s.liquidationTick : ticks[i];
            uint256 refRatio = FluidTickMathDouble.getRatioAtTick(refTick);
            uint256 x = _debtToLiquidate(w.debt, w.ratio, refRatio, s.colPerDebt);
            uint256 c = (x * s.colPerDebt) / 1e27;
            if (x == w.debt) x -= 1;
            if (x >= w.remaining || last) {
                if (x >= w.remaining) {
                    x = w.remaining;
                    c = (x * s.colPerDebt) / 1e27;
                    (int256 ft,) = FluidTickMathDouble.getTickAtRatio(((w.debt - x) * Q96) / (w.col - c));
                    w.finalTick = ft + 1;
                } else {
                    w.finalTick = refTick + 1;
                }
                w.totalDebt += x;
                w.totalCol += c;
                w.debt -= x;
                w.col -= c;
                break;
            }
            w.remaining -= x;
            w.totalDebt += x;
            w.totalCol += c;
            w.debt -= x;
            w.col -= c;
            w.ratio = refRatio;
        }
    }

    // IFluidVaultT1.liquidate: debtAmt_ / the result in normal amounts (raw * vault exchange price / 1e12);
    // colPerUnitDebt_ is the liquidator's minimum collateral per unit of debt (1e18).
    function liquidate(uint256 debtAmt_, uint256 colPerUnitDebt_, address to_, bool absorb_)
        external payable returns (uint256 actualDebtAmt_, uint256 actualColAmt_)
    {
        require((vaultVariables >> 1) & 1 == 0, "FluidVaultDouble: branches not modelled");
        Setup memory s = _setup();
        (, , uint256 supplyEx, uint256 borrowEx) = updateExchangePrices(vaultVariables2);
        uint256 absorbedDebt;
        uint256 absorbedCol;
        if (absorb_) (absorbedDebt, absorbedCol) = _absorb(s);
        Walk memory w = _walk(s, (debtAmt_ * 1e12) / borrowEx);
        require(w.totalDebt > 0 || absorbedDebt > 0, "Vault__InvalidLiquidation");
        lastLiquidation = LiquidationRecord(w.totalDebt, w.totalCol, absorbedDebt, absorbedCol, w.debt, w.col,
                                            w.finalTick, s.liquidationTick, s.maxTick, s.colPerDebt, w.n);
        if (w.totalDebt > 0) {
            // branch 1 is now liquidated: minima tick = the final tick, its debt liquidity = what is left
            vaultVariables |= 2;
            branchData[1] = 1 | (_tickRaw(w.finalTick) << 2) | (_big(w.debt, true) << 52);
        }
        _refreshTopTick();
        actualDebtAmt_ = (w.totalDebt * borrowEx) / 1e12;
        actualColAmt_ = (w.totalCol * supplyEx) / 1e12;
        if (actualDebtAmt_ > 0) {
            require((actualColAmt_ * 1e18) / actualDebtAmt_ >= colPerUnitDebt_, "Vault__ExcessSlippageLiquidation");
        }
        emit LogLiquidate(msg.sender, actualColAmt_, actualDebtAmt_, to_);
    }

    // double-only: the double's tick list (mainnet keeps the tickHasDebt bitmap instead).
    function ticksWithDebt() external view returns (int256[] memory) {
        return _ticks;
    }
}
