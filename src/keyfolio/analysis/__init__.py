"""Questions asked of finished runs, answered as plain data (dataclasses and frames) for the
front ends to render: the portfolio summary, why an account is key, what changed between
two runs, and whether the value models can be trusted on the data."""
