"""How much of each plugin venue lives outside its own files: the measure behind "a venue is a
plugin: new files, no edit to shared modules" (README, "Adding a venue").

For every plugin venue (:data:`PLUGIN_VENUES`): its *own files* are the Python files of ``risk/``,
``chain/`` and ``liqrisk/`` whose path names it (``chain/sky_vaults.py``, ``risk/venues/sky_vault.py``,
``chain/devnet/deploy_maker.py``, ...); every other Python file there is *shared*. The footprint is
the shared files, and their code lines (comments and docstrings dropped), that name the venue.

Measured with git on a commit, not on the working tree: the files are ``git ls-tree -r <rev>``'s and
their text ``git show <rev>:<path>``'s, so before and after are the same measure::

    .venv/bin/python -m tests.plugin_footprint            # HEAD
    .venv/bin/python -m tests.plugin_footprint 6db1d66    # any commit

``tests/chain/test_devnet_plugins.py`` asserts it is zero for every venue.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("risk", "chain", "liqrisk")


@dataclass(frozen=True)
class PluginVenue:
    name: str
    own_files: str
    """regex on the file path: the venue's own files"""
    names: str
    """regex (case-insensitive) on a code line: the line names the venue"""


PLUGIN_VENUES: tuple[PluginVenue, ...] = (
    PluginVenue("Sky", own_files=r"sky|maker", names=r"\bsky|\bdss\b|maker\b|\bilks?\b|\bclipper"),
    PluginVenue("Liquity v2", own_files=r"liquity", names=r"liquity|\btroves?\b"),
    PluginVenue("Euler v2", own_files=r"euler", names=r"euler|\bevc\b|\bevk\b"),
    PluginVenue("Fluid", own_files=r"fluid", names=r"fluid"),
    PluginVenue("Aave V4", own_files=r"aave_v4", names=r"aave_?v4|aave v4|\bspokes?\b"),
)


def code_lines(src: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of a module without comments, docstrings and blank lines."""
    drop: set[int] = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for st in node.body:
                if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str):
                    drop.update(range(st.lineno, (st.end_lineno or st.lineno) + 1))
    comments = {t.start[0]: t.start[1] for t in tokenize.generate_tokens(io.StringIO(src).readline)
                if t.type == tokenize.COMMENT}
    out = []
    for n, line in enumerate(src.splitlines(), 1):
        code = line[:comments.get(n, len(line))].rstrip()
        if n not in drop and code.strip():
            out.append((n, code))
    return out


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def python_files(rev: str | None = "HEAD") -> list[str]:
    """The Python files of risk/, chain/, liqrisk/ at ``rev`` (None: the working tree's files git
    tracks or would track: ``git ls-files --cached --others --exclude-standard``)."""
    if rev is None:
        names = _git("ls-files", "--cached", "--others", "--exclude-standard", "--", *PACKAGES).splitlines()
        names = [n for n in names if (ROOT / n).exists()]
    else:
        names = _git("ls-tree", "-r", "--name-only", rev, "--", *PACKAGES).splitlines()
    return sorted(n for n in names if n.endswith(".py"))


def _text(rev: str | None, path: str) -> str:
    return (ROOT / path).read_text() if rev is None else _git("show", f"{rev}:{path}")


def shared_files(venue: PluginVenue, files: list[str]) -> list[str]:
    """The files that are no plugin venue's own (one venue's file naming another is not counted:
    e.g. a Sky reader citing Liquity; the seam is about the shared modules)."""
    return [f for f in files if not any(re.search(v.own_files, f) for v in PLUGIN_VENUES)]


def footprint(rev: str | None = "HEAD") -> dict[str, dict[str, list[str]]]:
    """Per venue: shared file -> its code lines naming the venue, at ``rev`` (None: the working tree)."""
    files = python_files(rev)
    out: dict[str, dict[str, list[str]]] = {}
    for venue in PLUGIN_VENUES:
        pattern = re.compile(venue.names, re.IGNORECASE)
        hits: dict[str, list[str]] = {}
        for path in shared_files(venue, files):
            lines = [f"{n}: {c.strip()}" for n, c in code_lines(_text(rev, path)) if pattern.search(c)]
            if lines:
                hits[path] = lines
        out[venue.name] = hits
    return out


def main(argv: list[str]) -> int:
    rev = argv[0] if argv else "HEAD"
    print(f"plugin venues' code outside their own files at {rev} = {_git('rev-parse', '--short', rev).strip()} "
          f"(Python files of {', '.join(PACKAGES)}; comments and docstrings not counted)")
    for name, hits in footprint(rev).items():
        print(f"{name}: {len(hits)} shared files, {sum(len(v) for v in hits.values())} code lines")
        for path, lines in hits.items():
            for line in lines:
                print(f"    {path}:{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
