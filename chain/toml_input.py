"""TOML read from users' files, with the nesting checked before the parser sees it.

``tomllib`` parses arrays and inline tables recursively, so how deep a file may nest before the
parser fails depends on the interpreter's recursion limit, which other libraries raise: the same
file was "nested too deeply" in one process and parsed in another. A file that nests deeper than
any liqrisk format needs is refused here, by a count, the same way in every process.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

#: No liqrisk TOML format nests arrays or inline tables more than a few levels; 32 leaves room.
MAX_TOML_NESTING = 32

# Comments and strings are skipped whole (a bracket inside them is text); what is left of interest
# are the brackets and braces. Table headers count too: ``[[x]]`` is two levels, harmlessly.
_TOKENS = re.compile(
    r'#[^\n]*'
    r'|"""(?:[^\\]|\\.)*?"""'
    r"|'''.*?'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'[^'\n]*'"
    r"|[\[\]{}]",
    re.DOTALL,
)


class TomlNestingError(ValueError):
    """The text nests arrays/inline tables deeper than :data:`MAX_TOML_NESTING`."""


def toml_nesting_depth(text: str, stop_above: int | None = None) -> int:
    """The deepest nesting of ``[``/``{`` in ``text`` outside strings and comments (stops counting
    once it passes ``stop_above``)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        elif token in "]}":
            depth -= 1
    return deepest


def loads_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` after the nesting check; raises :class:`TomlNestingError` or
    ``tomllib.TOMLDecodeError``."""
    if toml_nesting_depth(text, stop_above=MAX_TOML_NESTING) > MAX_TOML_NESTING:
        raise TomlNestingError(f"nested too deeply (arrays or inline tables more than {MAX_TOML_NESTING} levels deep)")
    try:
        return tomllib.loads(text)
    except RecursionError:  # only below the limit if the interpreter's recursion limit is tiny
        raise TomlNestingError("nested too deeply") from None


__all__ = ["MAX_TOML_NESTING", "TomlNestingError", "loads_toml", "toml_nesting_depth"]
