// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

/// @title SettablePriceFeed
/// @notice liqrisk devnet price feed: a Chainlink-style aggregator whose answer anyone may set.
///         Used as an AaveOracle source and as a price feed of the Comet test double.
///         DEVNET ONLY: it has no access control.
contract SettablePriceFeed {
    uint8 public immutable decimals;
    string public description;
    int256 private _answer;
    uint80 private _roundId;
    uint256 private _updatedAt;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        decimals = decimals_;
        description = description_;
        _set(initialAnswer);
    }

    function version() external pure returns (uint256) {
        return 4;
    }

    function setAnswer(int256 answer) external {
        _set(answer);
    }

    function latestAnswer() external view returns (int256) {
        return _answer;
    }

    function latestTimestamp() external view returns (uint256) {
        return _updatedAt;
    }

    function latestRound() external view returns (uint256) {
        return _roundId;
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return (_roundId, _answer, _updatedAt, _updatedAt, _roundId);
    }

    function _set(int256 answer) private {
        _answer = answer;
        _roundId += 1;
        _updatedAt = block.timestamp;
        emit AnswerUpdated(answer, _roundId, block.timestamp);
    }
}
