"""The TOML nesting check gives the same answer whatever the interpreter's recursion limit is
(the bad-input suite failed in CI because a library loaded earlier had raised that limit)."""

from __future__ import annotations

import sys
import tomllib

import pytest

from chain.toml_input import MAX_TOML_NESTING, TomlNestingError, loads_toml, toml_nesting_depth

DEEP_TABLES = "x = " + "{a = " * 2_000 + "1" + "}" * 2_000 + "\n"
DEEP_ARRAYS = "x = " + "[" * 900 + "]" * 900 + "\n"


@pytest.mark.parametrize("limit", [1_000, 3_000, 100_000])
@pytest.mark.parametrize("text", [DEEP_TABLES, DEEP_ARRAYS], ids=["tables", "arrays"])
def test_deep_text_is_refused_at_any_recursion_limit(text, limit):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        with pytest.raises(TomlNestingError, match="nested too deeply"):
            loads_toml(text)
    finally:
        sys.setrecursionlimit(old)


def test_the_limit_itself_parses_and_one_more_is_refused():
    at_limit = "x = " + "[" * MAX_TOML_NESTING + "]" * MAX_TOML_NESTING + "\n"
    assert loads_toml(at_limit) == tomllib.loads(at_limit)
    over = "x = " + "[" * (MAX_TOML_NESTING + 1) + "]" * (MAX_TOML_NESTING + 1) + "\n"
    with pytest.raises(TomlNestingError):
        loads_toml(over)


def test_brackets_in_strings_and_comments_do_not_count():
    text = (
        'a = "[[[[{{{{"  # ]]]] [[[[[[\n'
        "b = '[[[[[['\n"
        'c = """\n[[[[[[[[ \\""" [[[[\n"""\n'
        "d = '''\n{{{{{{{{{{\n'''\n"
        'e = [[1, 2], {k = "]"}]\n'
        "[[t]]\n"
        '["quoted [key"]\n'
    )
    assert toml_nesting_depth(text) == 2
    assert loads_toml(text) == tomllib.loads(text)


def test_deep_dotted_header_is_not_nesting():
    text = "[" + ".".join(["a"] * 3_000) + "]\n"
    assert toml_nesting_depth(text) == 1
    loads_toml(text)  # parses (the scenario layer then names the unknown key)
