"""Selection of key accounts: rules, exact optimum, deselection with hysteresis, reasons,
robustness and reconciliation. The entry point is :func:`define_key_accounts`."""

from keyfolio.selection.define import FILES, Definition, define_key_accounts, write_definition

__all__ = ["FILES", "Definition", "define_key_accounts", "write_definition"]
