// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

/// @title LiquityV2Double — a TEST DOUBLE of one Liquity v2 (BOLD) collateral branch, NOT Liquity's code.
/// @notice No genuine Liquity v2 is installable from a package registry, so the liqrisk devnet uses
///         this double. It implements the READ interface liqrisk uses, with mainnet's signatures and
///         units (AddressesRegistry constants and addresses; TroveManager.Troves / rewardSnapshots /
///         getLatestTroveData / getTroveIdsCount / getTroveFromTroveIdsArray / getEntireBranchColl /
///         getEntireBranchDebt / shutdownTime / getCurrentICR; SortedTroves.nodes / getFirst / getLast /
///         getSize; StabilityPool.getTotalBoldDeposits; PriceFeed.fetchPrice / lastGoodPrice) and the
///         MATH that decides liquidations and redemptions, written from the liquity/bold sources read
///         with the project's search tools:
///           - contracts/src/TroveManager.sol (liquity/bold commit 00aa9df025c8677e6f9a24695185dacf3483f0d0):
///             batchLiquidateTroves, _liquidate, _getCollGasCompensation, _getOffsetAndRedistributionVals,
///             _getCollPenaltyAndSurplus, _redistributeDebtAndColl (error feedback), _computeNewStake,
///             _updateSystemSnapshots_excludeCollRemainder, _getLatestTroveData, _getInterestPeriod,
///             redeemCollateral / _redeemCollateralFromTrove (zombie below MIN_DEBT), shutdown;
///           - contracts/src/Dependencies/Constants.sol (commit 043b7464ed1dabdd6168b1fea08700e0f19401d7);
///           - contracts/src/Dependencies/LiquityMath.sol (_computeCR) and LiquityBase._calcInterest;
///           - BorrowerOperations.shutdown (TCRNotBelowSCR unless TCR < SCR).
///         Simplifications (by design, labelled): one contract per role but no tokens move (collateral,
///         BOLD and the WETH gas compensation are bookkeeping); ActivePool and DefaultPool balances live
///         in the TroveManager double (the registry's activePool/defaultPool/borrowerOperations point at
///         it); troves are opened by the deployer acting as BorrowerOperations, without the upfront fee,
///         hints, NFTs or batch managers (interestBatchManager is always 0); no SP yield minting; the
///         price feed is settable. The state variables marked "double-only" are internal on mainnet and
///         exposed here so tests can check the exact math against the full state.

contract LiquityAddressesRegistryDouble {
    uint256 public immutable CCR;
    uint256 public immutable SCR;
    uint256 public immutable MCR;
    uint256 public immutable LIQUIDATION_PENALTY_SP;
    uint256 public immutable LIQUIDATION_PENALTY_REDISTRIBUTION;
    address public immutable collToken;
    address public troveManager;
    address public sortedTroves;
    address public stabilityPool;
    address public priceFeed;
    address public activePool;
    address public defaultPool;
    address public borrowerOperations;
    address private immutable deployer;

    constructor(address _collToken, uint256 _ccr, uint256 _scr, uint256 _mcr, uint256 _penaltySP, uint256 _penaltyRed) {
        collToken = _collToken;
        CCR = _ccr;
        SCR = _scr;
        MCR = _mcr;
        LIQUIDATION_PENALTY_SP = _penaltySP;
        LIQUIDATION_PENALTY_REDISTRIBUTION = _penaltyRed;
        deployer = msg.sender;
    }

    function setAddresses(address _tm, address _sorted, address _sp, address _feed) external {
        require(msg.sender == deployer && troveManager == address(0), "registry: set once by the deployer");
        troveManager = _tm;
        sortedTroves = _sorted;
        stabilityPool = _sp;
        priceFeed = _feed;
        activePool = _tm;
        defaultPool = _tm;
        borrowerOperations = _tm;
    }
}

contract LiquityPriceFeedDouble {
    uint256 public lastGoodPrice;
    address private immutable owner;

    constructor(uint256 _price) { lastGoodPrice = _price; owner = msg.sender; }

    function setPrice(uint256 _price) external { require(msg.sender == owner, "feed: owner"); lastGoodPrice = _price; }

    // MainnetPriceFeedBase.fetchPrice returns (price, newOracleFailureDetected).
    function fetchPrice() external view returns (uint256, bool) { return (lastGoodPrice, false); }
    function fetchRedemptionPrice() external view returns (uint256, bool) { return (lastGoodPrice, false); }
}

contract LiquityStabilityPoolDouble {
    uint256 internal totalBoldDeposits;
    uint256 internal collBalance;
    address public troveManager;
    address private immutable owner;

    constructor() { owner = msg.sender; }

    function setTroveManager(address _tm) external { require(msg.sender == owner && troveManager == address(0)); troveManager = _tm; }

    // Bookkeeping deposit (no BOLD moves in the double).
    function provideToSP(uint256 _amount) external { require(msg.sender == owner, "sp: owner"); totalBoldDeposits += _amount; }

    function getTotalBoldDeposits() external view returns (uint256) { return totalBoldDeposits; }
    function getCollBalance() external view returns (uint256) { return collBalance; }

    // StabilityPool.offset: deposits burn the debt, the pool receives the collateral.
    function offset(uint256 _debtToOffset, uint256 _collToAdd) external {
        require(msg.sender == troveManager, "sp: caller");
        totalBoldDeposits -= _debtToOffset;
        collBalance += _collToAdd;
    }
}

contract LiquitySortedTrovesDouble {
    // Same layout as SortedTroves.Node (batchId is `type BatchId is address`).
    struct Node { uint256 nextId; uint256 prevId; address batchId; bool exists; }

    uint256 public size;
    mapping(uint256 => Node) public nodes;  // nodes[0] = root: nextId = head (largest rate), prevId = tail
    address public troveManager;
    address private immutable owner;

    constructor() { owner = msg.sender; }

    function setTroveManager(address _tm) external { require(msg.sender == owner && troveManager == address(0)); troveManager = _tm; }

    // Descending interest rate from the head; a new trove goes after every trove with a rate >= its own
    // (mainnet inserts at the caller's hint position among equal rates: the reader reads the real order).
    function insertByRate(uint256 _id, uint256 _rate) external {
        require(msg.sender == troveManager, "sorted: caller");
        require(!nodes[_id].exists && _id != 0, "sorted: exists");
        uint256 prev = 0;
        uint256 next = nodes[0].nextId;
        while (next != 0 && TroveRates(troveManager).getTroveAnnualInterestRate(next) >= _rate) {
            prev = next;
            next = nodes[next].nextId;
        }
        nodes[_id] = Node(next, prev, address(0), true);
        nodes[prev].nextId = _id;
        nodes[next].prevId = _id;
        size += 1;
    }

    function remove(uint256 _id) external {
        require(msg.sender == troveManager, "sorted: caller");
        Node memory n = nodes[_id];
        require(n.exists, "sorted: missing");
        nodes[n.prevId].nextId = n.nextId;
        nodes[n.nextId].prevId = n.prevId;
        delete nodes[_id];
        size -= 1;
    }

    function contains(uint256 _id) external view returns (bool) { return nodes[_id].exists; }
    function getSize() external view returns (uint256) { return size; }
    function getFirst() external view returns (uint256) { return nodes[0].nextId; }
    function getLast() external view returns (uint256) { return nodes[0].prevId; }
    function getNext(uint256 _id) external view returns (uint256) { return nodes[_id].nextId; }
    function getPrev(uint256 _id) external view returns (uint256) { return nodes[_id].prevId; }
}

interface TroveRates {
    function getTroveAnnualInterestRate(uint256 _troveId) external view returns (uint256);
}

interface LiquityPriceLike {
    function fetchPrice() external view returns (uint256, bool);
}

contract LiquityTroveManagerDouble {
    // Constants.sol
    uint256 internal constant DECIMAL_PRECISION = 1e18;
    uint256 internal constant ONE_YEAR = 365 days;
    uint256 internal constant COLL_GAS_COMPENSATION_DIVISOR = 200;
    uint256 internal constant COLL_GAS_COMPENSATION_CAP = 2 ether;
    uint256 internal constant ETH_GAS_COMPENSATION = 0.0375 ether;
    uint256 internal constant MIN_BOLD_IN_SP = 1e18;
    uint256 internal constant MIN_DEBT = 2000e18;

    enum Status { nonExistent, active, closedByOwner, closedByLiquidation, zombie }

    struct Trove {
        uint256 debt;
        uint256 coll;
        uint256 stake;
        Status status;
        uint64 arrayIndex;
        uint64 lastDebtUpdateTime;
        uint64 lastInterestRateAdjTime;
        uint256 annualInterestRate;
        address interestBatchManager;
        uint256 batchDebtShares;
    }

    struct RewardSnapshot { uint256 coll; uint256 boldDebt; }

    struct LatestTroveData {
        uint256 entireDebt;
        uint256 entireColl;
        uint256 redistBoldDebtGain;
        uint256 redistCollGain;
        uint256 accruedInterest;
        uint256 recordedDebt;
        uint256 annualInterestRate;
        uint256 weightedRecordedDebt;
        uint256 accruedBatchManagementFee;
        uint256 lastInterestRateAdjTime;
    }

    struct LiquidationValues {
        uint256 collGasCompensation;
        uint256 debtToOffset;
        uint256 collToSendToSP;
        uint256 debtToRedistribute;
        uint256 collToRedistribute;
        uint256 collSurplus;
    }

    uint256 public immutable CCR;
    uint256 internal immutable MCR;
    uint256 internal immutable SCR;
    uint256 internal immutable LIQUIDATION_PENALTY_SP;
    uint256 internal immutable LIQUIDATION_PENALTY_REDISTRIBUTION;
    LiquitySortedTrovesDouble public sortedTroves;
    LiquityStabilityPoolDouble public stabilityPool;
    LiquityPriceLike public priceFeed;
    address private immutable owner;

    mapping(uint256 => Trove) public Troves;
    mapping(uint256 => RewardSnapshot) public rewardSnapshots;
    uint256[] internal TroveIds;
    uint256 public lastZombieTroveId;
    uint256 public shutdownTime;

    // double-only (internal on mainnet): redistribution and stake state, pool balances.
    uint256 public totalStakes;
    uint256 public totalStakesSnapshot;
    uint256 public totalCollateralSnapshot;
    uint256 public L_coll;
    uint256 public L_boldDebt;
    uint256 public lastCollError_Redistribution;
    uint256 public lastBoldDebtError_Redistribution;
    uint256 public activePoolColl;
    uint256 public defaultPoolColl;
    uint256 public defaultPoolBoldDebt;
    uint256 public aggRecordedDebt;
    uint256 public aggWeightedDebtSum;
    uint256 public lastAggUpdateTime;
    uint256 public collSurplusBalance;
    uint256 public gasCompensationPaid;

    error EmptyData();
    error NothingToLiquidate();
    error TCRNotBelowSCR();
    error IsShutDown();

    event TroveOpened(uint256 indexed _troveId, address indexed _owner, uint256 _coll, uint256 _debt, uint256 _annualInterestRate);
    event Liquidation(uint256 _debtOffsetBySP, uint256 _debtRedistributed, uint256 _boldGasCompensation,
        uint256 _collGasCompensation, uint256 _collSentToSP, uint256 _collRedistributed, uint256 _collSurplus,
        uint256 _L_ETH, uint256 _L_boldDebt, uint256 _price);
    event ShutDown(uint256 _tcr);

    constructor(address _registry, address _sortedTroves, address _stabilityPool, address _priceFeed) {
        LiquityAddressesRegistryView r = LiquityAddressesRegistryView(_registry);
        CCR = r.CCR();
        MCR = r.MCR();
        SCR = r.SCR();
        LIQUIDATION_PENALTY_SP = r.LIQUIDATION_PENALTY_SP();
        LIQUIDATION_PENALTY_REDISTRIBUTION = r.LIQUIDATION_PENALTY_REDISTRIBUTION();
        sortedTroves = LiquitySortedTrovesDouble(_sortedTroves);
        stabilityPool = LiquityStabilityPoolDouble(_stabilityPool);
        priceFeed = LiquityPriceLike(_priceFeed);
        owner = msg.sender;
    }

    // ------------------------------------------------------------------ getters (mainnet names)

    function getTroveIdsCount() external view returns (uint256) { return TroveIds.length; }
    function getTroveFromTroveIdsArray(uint256 _index) external view returns (uint256) { return TroveIds[_index]; }
    function getTroveStatus(uint256 _troveId) external view returns (Status) { return Troves[_troveId].status; }
    function getTroveAnnualInterestRate(uint256 _troveId) external view returns (uint256) {
        return Troves[_troveId].annualInterestRate;
    }

    function _calcInterest(uint256 _weightedDebt, uint256 _period) internal pure returns (uint256) {
        return _weightedDebt * _period / ONE_YEAR / DECIMAL_PRECISION;
    }

    function _getInterestPeriod(uint256 _lastDebtUpdateTime) internal view returns (uint256) {
        if (shutdownTime == 0) return block.timestamp - _lastDebtUpdateTime;
        if (_lastDebtUpdateTime < shutdownTime) return shutdownTime - _lastDebtUpdateTime;
        return 0;
    }

    function _getLatestTroveData(uint256 _troveId, LatestTroveData memory trove) internal view {
        uint256 stake = Troves[_troveId].stake;
        trove.redistBoldDebtGain = stake * (L_boldDebt - rewardSnapshots[_troveId].boldDebt) / DECIMAL_PRECISION;
        trove.redistCollGain = stake * (L_coll - rewardSnapshots[_troveId].coll) / DECIMAL_PRECISION;
        trove.recordedDebt = Troves[_troveId].debt;
        trove.annualInterestRate = Troves[_troveId].annualInterestRate;
        trove.weightedRecordedDebt = trove.recordedDebt * trove.annualInterestRate;
        uint256 period = _getInterestPeriod(Troves[_troveId].lastDebtUpdateTime);
        trove.accruedInterest = _calcInterest(trove.weightedRecordedDebt, period);
        trove.entireDebt = trove.recordedDebt + trove.redistBoldDebtGain + trove.accruedInterest;
        trove.entireColl = Troves[_troveId].coll + trove.redistCollGain;
        trove.lastInterestRateAdjTime = Troves[_troveId].lastInterestRateAdjTime;
    }

    function getLatestTroveData(uint256 _troveId) external view returns (LatestTroveData memory trove) {
        _getLatestTroveData(_troveId, trove);
    }

    function _computeCR(uint256 _coll, uint256 _debt, uint256 _price) internal pure returns (uint256) {
        if (_debt > 0) return _coll * _price / _debt;
        return 2 ** 256 - 1;
    }

    function getCurrentICR(uint256 _troveId, uint256 _price) public view returns (uint256) {
        LatestTroveData memory trove;
        _getLatestTroveData(_troveId, trove);
        return _computeCR(trove.entireColl, trove.entireDebt, _price);
    }

    // ActivePool.calcPendingAggInterest: ceiling division (positive error), 0 once shut down.
    function calcPendingAggInterest() public view returns (uint256) {
        if (shutdownTime != 0) return 0;
        uint256 num = aggWeightedDebtSum * (block.timestamp - lastAggUpdateTime);
        uint256 den = ONE_YEAR * DECIMAL_PRECISION;
        return num == 0 ? 0 : (num - 1) / den + 1;
    }

    function getEntireBranchColl() public view returns (uint256) { return activePoolColl + defaultPoolColl; }
    function getEntireBranchDebt() public view returns (uint256) {
        return aggRecordedDebt + calcPendingAggInterest() + defaultPoolBoldDebt;
    }

    function _mintAggInterest() internal {
        aggRecordedDebt += calcPendingAggInterest();
        lastAggUpdateTime = block.timestamp;
    }

    // ------------------------------------------------------------------ trove set-up (as BorrowerOperations)

    function _computeNewStake(uint256 _coll) internal view returns (uint256) {
        if (totalCollateralSnapshot == 0) return _coll;
        return _coll * totalStakesSnapshot / totalCollateralSnapshot;
    }

    function openTrove(address _owner, uint256 _ownerIndex, uint256 _coll, uint256 _debt, uint256 _annualInterestRate)
        external returns (uint256 troveId)
    {
        require(msg.sender == owner, "tm: only the deployer opens troves in the double");
        if (shutdownTime != 0) revert IsShutDown();
        troveId = uint256(keccak256(abi.encode(msg.sender, _owner, _ownerIndex)));
        require(Troves[troveId].status == Status.nonExistent, "tm: trove exists");
        _mintAggInterest();
        uint256 stake = _computeNewStake(_coll);
        Troves[troveId] = Trove(_debt, _coll, stake, Status.active, uint64(TroveIds.length), uint64(block.timestamp),
                                uint64(block.timestamp), _annualInterestRate, address(0), 0);
        TroveIds.push(troveId);
        totalStakes += stake;
        rewardSnapshots[troveId] = RewardSnapshot(L_coll, L_boldDebt);
        activePoolColl += _coll;
        aggRecordedDebt += _debt;
        aggWeightedDebtSum += _debt * _annualInterestRate;
        sortedTroves.insertByRate(troveId, _annualInterestRate);
        emit TroveOpened(troveId, _owner, _coll, _debt, _annualInterestRate);
    }

    // ------------------------------------------------------------------ liquidation

    function _getCollGasCompensation(uint256 _entireColl) internal pure returns (uint256) {
        uint256 c = _entireColl / COLL_GAS_COMPENSATION_DIVISOR;
        return c < COLL_GAS_COMPENSATION_CAP ? c : COLL_GAS_COMPENSATION_CAP;
    }

    function _getCollPenaltyAndSurplus(uint256 _collToLiquidate, uint256 _debtToLiquidate, uint256 _penaltyRatio,
                                       uint256 _price) internal pure returns (uint256 seizedColl, uint256 collSurplus) {
        uint256 maxSeizedColl = _debtToLiquidate * (DECIMAL_PRECISION + _penaltyRatio) / _price;
        if (_collToLiquidate > maxSeizedColl) {
            seizedColl = maxSeizedColl;
            collSurplus = _collToLiquidate - maxSeizedColl;
        } else {
            seizedColl = _collToLiquidate;
            collSurplus = 0;
        }
    }

    function _getOffsetAndRedistributionVals(uint256 _entireTroveDebt, uint256 _collToLiquidate,
                                             uint256 _boldInSPForOffsets, uint256 _price)
        internal view returns (uint256 debtToOffset, uint256 collToSendToSP, uint256 debtToRedistribute,
                               uint256 collToRedistribute, uint256 collSurplus)
    {
        uint256 collSPPortion;
        if (_boldInSPForOffsets > 0) {
            debtToOffset = _entireTroveDebt < _boldInSPForOffsets ? _entireTroveDebt : _boldInSPForOffsets;
            collSPPortion = _collToLiquidate * debtToOffset / _entireTroveDebt;
            (collToSendToSP, collSurplus) =
                _getCollPenaltyAndSurplus(collSPPortion, debtToOffset, LIQUIDATION_PENALTY_SP, _price);
        }
        debtToRedistribute = _entireTroveDebt - debtToOffset;
        if (debtToRedistribute > 0) {
            uint256 collRedistributionPortion = _collToLiquidate - collSPPortion;
            if (collRedistributionPortion > 0) {
                (collToRedistribute, collSurplus) = _getCollPenaltyAndSurplus(
                    collRedistributionPortion + collSurplus, debtToRedistribute, LIQUIDATION_PENALTY_REDISTRIBUTION, _price);
            }
        }
    }

    function _removeTroveId(uint256 _troveId) internal {
        uint64 index = Troves[_troveId].arrayIndex;
        uint256 idxLast = TroveIds.length - 1;
        uint256 idToMove = TroveIds[idxLast];
        TroveIds[index] = idToMove;
        Troves[idToMove].arrayIndex = index;
        TroveIds.pop();
    }

    function _closeTrove(uint256 _troveId, Status _status) internal {
        if (Troves[_troveId].status == Status.active) sortedTroves.remove(_troveId);
        totalStakes -= Troves[_troveId].stake;
        _removeTroveId(_troveId);
        if (lastZombieTroveId == _troveId) lastZombieTroveId = 0;
        delete Troves[_troveId];
        Troves[_troveId].status = _status;
        delete rewardSnapshots[_troveId];
    }

    struct Totals {
        uint256 collGasCompensation;
        uint256 ethGasCompensation;
        uint256 debtToOffset;
        uint256 collToSendToSP;
        uint256 debtToRedistribute;
        uint256 collToRedistribute;
        uint256 collSurplus;
        uint256 debtDecrease;
        uint256 appliedRedistBoldDebtGain;
        uint256 oldWeightedRecordedDebt;
    }

    function batchLiquidateTroves(uint256[] memory _troveArray) external {
        if (_troveArray.length == 0) revert EmptyData();
        (uint256 price,) = priceFeed.fetchPrice();
        uint256 totalBoldDeposits = stabilityPool.getTotalBoldDeposits();
        uint256 boldToLeaveInSP = totalBoldDeposits < MIN_BOLD_IN_SP ? totalBoldDeposits : MIN_BOLD_IN_SP;
        uint256 remaining = totalBoldDeposits - boldToLeaveInSP;
        Totals memory t;
        for (uint256 i = 0; i < _troveArray.length; i++) {
            uint256 id = _troveArray[i];
            Status s = Troves[id].status;
            if (s != Status.active && s != Status.zombie) continue;
            if (getCurrentICR(id, price) >= MCR) continue;
            LatestTroveData memory trove;
            _getLatestTroveData(id, trove);
            // _movePendingTroveRewardsToActivePool
            defaultPoolBoldDebt -= trove.redistBoldDebtGain;
            defaultPoolColl -= trove.redistCollGain;
            activePoolColl += trove.redistCollGain;
            LiquidationValues memory v;
            v.collGasCompensation = _getCollGasCompensation(trove.entireColl);
            (v.debtToOffset, v.collToSendToSP, v.debtToRedistribute, v.collToRedistribute, v.collSurplus) =
                _getOffsetAndRedistributionVals(trove.entireDebt, trove.entireColl - v.collGasCompensation, remaining, price);
            remaining -= v.debtToOffset;
            _closeTrove(id, Status.closedByLiquidation);
            t.collGasCompensation += v.collGasCompensation;
            t.ethGasCompensation += ETH_GAS_COMPENSATION;
            t.debtToOffset += v.debtToOffset;
            t.collToSendToSP += v.collToSendToSP;
            t.debtToRedistribute += v.debtToRedistribute;
            t.collToRedistribute += v.collToRedistribute;
            t.collSurplus += v.collSurplus;
            t.debtDecrease += trove.entireDebt;
            t.appliedRedistBoldDebtGain += trove.redistBoldDebtGain;
            t.oldWeightedRecordedDebt += trove.weightedRecordedDebt;
        }
        if (t.debtDecrease == 0) revert NothingToLiquidate();
        // ActivePool.mintAggInterestAndAccountForTroveChange
        _mintAggInterest();
        aggRecordedDebt = aggRecordedDebt + t.appliedRedistBoldDebtGain - t.debtDecrease;
        aggWeightedDebtSum -= t.oldWeightedRecordedDebt;
        if (t.debtToOffset > 0 || t.collToSendToSP > 0) {
            stabilityPool.offset(t.debtToOffset, t.collToSendToSP);
            activePoolColl -= t.collToSendToSP;
        }
        _redistributeDebtAndColl(t.debtToRedistribute, t.collToRedistribute);
        if (t.collSurplus > 0) {
            activePoolColl -= t.collSurplus;
            collSurplusBalance += t.collSurplus;
        }
        totalStakesSnapshot = totalStakes;
        totalCollateralSnapshot = activePoolColl - t.collGasCompensation + defaultPoolColl;
        emit Liquidation(t.debtToOffset, t.debtToRedistribute, t.ethGasCompensation, t.collGasCompensation,
                         t.collToSendToSP, t.collToRedistribute, t.collSurplus, L_coll, L_boldDebt, price);
        activePoolColl -= t.collGasCompensation;
        gasCompensationPaid += t.collGasCompensation;
    }

    function _redistributeDebtAndColl(uint256 _debtToRedistribute, uint256 _collToRedistribute) internal {
        if (_debtToRedistribute == 0) return;
        uint256 collNumerator = _collToRedistribute * DECIMAL_PRECISION + lastCollError_Redistribution;
        uint256 boldDebtNumerator = _debtToRedistribute * DECIMAL_PRECISION + lastBoldDebtError_Redistribution;
        uint256 collRewardPerUnitStaked = collNumerator / totalStakes;
        uint256 boldDebtRewardPerUnitStaked = boldDebtNumerator / totalStakes;
        lastCollError_Redistribution = collNumerator - collRewardPerUnitStaked * totalStakes;
        lastBoldDebtError_Redistribution = boldDebtNumerator - boldDebtRewardPerUnitStaked * totalStakes;
        L_coll = L_coll + collRewardPerUnitStaked;
        L_boldDebt = L_boldDebt + boldDebtRewardPerUnitStaked;
        defaultPoolBoldDebt += _debtToRedistribute;
        activePoolColl -= _collToRedistribute;
        defaultPoolColl += _collToRedistribute;
    }

    // ------------------------------------------------------------------ redemption (as CollateralRegistry)

    function redeemCollateral(uint256 _boldamount, uint256 _price, uint256 _redemptionRate, uint256 _maxIterations)
        external returns (uint256 redeemed)
    {
        require(msg.sender == owner, "tm: only the deployer redeems in the double");
        uint256 remainingBold = _boldamount;
        uint256 troveId;
        bool isZombie;
        if (lastZombieTroveId != 0) { troveId = lastZombieTroveId; isZombie = true; } else { troveId = sortedTroves.getLast(); }
        if (_maxIterations == 0) _maxIterations = type(uint256).max;
        _mintAggInterest();
        while (troveId != 0 && remainingBold > 0 && _maxIterations > 0) {
            _maxIterations--;
            uint256 next = isZombie ? sortedTroves.getLast() : sortedTroves.getPrev(troveId);
            if (getCurrentICR(troveId, _price) < DECIMAL_PRECISION) { troveId = next; isZombie = false; continue; }
            LatestTroveData memory trove;
            _getLatestTroveData(troveId, trove);
            uint256 boldLot = remainingBold < trove.entireDebt ? remainingBold : trove.entireDebt;
            uint256 correspondingColl = boldLot * DECIMAL_PRECISION / _price;
            uint256 collFee = correspondingColl * _redemptionRate / DECIMAL_PRECISION;
            uint256 collLot = correspondingColl - collFee;
            uint256 newDebt = trove.entireDebt - boldLot;
            uint256 newColl = trove.entireColl - collLot;
            // _applySingleRedemption (non-batched trove)
            aggRecordedDebt = aggRecordedDebt + trove.redistBoldDebtGain - boldLot;
            aggWeightedDebtSum = aggWeightedDebtSum - trove.weightedRecordedDebt + newDebt * trove.annualInterestRate;
            Troves[troveId].debt = newDebt;
            Troves[troveId].coll = newColl;
            Troves[troveId].lastDebtUpdateTime = uint64(block.timestamp);
            uint256 newStake = _computeNewStake(newColl);
            totalStakes = totalStakes - Troves[troveId].stake + newStake;
            Troves[troveId].stake = newStake;
            defaultPoolBoldDebt -= trove.redistBoldDebtGain;
            defaultPoolColl -= trove.redistCollGain;
            activePoolColl = activePoolColl + trove.redistCollGain - collLot;
            rewardSnapshots[troveId] = RewardSnapshot(L_coll, L_boldDebt);
            if (newDebt < MIN_DEBT) {
                if (!isZombie) {
                    Troves[troveId].status = Status.zombie;
                    sortedTroves.remove(troveId);
                    if (newDebt > 0) lastZombieTroveId = troveId;
                } else if (newDebt == 0) {
                    lastZombieTroveId = 0;
                }
            }
            redeemed += boldLot;
            remainingBold -= boldLot;
            troveId = next;
            isZombie = false;
        }
    }

    // ------------------------------------------------------------------ shutdown (BorrowerOperations.shutdown)

    function shutdown() external {
        if (shutdownTime != 0) revert IsShutDown();
        uint256 totalColl = getEntireBranchColl();
        uint256 totalDebt = getEntireBranchDebt();
        (uint256 price,) = priceFeed.fetchPrice();
        uint256 TCR = _computeCR(totalColl, totalDebt, price);
        if (TCR >= SCR) revert TCRNotBelowSCR();
        _mintAggInterest();
        shutdownTime = block.timestamp;
        emit ShutDown(TCR);
    }
}

interface LiquityAddressesRegistryView {
    function CCR() external view returns (uint256);
    function SCR() external view returns (uint256);
    function MCR() external view returns (uint256);
    function LIQUIDATION_PENALTY_SP() external view returns (uint256);
    function LIQUIDATION_PENALTY_REDISTRIBUTION() external view returns (uint256);
}
