// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

/// @title EulerDouble — a TEST DOUBLE of Euler v2 (EVC + EVK vaults + EulerRouter), NOT Euler's code.
/// @notice No genuine Euler Vault Kit / Ethereum Vault Connector is installable from a package
///         registry, so the liqrisk devnet uses this double. It implements the READ interface liqrisk
///         uses (same signatures and units as mainnet) and the MATH that decides liquidations, written
///         from the Euler sources read with the project's search tools:
///           - euler-xyz/euler-vault-kit src/EVault/modules/Liquidation.sol
///             (commit 1dad88bd75b40cbce1103860f616a27c2aed314c): checkLiquidation / liquidate,
///             calculateLiquidation (self-liquidation, recognised + enabled collateral, controller
///             checks; desired repay scaling), calculateMaxLiquidation (discountFactor = health,
///             floored at 1 - maxLiquidationDiscount; yield = repay / discountFactor, limited to the
///             collateral), executeLiquidation (transferBorrow, enforced collateral transfer, debt
///             socialisation when no collateral is left, MIN_SOCIALIZATION_LIABILITY_VALUE = 1e6);
///           - src/EVault/shared/LiquidityUtils.sol (commit 32898036d943ef1a76a999e7b33085c08400c848):
///             calculateLiquidity, getCollateralValue (value * ltv / CONFIG_SCALE), getLiabilityValue,
///             checkNoCollateral;
///           - src/EVault/shared/types/LTVConfig.sol (commit 432c4b550afa5965bfe6db893d01af03e2a050f0):
///             getLTV with the liquidation-LTV ramp, setLTV;
///           - src/EVault/modules/Governance.sol (commit a617825918e900883f1724e99b11f7fb95f49388):
///             setLTV checks (E_InvalidLTVAsset, E_LTVBorrow, E_LTVLiquidation), LTVFull / LTVBorrow /
///             LTVLiquidation / LTVList, setMaxLiquidationDiscount (1e4 refused), configFlags;
///           - src/EVault/modules/RiskManager.sol (commit aa8db739dbcb7a6a44347c3b905f52fc80a2e792):
///             accountLiquidity(account, liquidation);
///           - src/EVault/shared/BorrowUtils.sol (commit e4075ddf9f69f82002d533a303970a2aa6c6d647) and
///             src/EVault/shared/types/Owed.sol (commit 0f121726cced67833755c7443a089e0bec97c64f):
///             owed in assets << 31, getCurrentOwed = owed * accumulator / userAccumulator,
///             toAssetsUp, transferBorrow dust rule, decreaseBorrow;
///           - euler-xyz/ethereum-vault-connector src/Events.sol (commit
///             1601566c2183ee9e9d0e3197d8f5de2e94371517): CollateralStatus / ControllerStatus events;
///             getCollaterals / getControllers / isCollateralEnabled / isControllerEnabled.
///         Simplifications (by design, labelled): no sub-accounts, operators, batches or deferred
///         checks — the EVC admin (deployer) may enable controllers/collaterals for any account;
///         `borrowFor` (admin) books debt without an account status check; interest accrues only
///         when the governor sets the vault's interest accumulator; collateral vaults are share
///         tokens with a settable exchange rate (convertToAssets with EVK's 1e6 virtual deposit);
///         the oracle is a linear price per asset with bid = ask = mid; the liquidator's own health
///         check and the liquidation cool-off are not modelled (cool-off time 0).

contract EVCDouble {
    address public immutable admin;
    mapping(address => address[]) internal collaterals;
    mapping(address => address[]) internal controllers;

    event CollateralStatus(address indexed account, address indexed collateral, bool enabled);
    event ControllerStatus(address indexed account, address indexed controller, bool enabled);

    constructor() { admin = msg.sender; }

    modifier ownerOrAdmin(address account) {
        require(msg.sender == account || msg.sender == admin, "EVC_NotAuthorized");
        _;
    }

    function getCollaterals(address account) external view returns (address[] memory) { return collaterals[account]; }
    function getControllers(address account) external view returns (address[] memory) { return controllers[account]; }

    function isCollateralEnabled(address account, address vault) public view returns (bool) {
        address[] storage s = collaterals[account];
        for (uint256 i; i < s.length; ++i) if (s[i] == vault) return true;
        return false;
    }

    function isControllerEnabled(address account, address vault) public view returns (bool) {
        address[] storage s = controllers[account];
        for (uint256 i; i < s.length; ++i) if (s[i] == vault) return true;
        return false;
    }

    function enableCollateral(address account, address vault) external ownerOrAdmin(account) {
        if (isCollateralEnabled(account, vault)) return;
        collaterals[account].push(vault);
        emit CollateralStatus(account, vault, true);
    }

    function enableController(address account, address vault) external ownerOrAdmin(account) {
        if (isControllerEnabled(account, vault)) return;
        controllers[account].push(vault);
        emit ControllerStatus(account, vault, true);
    }

    /// The account's sole controller moves collateral shares out (EVC controlCollateral, reduced
    /// to the one operation liquidation needs).
    function controlCollateralTransfer(address collateral, address from, address to, uint256 shares) external {
        address[] storage c = controllers[from];
        require(c.length == 1 && c[0] == msg.sender, "EVC_NotAuthorized");
        require(isCollateralEnabled(from, collateral), "EVC_NotAuthorized");
        EscrowVaultDouble(collateral).evcTransfer(from, to, shares);
    }
}

/// A collateral vault: shares of an asset (EVK ERC4626 conversion with the virtual deposit).
contract EscrowVaultDouble {
    uint256 internal constant VIRTUAL_DEPOSIT_AMOUNT = 1e6;
    address public immutable evc;
    address public immutable asset;
    address public immutable admin;
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public totalSupply;
    uint256 public totalAssets;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(address evc_, address asset_, string memory name_, string memory symbol_, uint8 decimals_) {
        evc = evc_;
        asset = asset_;
        admin = msg.sender;
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
    }

    function convertToAssets(uint256 shares) public view returns (uint256) {
        return shares * (totalAssets + VIRTUAL_DEPOSIT_AMOUNT) / (totalSupply + VIRTUAL_DEPOSIT_AMOUNT);
    }

    /// Admin: mint shares to `to`, backing them with `assets` (sets the exchange rate).
    function mintShares(address to, uint256 shares, uint256 assets) external {
        require(msg.sender == admin, "not admin");
        totalSupply += shares;
        totalAssets += assets;
        balanceOf[to] += shares;
        emit Transfer(address(0), to, shares);
    }

    function evcTransfer(address from, address to, uint256 shares) external {
        require(msg.sender == evc, "not evc");
        balanceOf[from] -= shares;
        balanceOf[to] += shares;
        emit Transfer(from, to, shares);
    }
}

/// EulerRouter-like oracle: resolves a collateral vault to its asset (convertToAssets), then a
/// linear price: out = inAmount * rate[base] / 1e18 (rate = quote units per base raw unit, 1e18).
contract OracleDouble {
    address public immutable admin;
    address public immutable unitOfAccount;
    mapping(address => uint256) public rate;
    mapping(address => address) public resolvedVaults;

    constructor(address unitOfAccount_) { admin = msg.sender; unitOfAccount = unitOfAccount_; }

    function setRate(address base, uint256 rate_) external { require(msg.sender == admin, "not admin"); rate[base] = rate_; }
    function setRates(address[] calldata bases, uint256[] calldata rates) external {
        require(msg.sender == admin, "not admin");
        for (uint256 i; i < bases.length; ++i) rate[bases[i]] = rates[i];
    }
    function govSetResolvedVault(address vault, address asset) external {
        require(msg.sender == admin, "not admin");
        resolvedVaults[vault] = asset;
    }

    function getQuote(uint256 inAmount, address base, address quote) public view returns (uint256) {
        address asset = resolvedVaults[base];
        if (asset != address(0)) {
            inAmount = EscrowVaultDouble(base).convertToAssets(inAmount);
            base = asset;
        }
        if (base == quote) return inAmount;
        require(quote == unitOfAccount, "PriceOracle_NotSupported");
        uint256 r = rate[base];
        require(r != 0, "PriceOracle_NotSupported");
        return inAmount * r / 1e18;
    }

    function getQuotes(uint256 inAmount, address base, address quote) external view returns (uint256, uint256) {
        uint256 q = getQuote(inAmount, base, quote);
        return (q, q);
    }
}

/// A borrowable EVK vault acting as the controller: LTV configs, debt, liquidity, liquidation.
contract EVaultDouble {
    uint256 internal constant CONFIG_SCALE = 1e4;
    uint256 internal constant INTERNAL_DEBT_PRECISION_SHIFT = 31;
    uint256 internal constant MIN_SOCIALIZATION_LIABILITY_VALUE = 1e6;
    uint32 internal constant CFG_DONT_SOCIALIZE_DEBT = 1 << 0;

    struct LTVConfig {
        uint16 borrowLTV;
        uint16 liquidationLTV;
        uint16 initialLiquidationLTV;
        uint48 targetTimestamp;
        uint32 rampDuration;
    }

    struct UserStorage { uint256 owed; uint256 interestAccumulator; }

    address public immutable EVC;
    address public immutable asset;
    address public immutable oracle;
    address public immutable unitOfAccount;
    address public governorAdmin;
    string public name;
    uint16 public maxLiquidationDiscount;
    uint16 public liquidationCoolOffTime;
    uint32 public configFlags;
    uint256 public interestAccumulator = 1e27;
    uint256 public totalBorrowsExact;

    mapping(address => LTVConfig) internal ltvLookup;
    address[] internal ltvList;
    mapping(address => UserStorage) internal users;

    event GovSetLTV(address indexed collateral, uint16 borrowLTV, uint16 liquidationLTV, uint16 initialLiquidationLTV,
                    uint48 targetTimestamp, uint32 rampDuration);
    event GovSetMaxLiquidationDiscount(uint16 newDiscount);
    event GovSetConfigFlags(uint32 newConfigFlags);
    event Borrow(address indexed account, uint256 assets);
    event Repay(address indexed account, uint256 assets);
    event Liquidate(address indexed liquidator, address indexed violator, address collateral, uint256 repayAssets,
                    uint256 yieldBalance);
    event DebtSocialized(address indexed account, uint256 assets);

    error E_Unauthorized();
    error E_InvalidLTVAsset();
    error E_LTVBorrow();
    error E_LTVLiquidation();
    error E_BadMaxLiquidationDiscount();
    error E_SelfLiquidation();
    error E_BadCollateral();
    error E_CollateralDisabled();
    error E_ExcessiveRepayAmount();
    error E_MinYield();
    error E_InsufficientDebt();
    error E_RepayTooMuch();
    error E_NoLiability();
    error E_NotController();
    error E_TransientState();
    error E_NoPriceOracle();

    constructor(address evc_, address asset_, address oracle_, address unitOfAccount_, string memory name_) {
        EVC = evc_;
        asset = asset_;
        oracle = oracle_;
        unitOfAccount = unitOfAccount_;
        governorAdmin = msg.sender;
        name = name_;
    }

    modifier governorOnly() { if (msg.sender != governorAdmin) revert E_Unauthorized(); _; }

    // ------------------------------------------------------------------------- governance

    function _getLTV(LTVConfig memory self, bool liquidation) internal view returns (uint16) {
        if (!liquidation) return self.borrowLTV;
        if (block.timestamp >= self.targetTimestamp || self.liquidationLTV >= self.initialLiquidationLTV) {
            return self.liquidationLTV;
        }
        uint256 current = self.initialLiquidationLTV;
        unchecked {
            uint256 target = self.liquidationLTV;
            uint256 timeRemaining = self.targetTimestamp - block.timestamp;
            current = target + (current - target) * timeRemaining / self.rampDuration;
        }
        return uint16(current);
    }

    function setLTV(address collateral, uint16 borrowLTV, uint16 liquidationLTV, uint32 rampDuration) external governorOnly {
        if (collateral == address(this)) revert E_InvalidLTVAsset();
        require(borrowLTV <= CONFIG_SCALE && liquidationLTV <= CONFIG_SCALE, "E_ConfigAmountTooLargeToEncode");
        if (borrowLTV > liquidationLTV) revert E_LTVBorrow();
        LTVConfig memory currentLTV = ltvLookup[collateral];
        if (liquidationLTV >= _getLTV(currentLTV, true) && rampDuration > 0) revert E_LTVLiquidation();
        LTVConfig memory newLTV = LTVConfig({
            borrowLTV: borrowLTV,
            liquidationLTV: liquidationLTV,
            initialLiquidationLTV: _getLTV(currentLTV, true),
            targetTimestamp: uint48(block.timestamp + rampDuration),
            rampDuration: rampDuration
        });
        ltvLookup[collateral] = newLTV;
        if (currentLTV.targetTimestamp == 0) ltvList.push(collateral);
        emit GovSetLTV(collateral, newLTV.borrowLTV, newLTV.liquidationLTV, newLTV.initialLiquidationLTV,
                       newLTV.targetTimestamp, newLTV.rampDuration);
    }

    function setMaxLiquidationDiscount(uint16 newDiscount) external governorOnly {
        if (newDiscount == CONFIG_SCALE) revert E_BadMaxLiquidationDiscount();
        require(newDiscount <= CONFIG_SCALE, "E_ConfigAmountTooLargeToEncode");
        maxLiquidationDiscount = newDiscount;
        emit GovSetMaxLiquidationDiscount(newDiscount);
    }

    function setConfigFlags(uint32 newConfigFlags) external governorOnly {
        configFlags = newConfigFlags;
        emit GovSetConfigFlags(newConfigFlags);
    }

    /// Double only: stands in for interest accrual (the real vault's accumulator grows with its IRM).
    function setInterestAccumulator(uint256 newAccumulator) external governorOnly {
        require(newAccumulator >= interestAccumulator, "accumulator only grows");
        interestAccumulator = newAccumulator;
    }

    function LTVBorrow(address collateral) external view returns (uint16) { return _getLTV(ltvLookup[collateral], false); }
    function LTVLiquidation(address collateral) external view returns (uint16) { return _getLTV(ltvLookup[collateral], true); }
    function LTVFull(address collateral) external view returns (uint16, uint16, uint16, uint48, uint32) {
        LTVConfig memory l = ltvLookup[collateral];
        return (l.borrowLTV, l.liquidationLTV, l.initialLiquidationLTV, l.targetTimestamp, l.rampDuration);
    }
    function LTVList() external view returns (address[] memory) { return ltvList; }

    // ------------------------------------------------------------------------------ debt

    function _currentOwed(address account) internal view returns (uint256) {
        UserStorage storage u = users[account];
        if (u.owed == 0) return 0;
        return u.owed * interestAccumulator / u.interestAccumulator;
    }

    function _toAssetsUp(uint256 owed) internal pure returns (uint256) {
        if (owed == 0) return 0;
        return (owed + (1 << INTERNAL_DEBT_PRECISION_SHIFT) - 1) >> INTERNAL_DEBT_PRECISION_SHIFT;
    }

    function _setUserBorrow(address account, uint256 owed) internal {
        users[account].owed = owed;
        users[account].interestAccumulator = interestAccumulator;
    }

    function debtOf(address account) external view returns (uint256) { return _toAssetsUp(_currentOwed(account)); }
    function debtOfExact(address account) external view returns (uint256) { return _currentOwed(account); }

    function validateController(address account) internal view {
        address[] memory c = IEVCView(EVC).getControllers(account);
        if (c.length > 1) revert E_TransientState();
        if (c.length == 0) revert E_NoLiability();
        if (c[0] != address(this)) revert E_NotController();
    }

    /// Double only (seeding): book `assets` of debt to `account` (increaseBorrow), no health check.
    function borrowFor(address account, uint256 assets) external governorOnly {
        validateController(account);
        uint256 owed = _currentOwed(account) + (assets << INTERNAL_DEBT_PRECISION_SHIFT);
        _setUserBorrow(account, owed);
        totalBorrowsExact += assets << INTERNAL_DEBT_PRECISION_SHIFT;
        emit Borrow(account, assets);
    }

    // ------------------------------------------------------------------------- liquidity

    function _isRecognizedCollateral(address collateral) internal view returns (bool) {
        return ltvLookup[collateral].targetTimestamp != 0;
    }

    function _collateralValue(address account, address collateral, bool liquidation) internal view returns (uint256) {
        uint16 ltv = _getLTV(ltvLookup[collateral], liquidation);
        if (ltv == 0) return 0;
        uint256 balance = EscrowVaultDouble(collateral).balanceOf(account);
        if (balance == 0) return 0;
        uint256 value = OracleDouble(oracle).getQuote(balance, collateral, unitOfAccount);
        return value * ltv / CONFIG_SCALE;
    }

    function _liabilityValue(uint256 owedAssets) internal view returns (uint256) {
        if (owedAssets == 0) return 0;
        if (asset == unitOfAccount) return owedAssets;
        return OracleDouble(oracle).getQuote(owedAssets, asset, unitOfAccount);
    }

    function _calculateLiquidity(address account, address[] memory cols, bool liquidation)
        internal view returns (uint256 collateralValue, uint256 liabilityValue)
    {
        if (oracle == address(0)) revert E_NoPriceOracle();
        for (uint256 i; i < cols.length; ++i) collateralValue += _collateralValue(account, cols[i], liquidation);
        liabilityValue = _liabilityValue(_toAssetsUp(_currentOwed(account)));
    }

    function accountLiquidity(address account, bool liquidation)
        external view returns (uint256 collateralValue, uint256 liabilityValue)
    {
        validateController(account);
        return _calculateLiquidity(account, IEVCView(EVC).getCollaterals(account), liquidation);
    }

    // ------------------------------------------------------------------------ liquidation

    struct LiquidationCache {
        address liquidator;
        address violator;
        address collateral;
        address[] collaterals;
        uint256 liability;
        uint256 repay;
        uint256 yieldBalance;
        uint256 liabilityValue;
    }

    function checkLiquidation(address liquidator, address violator, address collateral)
        external view returns (uint256 maxRepay, uint256 maxYield)
    {
        LiquidationCache memory c = _calculateLiquidation(liquidator, violator, collateral, type(uint256).max);
        return (c.repay, c.yieldBalance);
    }

    function liquidate(address violator, address collateral, uint256 repayAssets, uint256 minYieldBalance) external {
        LiquidationCache memory c = _calculateLiquidation(msg.sender, violator, collateral, repayAssets);
        _executeLiquidation(c, minYieldBalance);
    }

    function _calculateLiquidation(address liquidator, address violator, address collateral, uint256 desiredRepay)
        internal view returns (LiquidationCache memory c)
    {
        c.liquidator = liquidator;
        c.violator = violator;
        c.collateral = collateral;
        c.liability = _toAssetsUp(_currentOwed(violator));
        c.collaterals = IEVCView(EVC).getCollaterals(violator);
        if (violator == liquidator) revert E_SelfLiquidation();
        if (!_isRecognizedCollateral(collateral)) revert E_BadCollateral();
        validateController(violator);
        if (!IEVCView(EVC).isCollateralEnabled(violator, collateral)) revert E_CollateralDisabled();
        if (c.liability == 0) return c;
        c = _calculateMaxLiquidation(c);
        if (desiredRepay != type(uint256).max) {
            uint256 maxRepay = c.repay;
            if (desiredRepay > maxRepay) revert E_ExcessiveRepayAmount();
            if (maxRepay > 0) {
                c.yieldBalance = desiredRepay * c.yieldBalance / maxRepay;
                c.repay = desiredRepay;
            }
        }
    }

    function _calculateMaxLiquidation(LiquidationCache memory c) internal view returns (LiquidationCache memory) {
        uint256 collateralAdjustedValue;
        (collateralAdjustedValue, c.liabilityValue) = _calculateLiquidity(c.violator, c.collaterals, true);
        if (collateralAdjustedValue > c.liabilityValue || c.liabilityValue == 0) return c;
        uint256 discountFactor = collateralAdjustedValue * 1e18 / c.liabilityValue;
        {
            uint256 minDiscountFactor;
            unchecked {
                minDiscountFactor = 1e18 - uint256(1e18) * maxLiquidationDiscount / CONFIG_SCALE;
            }
            if (discountFactor < minDiscountFactor) discountFactor = minDiscountFactor;
        }
        uint256 collateralBalance = EscrowVaultDouble(c.collateral).balanceOf(c.violator);
        uint256 collateralValue = OracleDouble(oracle).getQuote(collateralBalance, c.collateral, unitOfAccount);
        if (collateralValue == 0) {
            c.yieldBalance = collateralBalance;
            return c;
        }
        uint256 maxRepayValue = c.liabilityValue;
        uint256 maxYieldValue = maxRepayValue * 1e18 / discountFactor;
        if (collateralValue < maxYieldValue) {
            maxRepayValue = collateralValue * discountFactor / 1e18;
            maxYieldValue = collateralValue;
        }
        c.repay = maxRepayValue * c.liability / c.liabilityValue;
        c.yieldBalance = maxYieldValue * collateralBalance / collateralValue;
        return c;
    }

    function _transferBorrow(address from, address to, uint256 assets) internal {
        uint256 amount = assets << INTERNAL_DEBT_PRECISION_SHIFT;
        uint256 fromOwed = _currentOwed(from);
        uint256 one = 1 << INTERNAL_DEBT_PRECISION_SHIFT;
        if ((amount > fromOwed && amount - fromOwed < one) || (amount < fromOwed && fromOwed - amount < one)) {
            amount = fromOwed;
        }
        if (amount > fromOwed) revert E_InsufficientDebt();
        _setUserBorrow(from, fromOwed - amount);
        _setUserBorrow(to, _currentOwed(to) + amount);
        emit Repay(from, assets);
        emit Borrow(to, assets);
    }

    function _decreaseBorrow(address account, uint256 assets) internal {
        uint256 owedExact = _currentOwed(account);
        uint256 owed = _toAssetsUp(owedExact);
        if (assets > owed) revert E_RepayTooMuch();
        uint256 remaining = (owed - assets) << INTERNAL_DEBT_PRECISION_SHIFT;
        _setUserBorrow(account, remaining);
        totalBorrowsExact = totalBorrowsExact > owedExact ? totalBorrowsExact - owedExact + remaining : remaining;
        emit Repay(account, assets);
    }

    function _checkNoCollateral(address account, address[] memory cols) internal view returns (bool) {
        for (uint256 i; i < cols.length; ++i) {
            if (!_isRecognizedCollateral(cols[i])) continue;
            if (EscrowVaultDouble(cols[i]).balanceOf(account) > 0) return false;
        }
        return true;
    }

    function _executeLiquidation(LiquidationCache memory c, uint256 minYieldBalance) internal {
        if (minYieldBalance > c.yieldBalance) revert E_MinYield();
        if (c.repay > 0) _transferBorrow(c.violator, c.liquidator, c.repay);
        if (c.yieldBalance > 0) {
            EVCDouble(EVC).controlCollateralTransfer(c.collateral, c.violator, c.liquidator, c.yieldBalance);
        }
        if (c.liabilityValue >= MIN_SOCIALIZATION_LIABILITY_VALUE && (configFlags & CFG_DONT_SOCIALIZE_DEBT) == 0
            && c.liability > c.repay && _checkNoCollateral(c.violator, c.collaterals)) {
            uint256 owedRemaining = c.liability - c.repay;
            _decreaseBorrow(c.violator, owedRemaining);
            emit DebtSocialized(c.violator, owedRemaining);
        }
        emit Liquidate(c.liquidator, c.violator, c.collateral, c.repay, c.yieldBalance);
    }
}

interface IEVCView {
    function getCollaterals(address account) external view returns (address[] memory);
    function getControllers(address account) external view returns (address[] memory);
    function isCollateralEnabled(address account, address vault) external view returns (bool);
}
