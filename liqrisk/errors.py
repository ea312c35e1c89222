"""The application's error types: problems a user can fix, reported as one message.

Every surface (CLI, report, schedule) raises :class:`LiqriskUserError` for bad input, a missing
devnet, an unreachable RPC or a reader failure; the CLI prints ``Error: <message>`` and exits
non-zero, never a traceback. The message names the file and field, or the flag.
"""

from __future__ import annotations


class LiqriskUserError(Exception):
    """A problem the user can fix (bad file, bad option, no devnet running, RPC down).

    The CLI prints ``str(error)`` and exits non-zero, never a traceback.
    """


class ScenarioError(LiqriskUserError):
    """A scenario file that cannot be read or does not validate."""


__all__ = ["LiqriskUserError", "ScenarioError"]
