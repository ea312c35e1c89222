// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

// @title AaveV4Double — a TEST DOUBLE of an Aave V4 hub and spoke, NOT Aave's code.
// @notice No genuine Aave V4 is installable from a package registry (aave/aave-v4 is not published
//         on npm), so the liqrisk devnet uses this double. It implements the READ interface liqrisk
//         uses, with the mainnet names and units (Spoke: getReserveCount / getReserve /
//         getDynamicReserveConfig / getLiquidationConfig / getUserPosition / getUserReserveStatus /
//         getUserSuppliedAssets / getUserDebt / getUserTotalDebt / getUserAccountData /
//         getLiquidationBonus / ORACLE; oracle: DECIMALS / getReservePrice; Hub:
//         getAssetUnderlyingAndDecimals / getAssetDrawnIndex / previewRemoveByShares /
//         previewRemoveByAssets) and the MATH of liquidationCall, written from the aave/aave-v4 sources
//         read with the project's search tools:
//           - src/spoke/libraries/LiquidationLogic.sol (commit 8e6ea169d76ff0e51ccae3c8a48bf8fe060ba417):
//             liquidateUser, calculateLiquidationBonus, _liquidateCollateral, _liquidateDebt,
//             _validateLiquidationCall, _calculateLiquidationAmounts, _calculateDebtToLiquidate,
//             _calculateDebtToTargetHealthFactor, _evaluateDeficit, DUST_LIQUIDATION_THRESHOLD;
//           - src/spoke/Spoke.sol (commit 8e6ea169): liquidationCall, _processUserAccountData (values, HF,
//             avgCollateralFactor, activeCollateralCount, borrowedCount), _reportDeficit,
//             updateLiquidationConfig and _validateDynamicReserveConfig (the same requires),
//             getLiquidationBonus, getUserSuppliedAssets, getUserDebt;
//           - src/spoke/libraries/UserPositionDebt.sol (commit 8e6ea169): getDebt (drawnShares.rayMulUp(drawnIndex));
//           - src/hub/libraries/SharesMath.sol (commit 41f8018da3b69ae994b29f86c9bce9d3c44ce2c9) (virtual 1e6
//             assets/shares; toAssetsDown / toSharesUp) and src/hub/libraries/AssetLogic.sol
//             (commit 014176cf308c534fab75ece8f136573c57c346ee) (toDrawnSharesDown = rayDivDown).
//         Simplifications (by design, labelled): no tokens move (the liquidator repays and receives
//         bookkeeping amounts; receiveShares must be false); no interest accrual (the drawn index and
//         the hub's added assets/shares are set by the deployer); no risk premium (premium debt is 0);
//         one dynamic config key per reserve unless the deployer adds one; positions are written by the
//         deployer (setUserPosition), which emits Supply / Borrow for discovery; no access manager,
//         position managers or signatures. Struct layouts follow Spoke.sol (commit 8e6ea169); the state marked
//         "double-only" does not exist on mainnet.

contract AaveV4OracleDouble {
    address public immutable owner;
    mapping(uint256 => uint256) internal _price;

    constructor() { owner = msg.sender; }

    function DECIMALS() external pure returns (uint8) { return 8; }

    function setReservePrice(uint256 reserveId, uint256 price) external {
        require(msg.sender == owner, "oracle: owner");
        _price[reserveId] = price;
    }

    function getReservePrice(uint256 reserveId) external view returns (uint256) {
        uint256 price = _price[reserveId];
        require(price > 0, "oracle: no price");
        return price;
    }
}

contract AaveV4HubDouble {
    uint256 internal constant RAY = 1e27;
    uint256 internal constant VIRTUAL_ASSETS = 1e6; // SharesMath.VIRTUAL_ASSETS
    uint256 internal constant VIRTUAL_SHARES = 1e6; // SharesMath.VIRTUAL_SHARES

    struct Asset {
        address underlying;
        uint8 decimals;
        uint256 addedAssets; // double-only: totalAddedAssets, set by the deployer
        uint256 addedShares; // double-only: totalAddedShares
        uint256 drawnIndex;  // RAY
        uint256 deficit;     // double-only: drawn debt reported as deficit
    }

    address public immutable owner;
    uint256 public getAssetCount;
    mapping(uint256 => Asset) internal _assets;
    mapping(address => bool) public isSpoke; // double-only

    constructor() { owner = msg.sender; }

    function addAsset(address underlying, uint8 decimals) external returns (uint256 assetId) {
        require(msg.sender == owner, "hub: owner");
        assetId = getAssetCount++;
        _assets[assetId] = Asset(underlying, decimals, 0, 0, RAY, 0);
    }

    function addSpoke(address spoke) external { require(msg.sender == owner, "hub: owner"); isSpoke[spoke] = true; }

    /// double-only: the state interest accrual would produce.
    function setAssetState(uint256 assetId, uint256 addedAssets, uint256 addedShares, uint256 drawnIndex) external {
        require(msg.sender == owner, "hub: owner");
        require(drawnIndex >= RAY, "hub: index");
        Asset storage a = _assets[assetId];
        a.addedAssets = addedAssets;
        a.addedShares = addedShares;
        a.drawnIndex = drawnIndex;
    }

    function getAssetUnderlyingAndDecimals(uint256 assetId) external view returns (address, uint8) {
        return (_assets[assetId].underlying, _assets[assetId].decimals);
    }

    function getAssetDrawnIndex(uint256 assetId) external view returns (uint256) { return _assets[assetId].drawnIndex; }

    function getAddedAssetsAndShares(uint256 assetId) external view returns (uint256, uint256) { // double-only
        return (_assets[assetId].addedAssets, _assets[assetId].addedShares);
    }

    function getAssetDeficit(uint256 assetId) external view returns (uint256) { return _assets[assetId].deficit; }

    /// SharesMath.toAssetsDown (AssetLogic.toAddedAssetsDown).
    function previewRemoveByShares(uint256 assetId, uint256 shares) public view returns (uint256) {
        Asset storage a = _assets[assetId];
        return shares * (a.addedAssets + VIRTUAL_ASSETS) / (a.addedShares + VIRTUAL_SHARES);
    }

    /// SharesMath.toSharesUp (AssetLogic.toAddedSharesUp).
    function previewRemoveByAssets(uint256 assetId, uint256 assets) public view returns (uint256) {
        Asset storage a = _assets[assetId];
        return _mulDivUp(assets, a.addedShares + VIRTUAL_SHARES, a.addedAssets + VIRTUAL_ASSETS);
    }

    /// Hub.remove: the assets leave, previewRemoveByAssets shares are burned (no token moves here).
    function remove(uint256 assetId, uint256 assets) external returns (uint256 shares) {
        require(isSpoke[msg.sender], "hub: spoke");
        shares = previewRemoveByAssets(assetId, assets);
        Asset storage a = _assets[assetId];
        a.addedAssets -= assets;
        a.addedShares -= shares;
    }

    /// Hub.restore of drawn debt: the shares restored are AssetLogic.toDrawnSharesDown (rayDivDown).
    function restore(uint256 assetId, uint256 drawnAmount) external view returns (uint256) {
        require(isSpoke[msg.sender], "hub: spoke");
        return drawnAmount * RAY / _assets[assetId].drawnIndex;
    }

    /// Hub.reportDeficit of drawn debt: the same share conversion, the amount recorded.
    function reportDeficit(uint256 assetId, uint256 drawnAmount) external returns (uint256) {
        require(isSpoke[msg.sender], "hub: spoke");
        _assets[assetId].deficit += drawnAmount;
        return drawnAmount * RAY / _assets[assetId].drawnIndex;
    }

    function _mulDivUp(uint256 x, uint256 y, uint256 d) internal pure returns (uint256) {
        uint256 p = x * y;
        return p == 0 ? 0 : (p - 1) / d + 1;
    }
}

contract AaveV4SpokeDouble {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant RAY = 1e27;
    uint256 internal constant PERCENTAGE_FACTOR = 1e4;
    uint64 public constant HEALTH_FACTOR_LIQUIDATION_THRESHOLD = 1e18;
    uint256 public constant DUST_LIQUIDATION_THRESHOLD = 1000e26;

    struct Reserve {
        address underlying;
        address hub;
        uint16 assetId;
        uint8 decimals;
        uint24 dynamicConfigKey;
        bool paused;
        bool frozen;
        bool borrowable;
        uint24 collateralRisk;
    }

    struct DynamicReserveConfig {
        uint16 collateralFactor;
        uint32 maxLiquidationBonus;
        uint16 liquidationFee;
    }

    struct LiquidationConfig {
        uint128 targetHealthFactor;
        uint64 healthFactorForMaxBonus;
        uint16 liquidationBonusFactor;
    }

    struct UserPosition {
        uint120 drawnShares;
        uint120 premiumShares;
        int200 premiumOffsetRay;
        uint120 suppliedShares;
        uint24 dynamicConfigKey;
    }

    struct UserAccountData {
        uint256 riskPremium;
        uint256 avgCollateralFactor;
        uint256 healthFactor;
        uint256 totalCollateralValue;
        uint256 totalDebtValue;
        uint256 activeCollateralCount;
        uint256 borrowedCount;
    }

    struct LiquidationAmounts {
        uint256 collateralToLiquidate;
        uint256 collateralToLiquidator;
        uint256 debtToLiquidate;
    }

    struct LastLiquidation { // double-only: what the last liquidationCall did
        uint256 debtToLiquidate;
        uint256 collateralToLiquidate;
        uint256 collateralToLiquidator;
        uint256 collateralSharesToLiquidate;
        uint256 drawnSharesLiquidated;
        bool deficit;
    }

    event Supply(uint256 indexed reserveId, address indexed caller, address indexed user, uint256 suppliedShares, uint256 amount);
    event Borrow(uint256 indexed reserveId, address indexed caller, address indexed user, uint256 drawnShares, uint256 amount);
    event LiquidationCall(uint256 indexed collateralReserveId, uint256 indexed debtReserveId, address indexed user,
                          uint256 debtToLiquidate, uint256 collateralToLiquidate, address liquidator, bool receiveShares);
    event ReportDeficit(uint256 indexed reserveId, address indexed user, uint256 drawnShares);

    address public immutable ORACLE;
    address public immutable owner;
    uint256 internal _reserveCount;
    mapping(uint256 => Reserve) internal _reserves;
    mapping(uint256 => mapping(uint24 => DynamicReserveConfig)) internal _dynamicConfig;
    mapping(address => mapping(uint256 => UserPosition)) internal _userPositions;
    mapping(address => mapping(uint256 => bool)) internal _usingAsCollateral;
    mapping(address => mapping(uint256 => bool)) internal _borrowing;
    LiquidationConfig internal _liquidationConfig;
    LastLiquidation public lastLiquidation;

    constructor(address oracle_) {
        require(AaveV4OracleDouble(oracle_).DECIMALS() == 8, "InvalidOracleDecimals");
        ORACLE = oracle_;
        owner = msg.sender;
    }

    modifier onlyOwner() { require(msg.sender == owner, "spoke: owner"); _; }

    // ------------------------------------------------------------------ configuration (deployer)

    /// Spoke.updateLiquidationConfig, with its checks.
    function updateLiquidationConfig(uint128 targetHealthFactor, uint64 healthFactorForMaxBonus,
                                     uint16 liquidationBonusFactor) external onlyOwner {
        require(targetHealthFactor >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD
                && liquidationBonusFactor <= PERCENTAGE_FACTOR
                && healthFactorForMaxBonus < HEALTH_FACTOR_LIQUIDATION_THRESHOLD, "InvalidLiquidationConfig");
        _liquidationConfig = LiquidationConfig(targetHealthFactor, healthFactorForMaxBonus, liquidationBonusFactor);
    }

    /// Spoke.addReserve (no price source: the oracle double is set directly).
    function addReserve(address hub, uint256 assetId, bool borrowable, uint16 collateralFactor,
                        uint32 maxLiquidationBonus, uint16 liquidationFee) external onlyOwner returns (uint256 reserveId) {
        DynamicReserveConfig memory config = DynamicReserveConfig(collateralFactor, maxLiquidationBonus, liquidationFee);
        _validateDynamicReserveConfig(config);
        (address underlying, uint8 decimals) = AaveV4HubDouble(hub).getAssetUnderlyingAndDecimals(assetId);
        require(underlying != address(0), "AssetNotListed");
        reserveId = _reserveCount++;
        _reserves[reserveId] = Reserve(underlying, hub, uint16(assetId), decimals, 0, false, false, borrowable, 0);
        _dynamicConfig[reserveId][0] = config;
    }

    /// Spoke.addDynamicReserveConfig: a new latest key (positions keep theirs until refreshed).
    function addDynamicReserveConfig(uint256 reserveId, uint16 collateralFactor, uint32 maxLiquidationBonus,
                                     uint16 liquidationFee) external onlyOwner returns (uint24 key) {
        DynamicReserveConfig memory config = DynamicReserveConfig(collateralFactor, maxLiquidationBonus, liquidationFee);
        _validateDynamicReserveConfig(config);
        key = _reserves[reserveId].dynamicConfigKey + 1;
        _reserves[reserveId].dynamicConfigKey = key;
        _dynamicConfig[reserveId][key] = config;
    }

    function setReservePaused(uint256 reserveId, bool paused) external onlyOwner { _reserves[reserveId].paused = paused; }

    /// double-only: write a position (supplied and drawn shares, collateral flag) at the reserve's
    /// latest dynamic config key; emits Supply / Borrow so the reader discovers the user.
    function setUserPosition(address user, uint256 reserveId, uint120 suppliedShares, uint120 drawnShares,
                             bool usingAsCollateral) external onlyOwner {
        Reserve storage reserve = _getReserve(reserveId);
        UserPosition storage p = _userPositions[user][reserveId];
        p.suppliedShares = suppliedShares;
        p.drawnShares = drawnShares;
        p.dynamicConfigKey = reserve.dynamicConfigKey;
        _usingAsCollateral[user][reserveId] = usingAsCollateral;
        _borrowing[user][reserveId] = drawnShares > 0;
        if (suppliedShares > 0) {
            emit Supply(reserveId, msg.sender, user, suppliedShares,
                        AaveV4HubDouble(reserve.hub).previewRemoveByShares(reserve.assetId, suppliedShares));
        }
        if (drawnShares > 0) {
            emit Borrow(reserveId, msg.sender, user, drawnShares, _rayMulUp(drawnShares, _drawnIndex(reserve)));
        }
    }

    // ------------------------------------------------------------------------------------ reads

    function getLiquidationConfig() external view returns (LiquidationConfig memory) { return _liquidationConfig; }

    function getReserveCount() external view returns (uint256) { return _reserveCount; }

    function getReserve(uint256 reserveId) external view returns (Reserve memory) { return _getReserve(reserveId); }

    function getDynamicReserveConfig(uint256 reserveId, uint24 dynamicConfigKey)
        external view returns (DynamicReserveConfig memory) {
        _getReserve(reserveId);
        return _dynamicConfig[reserveId][dynamicConfigKey];
    }

    function getUserReserveStatus(uint256 reserveId, address user) external view returns (bool, bool) {
        _getReserve(reserveId);
        return (_usingAsCollateral[user][reserveId], _borrowing[user][reserveId]);
    }

    function getUserSuppliedAssets(uint256 reserveId, address user) public view returns (uint256) {
        Reserve storage reserve = _getReserve(reserveId);
        return AaveV4HubDouble(reserve.hub).previewRemoveByShares(reserve.assetId, _userPositions[user][reserveId].suppliedShares);
    }

    function getUserSuppliedShares(uint256 reserveId, address user) external view returns (uint256) {
        _getReserve(reserveId);
        return _userPositions[user][reserveId].suppliedShares;
    }

    /// Spoke.getUserDebt: (drawn, premium rounded up); premium is 0 in the double.
    function getUserDebt(uint256 reserveId, address user) public view returns (uint256, uint256) {
        Reserve storage reserve = _getReserve(reserveId);
        return (_rayMulUp(_userPositions[user][reserveId].drawnShares, _drawnIndex(reserve)), 0);
    }

    function getUserTotalDebt(uint256 reserveId, address user) external view returns (uint256) {
        (uint256 drawn, uint256 premium) = getUserDebt(reserveId, user);
        return drawn + premium;
    }

    function getUserPosition(uint256 reserveId, address user) external view returns (UserPosition memory) {
        _getReserve(reserveId);
        return _userPositions[user][reserveId];
    }

    function getLiquidationBonus(uint256 reserveId, address user, uint256 healthFactor) external view returns (uint256) {
        _getReserve(reserveId);
        return _calculateLiquidationBonus(_liquidationConfig.healthFactorForMaxBonus,
            _liquidationConfig.liquidationBonusFactor, healthFactor,
            _dynamicConfig[reserveId][_userPositions[user][reserveId].dynamicConfigKey].maxLiquidationBonus);
    }

    function getUserAccountData(address user) public view returns (UserAccountData memory accountData) {
        for (uint256 reserveId = 0; reserveId < _reserveCount; ++reserveId) {
            UserPosition storage position = _userPositions[user][reserveId];
            Reserve storage reserve = _reserves[reserveId];
            bool collateral = _usingAsCollateral[user][reserveId];
            bool borrowing = _borrowing[user][reserveId];
            if (!collateral && !borrowing) continue;
            uint256 price = AaveV4OracleDouble(ORACLE).getReservePrice(reserveId);
            uint256 unit = 10 ** reserve.decimals;
            if (collateral) {
                uint256 cf = _dynamicConfig[reserveId][position.dynamicConfigKey].collateralFactor;
                if (cf > 0 && position.suppliedShares > 0) {
                    uint256 value = AaveV4HubDouble(reserve.hub).previewRemoveByShares(reserve.assetId, position.suppliedShares)
                        * price * WAD / unit; // wadDivDown
                    accountData.totalCollateralValue += value;
                    accountData.avgCollateralFactor += cf * value;
                    accountData.activeCollateralCount += 1;
                }
            }
            if (borrowing) {
                (uint256 drawn, uint256 premium) = getUserDebt(reserveId, user);
                accountData.totalDebtValue += _mulDivUp((drawn + premium) * price, WAD, unit); // wadDivUp
                accountData.borrowedCount += 1;
            }
        }
        if (accountData.totalDebtValue > 0) {
            accountData.healthFactor = accountData.avgCollateralFactor * WAD / accountData.totalDebtValue / PERCENTAGE_FACTOR;
        } else {
            accountData.healthFactor = type(uint256).max;
        }
        if (accountData.totalCollateralValue > 0) {
            accountData.avgCollateralFactor = accountData.avgCollateralFactor * WAD / accountData.totalCollateralValue
                / PERCENTAGE_FACTOR;
        }
    }

    // ------------------------------------------------------------------------------ liquidation

    /// LiquidationLogic.CalculateLiquidationAmountsParams (units as there; prices 8 decimals).
    struct AmountsParams {
        uint256 debtBalance;
        uint256 collateralBalance;
        uint256 debtToCover;
        uint256 totalDebtValue;
        uint256 healthFactor;
        uint256 maxLiquidationBonus;
        uint256 collateralFactor;
        uint256 liquidationFee;
        uint256 debtPrice;
        uint256 debtUnit;
        uint256 collateralPrice;
        uint256 collateralUnit;
    }

    /// Spoke.liquidationCall + LiquidationLogic.liquidateUser (receiveShares must be false).
    function liquidationCall(uint256 collateralReserveId, uint256 debtReserveId, address user, uint256 debtToCover,
                             bool receiveShares) external {
        require(!receiveShares, "double: receiveShares not modelled");
        UserAccountData memory account = getUserAccountData(user);
        AmountsParams memory params = _validate(collateralReserveId, debtReserveId, user, debtToCover, account);
        LiquidationAmounts memory amounts = _calculateLiquidationAmounts(params);
        (uint256 sharesToLiquidate, bool collateralEmpty) = _liquidateCollateral(collateralReserveId, user, amounts);
        (uint256 drawnShares, bool debtEmpty) = _liquidateDebt(debtReserveId, user, amounts.debtToLiquidate);
        emit LiquidationCall(collateralReserveId, debtReserveId, user, amounts.debtToLiquidate,
                             amounts.collateralToLiquidate, msg.sender, receiveShares);
        bool deficit = _evaluateDeficit(collateralEmpty, debtEmpty, account.activeCollateralCount, account.borrowedCount);
        if (deficit) _reportDeficit(user);
        lastLiquidation = LastLiquidation(amounts.debtToLiquidate, amounts.collateralToLiquidate,
                                          amounts.collateralToLiquidator, sharesToLiquidate, drawnShares, deficit);
    }

    /// LiquidationLogic._validateLiquidationCall, and the amounts' inputs as liquidateUser gathers them.
    function _validate(uint256 collateralReserveId, uint256 debtReserveId, address user, uint256 debtToCover,
                       UserAccountData memory account) internal view returns (AmountsParams memory params) {
        Reserve storage collateralReserve = _getReserve(collateralReserveId);
        Reserve storage debtReserve = _getReserve(debtReserveId);
        DynamicReserveConfig storage dyn = _dynamicConfig[collateralReserveId][
            _userPositions[user][collateralReserveId].dynamicConfigKey];
        (params.debtBalance, ) = getUserDebt(debtReserveId, user);
        params.collateralBalance = getUserSuppliedAssets(collateralReserveId, user);
        require(user != msg.sender, "SelfLiquidation");
        require(debtToCover > 0, "InvalidDebtToCover");
        require(!collateralReserve.paused && !debtReserve.paused, "ReservePaused");
        require(params.collateralBalance > 0, "ReserveNotSupplied");
        require(params.debtBalance > 0, "ReserveNotBorrowed");
        require(account.healthFactor < HEALTH_FACTOR_LIQUIDATION_THRESHOLD, "HealthFactorNotBelowThreshold");
        require(dyn.collateralFactor > 0 && _usingAsCollateral[user][collateralReserveId], "CollateralCannotBeLiquidated");
        params.debtToCover = debtToCover;
        params.totalDebtValue = account.totalDebtValue;
        params.healthFactor = account.healthFactor;
        params.maxLiquidationBonus = dyn.maxLiquidationBonus;
        params.collateralFactor = dyn.collateralFactor;
        params.liquidationFee = dyn.liquidationFee;
        params.debtPrice = AaveV4OracleDouble(ORACLE).getReservePrice(debtReserveId);
        params.debtUnit = 10 ** debtReserve.decimals;
        params.collateralPrice = AaveV4OracleDouble(ORACLE).getReservePrice(collateralReserveId);
        params.collateralUnit = 10 ** collateralReserve.decimals;
    }

    /// LiquidationLogic._liquidateCollateral (receiveShares false: the liquidator's part leaves the hub,
    /// the fee shares go to the fee receiver, so the user loses previewRemoveByAssets(collateralToLiquidate)).
    function _liquidateCollateral(uint256 reserveId, address user, LiquidationAmounts memory amounts)
        internal returns (uint256 sharesToLiquidate, bool empty) {
        Reserve storage reserve = _reserves[reserveId];
        UserPosition storage position = _userPositions[user][reserveId];
        sharesToLiquidate = AaveV4HubDouble(reserve.hub).previewRemoveByAssets(reserve.assetId, amounts.collateralToLiquidate);
        if (amounts.collateralToLiquidator > 0) {
            AaveV4HubDouble(reserve.hub).remove(reserve.assetId, amounts.collateralToLiquidator);
        }
        position.suppliedShares -= uint120(sharesToLiquidate);
        empty = position.suppliedShares == 0;
    }

    /// LiquidationLogic._liquidateDebt (premium 0: all of it is drawn debt).
    function _liquidateDebt(uint256 reserveId, address user, uint256 debtToLiquidate)
        internal returns (uint256 drawnShares, bool empty) {
        Reserve storage reserve = _reserves[reserveId];
        UserPosition storage position = _userPositions[user][reserveId];
        drawnShares = AaveV4HubDouble(reserve.hub).restore(reserve.assetId, debtToLiquidate);
        position.drawnShares -= uint120(drawnShares);
        empty = position.drawnShares == 0;
        if (empty) _borrowing[user][reserveId] = false;
    }

    /// Spoke._reportDeficit: every borrowed reserve's remaining debt goes to its hub as deficit.
    function _reportDeficit(address user) internal {
        for (uint256 reserveId = 0; reserveId < _reserveCount; ++reserveId) {
            if (!_borrowing[user][reserveId]) continue;
            Reserve storage reserve = _reserves[reserveId];
            UserPosition storage position = _userPositions[user][reserveId];
            (uint256 drawn, ) = getUserDebt(reserveId, user);
            uint256 shares = AaveV4HubDouble(reserve.hub).reportDeficit(reserve.assetId, drawn);
            position.drawnShares -= uint120(shares);
            _borrowing[user][reserveId] = false;
            emit ReportDeficit(reserveId, user, shares);
        }
    }

    /// LiquidationLogic.calculateLiquidationBonus.
    function _calculateLiquidationBonus(uint256 healthFactorForMaxBonus, uint256 liquidationBonusFactor,
                                        uint256 healthFactor, uint256 maxLiquidationBonus) internal pure returns (uint256) {
        if (healthFactor <= healthFactorForMaxBonus) return maxLiquidationBonus;
        uint256 minBonus = (maxLiquidationBonus - PERCENTAGE_FACTOR) * liquidationBonusFactor / PERCENTAGE_FACTOR
            + PERCENTAGE_FACTOR; // percentMulDown
        return minBonus + (maxLiquidationBonus - minBonus) * (HEALTH_FACTOR_LIQUIDATION_THRESHOLD - healthFactor)
            / (HEALTH_FACTOR_LIQUIDATION_THRESHOLD - healthFactorForMaxBonus);
    }

    /// LiquidationLogic._calculateLiquidationAmounts (with _calculateDebtToLiquidate and
    /// _calculateDebtToTargetHealthFactor in _debtToLiquidate).
    function _calculateLiquidationAmounts(AmountsParams memory p) internal view returns (LiquidationAmounts memory) {
        uint256 bonus = _calculateLiquidationBonus(_liquidationConfig.healthFactorForMaxBonus,
            _liquidationConfig.liquidationBonusFactor, p.healthFactor, p.maxLiquidationBonus);
        uint256 debtToLiquidate = _debtToLiquidate(p, bonus);
        uint256 collateralToLiquidate = debtToLiquidate * (p.debtPrice * p.collateralUnit * bonus)
            / (p.debtUnit * p.collateralPrice * PERCENTAGE_FACTOR);
        bool leavesCollateralDust = collateralToLiquidate < p.collateralBalance
            && (p.collateralBalance - collateralToLiquidate) * (p.collateralPrice * WAD) / p.collateralUnit
               < DUST_LIQUIDATION_THRESHOLD;
        if (collateralToLiquidate > p.collateralBalance || (leavesCollateralDust && debtToLiquidate < p.debtBalance)) {
            collateralToLiquidate = p.collateralBalance;
            debtToLiquidate = _mulDivUp(collateralToLiquidate, p.collateralPrice * p.debtUnit * PERCENTAGE_FACTOR,
                                        p.debtPrice * p.collateralUnit * bonus);
        }
        require(p.debtToCover >= debtToLiquidate, "MustNotLeaveDust");
        uint256 toLiquidator = collateralToLiquidate
            - collateralToLiquidate * (p.liquidationFee * (bonus - PERCENTAGE_FACTOR)) / (bonus * PERCENTAGE_FACTOR);
        return LiquidationAmounts(collateralToLiquidate, toLiquidator, debtToLiquidate);
    }

    function _debtToLiquidate(AmountsParams memory p, uint256 bonus) internal view returns (uint256) {
        uint256 debtToLiquidate = p.debtBalance;
        if (p.debtToCover < debtToLiquidate) debtToLiquidate = p.debtToCover;
        uint256 target = _liquidationConfig.targetHealthFactor;
        uint256 penalty = _mulDivUp(bonus * 1e14, p.collateralFactor, PERCENTAGE_FACTOR); // bpsToWad().percentMulUp(cf)
        uint256 debtToTarget = _mulDivUp(p.totalDebtValue, p.debtUnit * (target - p.healthFactor),
                                         (target - penalty) * (p.debtPrice * WAD));
        if (debtToTarget < debtToLiquidate) debtToLiquidate = debtToTarget;
        bool leavesDebtDust = debtToLiquidate < p.debtBalance
            && (p.debtBalance - debtToLiquidate) * (p.debtPrice * WAD) / p.debtUnit < DUST_LIQUIDATION_THRESHOLD;
        if (leavesDebtDust) debtToLiquidate = p.debtBalance;
        return debtToLiquidate;
    }

    /// LiquidationLogic._evaluateDeficit.
    function _evaluateDeficit(bool collateralEmpty, bool debtEmpty, uint256 activeCollateralCount, uint256 borrowedCount)
        internal pure returns (bool) {
        if (!collateralEmpty || activeCollateralCount > 1) return false;
        return !debtEmpty || borrowedCount > 1;
    }

    /// Spoke._validateDynamicReserveConfig.
    function _validateDynamicReserveConfig(DynamicReserveConfig memory config) internal pure {
        require(config.collateralFactor < PERCENTAGE_FACTOR && config.maxLiquidationBonus >= PERCENTAGE_FACTOR
                && _mulDivUp(config.maxLiquidationBonus, config.collateralFactor, PERCENTAGE_FACTOR) < PERCENTAGE_FACTOR,
                "InvalidCollateralFactorAndMaxLiquidationBonus");
        require(config.liquidationFee <= PERCENTAGE_FACTOR, "InvalidLiquidationFee");
    }

    function _getReserve(uint256 reserveId) internal view returns (Reserve storage reserve) {
        reserve = _reserves[reserveId];
        require(reserve.hub != address(0), "ReserveNotListed");
    }

    function _drawnIndex(Reserve storage reserve) internal view returns (uint256) {
        return AaveV4HubDouble(reserve.hub).getAssetDrawnIndex(reserve.assetId);
    }

    function _rayMulUp(uint256 a, uint256 b) internal pure returns (uint256) { return _mulDivUp(a, b, RAY); }

    function _mulDivUp(uint256 x, uint256 y, uint256 d) internal pure returns (uint256) {
        uint256 p = x * y;
        return p == 0 ? 0 : (p - 1) / d + 1;
    }
}
