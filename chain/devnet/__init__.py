"""liqrisk local devnet: anvil + genuine Aave V3 (core-v3 1.19.3) + genuine Morpho Blue 1.0.0 +
a Comet (Compound V3) TEST DOUBLE + Multicall3 (our own implementation) at the canonical address."""

from chain.devnet.core import (
    BLOCK_INTERVAL_S,
    DEFAULT_N_BORROWERS,
    DEFAULT_SEED,
    MULTICALL3_ADDRESS,
    START_PRICES_USD,
    TOKEN_DECIMALS,
    Devnet,
    DevnetDeployment,
    DevnetError,
    default_state_path,
    devnet_down,
    devnet_status,
    devnet_up,
    load_deployment,
)
from chain.devnet.deploy_aave import AaveDeployment, user_account_data
from chain.devnet.deploy_morpho import MorphoDeployment, MorphoMarket, market_id, oracle_price
from chain.devnet.population import CLUSTER_LIQ_PRICE_USD, BorrowerPlan, Population, generate_plans
from chain.devnet.rpc import DevnetRpc, DevnetRpcError, Tx, encode_call

__all__ = [
    "AaveDeployment", "BLOCK_INTERVAL_S", "BorrowerPlan", "CLUSTER_LIQ_PRICE_USD", "DEFAULT_N_BORROWERS",
    "DEFAULT_SEED", "Devnet", "DevnetDeployment", "DevnetError", "DevnetRpc", "DevnetRpcError",
    "MULTICALL3_ADDRESS", "MorphoDeployment", "MorphoMarket", "Population", "START_PRICES_USD", "TOKEN_DECIMALS",
    "Tx", "default_state_path", "devnet_down", "devnet_status", "devnet_up", "encode_call", "generate_plans",
    "load_deployment", "market_id", "oracle_price", "user_account_data",
]
