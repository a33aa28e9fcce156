"""The synthetic B2B sample: a deterministic workspace with planted truths.

>>> from keyfolio.sample import generate_workspace
>>> info = generate_workspace(Path("demo"), accounts=2000, lines=200_000)  # doctest: +SKIP
"""

from keyfolio.sample.generator import SampleInfo, generate_workspace, make_sample

__all__ = ["SampleInfo", "generate_workspace", "make_sample"]
