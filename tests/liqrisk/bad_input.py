"""The bad-input harness: run the real CLI on one malformed input and classify what happened.

Each :class:`Case` is a command line (``{tmp}`` stands for the case's own folder) plus the files
it needs there, and the texts the error must contain: the flag, or the file and the field. The
run goes through the ``liqrisk`` click group itself (what the console script's ``main`` calls), in
this process with stdout and stderr captured apart, and ends in exactly one of:

- ``clear``: a non-zero exit (1 for liqrisk's own errors, 2 for click's usage errors) with exactly
  one ``Error:`` message on stderr, containing every expected text, and no traceback;
- ``traceback``: an exception escaped, the exit code was 70 (liqrisk's "internal error") or a
  ``Traceback`` was printed;
- ``accepted``: exit code 0 — bad input taken as good;
- ``unclear``: a non-zero exit whose message is missing, doubled or does not name what is wrong.

Only ``clear`` passes. The counts of every outcome are kept in :data:`OUTCOMES` for the summary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

CLEAR, TRACEBACK, ACCEPTED, UNCLEAR = "clear", "traceback", "accepted", "unclear"
OUTCOMES: dict[str, dict[str, str]] = {}
"""case id -> {"outcome": ..., "suite": ...}, filled as cases run (the summary test prints it)."""

FileMaker = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One malformed input: ``args`` (``{tmp}`` = the case folder), ``files`` to create there
    first (name -> text, bytes or a callable making it), ``needles`` the error must contain
    (``{tmp}`` formatted too), extra ``env``."""

    id: str
    args: tuple[str, ...]
    needles: tuple[str, ...]
    files: Mapping[str, str | bytes | FileMaker] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


def make_files(folder: Path, files: Mapping[str, str | bytes | FileMaker]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@dataclass(frozen=True)
class Ran:
    outcome: str
    exit_code: int
    stdout: str
    stderr: str
    detail: str


def run_case(case: Case, folder: Path, env: Mapping[str, str] | None = None) -> Ran:
    """Run ``case`` in ``folder`` and classify it (see the module docstring)."""
    from liqrisk.cli import cli

    folder.mkdir(parents=True, exist_ok=True)
    make_files(folder, case.files)
    fmt = {"tmp": str(folder)}
    args = [a.format(**fmt) for a in case.args]
    needles = [n.format(**fmt) for n in case.needles]
    runner = CliRunner()
    result = runner.invoke(cli, args, env={**(env or {}), **case.env}, catch_exceptions=True, prog_name="liqrisk")
    out, err = result.stdout, result.stderr
    exc = result.exception
    if (exc is not None and not isinstance(exc, SystemExit)) or result.exit_code == 70 \
            or "Traceback" in out + err:
        import traceback

        tb = "".join(traceback.format_exception(exc)) if exc is not None and not isinstance(exc, SystemExit) else ""
        return Ran(TRACEBACK, result.exit_code, out, err, tb or err)
    if result.exit_code == 0:
        return Ran(ACCEPTED, 0, out, err, f"exit 0; stdout {out[:300]!r}; stderr {err[:300]!r}")
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    missing = [n for n in needles if n not in err]
    if len(errors) != 1 or missing or result.exit_code not in (1, 2):
        return Ran(UNCLEAR, result.exit_code, out, err,
                   f"exit {result.exit_code}, {len(errors)} Error line(s), missing {missing}: {err[-1500:]!r}")
    return Ran(CLEAR, result.exit_code, out, err, "")


def check_case(case: Case, folder: Path, suite: str, env: Mapping[str, str] | None = None) -> Ran:
    ran = run_case(case, folder, env)
    OUTCOMES[case.id] = {"outcome": ran.outcome, "suite": suite}
    assert ran.outcome == CLEAR, f"{case.id}: {ran.outcome}: {ran.detail}"
    return ran


def summary() -> str:
    by: dict[str, int] = {CLEAR: 0, TRACEBACK: 0, ACCEPTED: 0, UNCLEAR: 0}
    for o in OUTCOMES.values():
        by[o["outcome"]] += 1
    return (f"bad-input suite: {len(OUTCOMES)} cases, {by[CLEAR]} clear errors, {by[TRACEBACK]} tracebacks, "
            f"{by[ACCEPTED]} wrongly accepted, {by[UNCLEAR]} unclear")


def cases(*items: Case | Sequence[Case]) -> list[Case]:
    flat: list[Case] = []
    for item in items:
        flat.extend([item] if isinstance(item, Case) else item)
    ids = [c.id for c in flat]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate case ids {dup}"
    return flat


def fifo(path: Path) -> None:
    os.mkfifo(path)


def folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def C(id: str, *args: Any, needles: Sequence[str] = (), files: Mapping[str, Any] | None = None,
      env: Mapping[str, str] | None = None) -> Case:
    return Case(id, tuple(str(a) for a in args), tuple(needles), dict(files or {}), dict(env or {}))


__all__ = ["ACCEPTED", "C", "CLEAR", "Case", "OUTCOMES", "Ran", "TRACEBACK", "UNCLEAR", "cases", "check_case", "fifo",
           "folder", "make_files", "run_case", "summary"]
