"""Customer value: BG/NBD + Gamma-Gamma models, RFM summary, CLV, ROCI and backtest."""

from keyfolio.value.bgnbd import BetaGeo
from keyfolio.value.clv import (
    BacktestResult,
    ReturnOnCustomer,
    ValueModels,
    account_value,
    backtest,
    fit_value_models,
    return_on_customer,
)
from keyfolio.value.gamma_gamma import GammaGamma
from keyfolio.value.simulate import simulate_bgnbd, simulate_customers, simulate_gamma_gamma
from keyfolio.value.summary import period_orders, rfm_summary

__all__ = [
    "BacktestResult",
    "BetaGeo",
    "GammaGamma",
    "ReturnOnCustomer",
    "ValueModels",
    "account_value",
    "backtest",
    "fit_value_models",
    "period_orders",
    "return_on_customer",
    "rfm_summary",
    "simulate_bgnbd",
    "simulate_customers",
    "simulate_gamma_gamma",
]
