"""Keyfolio: a workbench for Key Account Management."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("keyfolio")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+src"

__all__ = ["__version__"]
