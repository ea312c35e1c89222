"""Liquidation-rule plugins: every module here registers its rule(s) with
:func:`risk.rules.register_rule` when :mod:`risk.rules` loads (sorted by module name).

A module here may import only :mod:`risk.rules` at module level; it imports its kernel lazily
(``risk.snapshot`` imports ``risk.rules``, so a module-level import of the engine would be circular).
"""
