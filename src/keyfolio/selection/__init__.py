"""Selection of key accounts: rules, exact optimum, deselection with hysteresis, reasons,
robustness and reconciliation. The entry point is :func:`select`."""

from keyfolio.selection.reconcile import Reconciliation, reconcile
from keyfolio.selection.select import Definition, select

__all__ = ["Definition", "Reconciliation", "reconcile", "select"]
