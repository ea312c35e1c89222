"""liqrisk's product surfaces: the CLI, scenario files, reports, charts, scheduled runs and alerts.

The numeric engine is :mod:`risk` (pure, no I/O) and chain access is :mod:`chain` (transport,
readers, discovery, devnet); this package is the thin shell a risk desk drives them through.
"""
