// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

interface IPriceFeedLike {
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
}

/// @title CometDouble — a TEST DOUBLE of Compound V3 (Comet), NOT Compound's code.
/// @notice No installable genuine Comet code exists on this machine, so the liqrisk devnet uses
///         this double. It implements Comet's READ interface (same signatures, struct layouts
///         and the exact integer formula of `isLiquidatable` / `isBorrowCollateralized`) and
///         emits Comet's `SupplyCollateral` / `Withdraw` events when positions are created.
///         Simplifications (by design): no tokens move (positions are bookkeeping only), the
///         indices are constant (BASE_INDEX_SCALE, i.e. no interest accrues), there is no
///         absorb / buyCollateral, and at most 15 collateral assets (bits of `assetsIn`).
contract CometDouble {
    struct AssetInfo {
        uint8 offset;
        address asset;
        address priceFeed;
        uint64 scale;
        uint64 borrowCollateralFactor;
        uint64 liquidateCollateralFactor;
        uint64 liquidationFactor;
        uint128 supplyCap;
    }

    struct UserBasic {
        int104 principal;
        uint64 baseTrackingIndex;
        uint64 baseTrackingAccrued;
        uint16 assetsIn;
        uint8 _reserved;
    }

    struct UserCollateral {
        uint128 balance;
        uint128 _reserved;
    }

    event Supply(address indexed from, address indexed dst, uint256 amount);
    event Withdraw(address indexed src, address indexed to, uint256 amount);
    event SupplyCollateral(address indexed from, address indexed dst, address indexed asset, uint256 amount);
    event WithdrawCollateral(address indexed src, address indexed to, address indexed asset, uint256 amount);

    error BadAsset();
    error BadPrice();
    error NotCollateralized();
    error TooManyAssets();

    uint64 internal constant FACTOR_SCALE = 1e18;
    uint64 internal constant BASE_INDEX_SCALE = 1e15;
    uint8 internal constant MAX_ASSETS = 15;

    address public immutable baseToken;
    address public immutable baseTokenPriceFeed;
    uint256 public immutable baseScale;
    uint256 public immutable baseBorrowMin;
    uint64 public constant baseSupplyIndex = BASE_INDEX_SCALE;
    uint64 public constant baseBorrowIndex = BASE_INDEX_SCALE;

    uint8 public numAssets;
    AssetInfo[] internal _assets;

    mapping(address => UserBasic) public userBasic;
    mapping(address => mapping(address => UserCollateral)) public userCollateral;

    constructor(address baseToken_, address baseTokenPriceFeed_, uint256 baseScale_, AssetInfo[] memory assets) {
        if (assets.length > MAX_ASSETS) revert TooManyAssets();
        baseToken = baseToken_;
        baseTokenPriceFeed = baseTokenPriceFeed_;
        baseScale = baseScale_;
        baseBorrowMin = baseScale_; // one whole base token, as Comet's USDC market uses 100 USDC-ish minimums
        for (uint256 i = 0; i < assets.length; i++) {
            AssetInfo memory info = assets[i];
            info.offset = uint8(i);
            _assets.push(info);
        }
        numAssets = uint8(assets.length);
    }

    // ----------------------------------------------------------------- reads (Comet ABI)

    function getAssetInfo(uint8 i) public view returns (AssetInfo memory) {
        if (i >= numAssets) revert BadAsset();
        return _assets[i];
    }

    function getAssetInfoByAddress(address asset) public view returns (AssetInfo memory) {
        for (uint8 i = 0; i < numAssets; i++) {
            if (_assets[i].asset == asset) return _assets[i];
        }
        revert BadAsset();
    }

    function getPrice(address priceFeed) public view returns (uint256) {
        (, int256 price,,,) = IPriceFeedLike(priceFeed).latestRoundData();
        if (price <= 0) revert BadPrice();
        return uint256(price);
    }

    function collateralBalanceOf(address account, address asset) external view returns (uint128) {
        return userCollateral[account][asset].balance;
    }

    function borrowBalanceOf(address account) public view returns (uint256) {
        int104 principal = userBasic[account].principal;
        return principal < 0 ? _presentValueBorrow(uint104(-principal)) : 0;
    }

    function balanceOf(address account) public view returns (uint256) {
        int104 principal = userBasic[account].principal;
        return principal > 0 ? uint256(uint104(principal)) * baseSupplyIndex / BASE_INDEX_SCALE : 0;
    }

    /// Comet's formula: liquidity = presentValue(principal) * basePrice / baseScale
    ///   + sum over assetsIn of (balance * price / scale) * liquidateCollateralFactor / 1e18.
    function isLiquidatable(address account) public view returns (bool) {
        return _liquidity(account, true) < 0;
    }

    function isBorrowCollateralized(address account) public view returns (bool) {
        return _liquidity(account, false) >= 0;
    }

    // ------------------------------------------------------ position setters (test double)

    /// Record `amount` of collateral `asset` for msg.sender (no token transfer) and emit
    /// Comet's SupplyCollateral event.
    function supply(address asset, uint256 amount) external {
        AssetInfo memory info = getAssetInfoByAddress(asset);
        UserCollateral storage uc = userCollateral[msg.sender][asset];
        uc.balance += uint128(amount);
        userBasic[msg.sender].assetsIn |= uint16(1) << info.offset;
        emit SupplyCollateral(msg.sender, msg.sender, asset, amount);
    }

    /// Borrow `amount` of the base token (asset must be baseToken): principal decreases and
    /// Comet's Withdraw event is emitted. Reverts unless the account stays collateralized
    /// under borrowCollateralFactor, like Comet.
    function withdraw(address asset, uint256 amount) external {
        if (asset != baseToken) revert BadAsset();
        UserBasic storage ub = userBasic[msg.sender];
        ub.principal -= int104(int256(amount));
        if (uint256(uint104(-ub.principal)) < baseBorrowMin || !isBorrowCollateralized(msg.sender)) {
            revert NotCollateralized();
        }
        emit Withdraw(msg.sender, msg.sender, amount);
    }

    // ---------------------------------------------------------------------------- internal

    function _liquidity(address account, bool liquidate) internal view returns (int256 liquidity) {
        UserBasic memory ub = userBasic[account];
        if (ub.principal >= 0) return int256(1);
        liquidity = _signedMulPrice(_presentValue(ub.principal), getPrice(baseTokenPriceFeed), uint64(baseScale));
        for (uint8 i = 0; i < numAssets; i++) {
            if ((ub.assetsIn & (uint16(1) << i)) != 0) {
                if (liquidity >= 0) return liquidity;
                AssetInfo memory info = _assets[i];
                uint256 newAmount = uint256(userCollateral[account][info.asset].balance) * getPrice(info.priceFeed)
                    / info.scale;
                uint64 factor = liquidate ? info.liquidateCollateralFactor : info.borrowCollateralFactor;
                liquidity += int256(newAmount * factor / FACTOR_SCALE);
            }
        }
    }

    function _presentValue(int104 principal) internal pure returns (int256) {
        if (principal >= 0) return int256(uint256(uint104(principal)) * baseSupplyIndex / BASE_INDEX_SCALE);
        return -int256(_presentValueBorrow(uint104(-principal)));
    }

    function _presentValueBorrow(uint104 principal) internal pure returns (uint256) {
        return uint256(principal) * baseBorrowIndex / BASE_INDEX_SCALE;
    }

    function _signedMulPrice(int256 n, uint256 price, uint64 fromScale) internal pure returns (int256) {
        return n * int256(price) / int256(uint256(fromScale));
    }
}
