"""The CLI contract the README states: which command takes which shared flag (the README's table
is read and compared with the commands), what each flag means everywhere (--block refused where
there are no blocks, -q silent but for the result, --out the result's one destination, CSV with
every column), and every user error — missing anvil, unreachable RPC, a reader error — one
message and a non-zero exit, per command."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from liqrisk.cli import cli
from tests.stub_node import chain_only, stub_node

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "wsteth_depeg.toml"
SHARED = ("--source", "--rpc-url", "--block", "--format", "--seed", "--out", "-q")


def _commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[prefix + name] = command
    return found


def _readme_table() -> dict[str, dict[str, str]]:
    text = (ROOT / "README.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| command |"))
    flags = [c.strip().strip("`") for c in header.strip("|").split("|")][1:]
    table = {}
    for line in text.splitlines():
        match = re.match(r"^\| `([a-z ]+)` \|(.*)\|$", line)
        if match:
            cells = [c.strip() for c in match[2].split("|")]
            table[match[1]] = dict(zip(flags, cells))
    return table


def test_readme_flag_table_is_true() -> None:
    table = _readme_table()
    commands = _commands()
    assert sorted(table) == sorted(commands), "every command is in the README table, and only those"
    for name, command in commands.items():
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        for flag in SHARED:
            claimed = table[name][flag] != ""
            assert claimed == (flag in options), f"README says {name} {'takes' if claimed else 'lacks'} {flag}"
        out = next((p for p in command.params if "--out" in getattr(p, "opts", [])), None)
        if out is not None:  # "file" or "folder": what --out names
            assert table[name]["--out"] == ("folder" if out.type.dir_okay and not out.type.file_okay else "file"
                                            if not out.type.dir_okay else "folder"), name


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ETH_RPC_URL", raising=False)
    monkeypatch.delenv("LIQRISK_WEBHOOK_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: object, code: int | None = 0):
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result

    return invoke


READERS = {  # every command that reads positions, with the arguments it needs to run fast
    "scan": ["scan", "--source", "sample"],
    "bands": ["bands"],
    "cascade": ["cascade", "--drawdowns", "0.1,0.2"],
    "simulate": ["simulate", "--paths", "20", "--steps", "9"],
    "positions": ["positions", "--limit", "5"],
    "scenario run": ["scenario", "run", str(SCENARIO), "--source", "sample"],
    "report": ["report", "--paths", "0", "--no-charts"],
}


@pytest.mark.parametrize("name", sorted(READERS))
def test_block_on_the_sample_is_refused(run, name) -> None:
    result = run(*READERS[name], "--block", "5", code=1)
    assert "Error: --block 5: the synthetic sample has no blocks" in result.stderr


def test_block_on_a_snapshot_file_must_match(run, tmp_path) -> None:
    run("scan", "--source", "sample", "--out", tmp_path / "s.json", "-q")
    assert json.loads(run("bands", "--source", f"snapshot:{tmp_path / 's.json'}", "--block", "0",
                          "--format", "json").stdout)["block_number"] == 0
    result = run("bands", "--source", f"snapshot:{tmp_path / 's.json'}", "--block", "7", code=1)
    assert "is at block 0; a snapshot cannot be re-pinned" in result.stderr


QUIET = {
    **READERS,
    "scenario check": ["scenario", "check", str(SCENARIO)],
    "devnet status": ["devnet", "status"],
    "devnet down": ["devnet", "down"],
}


@pytest.mark.parametrize("name", sorted(QUIET))
def test_quiet_leaves_only_the_result(run, name, tmp_path) -> None:
    loud = run(*QUIET[name])
    quiet = run(*QUIET[name], "-q")
    assert quiet.stderr == "", f"{name} -q wrote to stderr: {quiet.stderr!r}"
    if name in READERS and name not in ("scan", "report"):
        assert "Using block 0" in loud.stderr  # the block line is there without -q
        assert quiet.stdout.strip() and quiet.stdout == loud.stdout  # the result is unchanged
    if name in ("scan", "report", "scenario check", "devnet down"):
        assert quiet.stdout == ""  # results in files (or nothing to report): silent


FILE_OUT = {
    "bands": ["bands", "--format", "csv"],
    "cascade": ["cascade", "--drawdowns", "0.1,0.2", "--format", "json"],
    "simulate": ["simulate", "--paths", "20", "--steps", "9", "--format", "json"],
    "positions": ["positions", "--limit", "5", "--format", "csv"],
    "scenario run": ["scenario", "run", str(SCENARIO), "--source", "sample", "--format", "json"],
    "bands table": ["bands"],
    "positions table": ["positions", "--limit", "5"],
}


@pytest.mark.parametrize("name", sorted(FILE_OUT))
def test_out_is_the_result_in_a_file(run, name, tmp_path) -> None:
    printed = run(*FILE_OUT[name], "-q").stdout
    out = tmp_path / "result.txt"
    written = run(*FILE_OUT[name], "--out", out, "-q")
    assert written.stdout == ""
    assert out.read_text() == printed


def test_runs_out_and_report_out_folder(run, tmp_path) -> None:
    run("report", "--out", tmp_path / "r", "--paths", "0", "--no-charts", "-q")
    printed = run("runs", tmp_path / "r", "--format", "json").stdout
    run("runs", tmp_path / "r", "--format", "json", "--out", tmp_path / "runs.json")
    assert json.loads((tmp_path / "runs.json").read_text()) == json.loads(printed)
    (tmp_path / "afile").write_text("x")
    result = run("report", "--out", tmp_path / "afile", "--paths", "0", code=1)
    assert f"--out {tmp_path / 'afile'}: is a file, not a folder" in result.stderr


def test_csv_keeps_every_column(run) -> None:
    bands = list(csv.DictReader(io.StringIO(run("bands", "--format", "csv").stdout)))
    doc = json.loads(run("bands", "--format", "json").stdout)
    assert set(bands[0]) == set(doc["rows"][0]) and "peak_usd" in bands[0] and "share_of_side" in bands[0]
    for row, full in zip(bands, doc["rows"]):
        assert float(row["peak_usd"]) == pytest.approx(full["peak_usd"])
        venues = dict(part.split("=") for part in row["venues"].split(";"))
        assert set(venues) == {v["venue"] for v in full["venues"]} <= {"aave_v30", "aave_v33", "morpho_blue",
                                                                         "compound_v3"}
        assert sum(map(float, venues.values())) == pytest.approx(sum(v["collateral_usd"] for v in full["venues"]),
                                                                 abs=0.05)
    cascade = list(csv.DictReader(io.StringIO(run("cascade", "--drawdowns", "0.1,0.2", "--format", "csv").stdout)))
    assert "seized_collateral_usd" in cascade[0] and float(cascade[1]["seized_collateral_usd"]) > 0
    scen = list(csv.DictReader(io.StringIO(run("scenario", "run", str(SCENARIO), "--source", "sample",
                                               "--format", "csv").stdout)))
    assert {"name", "file", "kind", "block_number", "liquidated_debt_usd", "bad_debt_usd"} <= set(scen[0])


# ----------------------------------------------------------------- user errors per command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RPC_READERS = {name: [*args[:1], *(["run", str(SCENARIO)] if name == "scenario run" else []), "--source", "rpc"]
               for name, args in READERS.items()}
RPC_READERS["scenario run"] = ["scenario", "run", str(SCENARIO), "--source", "rpc"]
RPC_READERS["report"] = ["report", "--source", "rpc", "--paths", "0", "--no-charts"]


@pytest.mark.parametrize("name", sorted(RPC_READERS))
def test_unreachable_rpc_is_one_message(run, name) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v2/secretkey123"
    result = run(*RPC_READERS[name], "--rpc-url", url, code=1)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "127.0.0.1" in result.stderr and "secretkey123" not in result.output


@pytest.fixture(scope="module")
def error_node():
    """A node that is mainnet for eth_chainId and fails every other call (a reader error)."""
    with stub_node(chain_only(1), path="/key/s3cr3tvalue") as url:
        yield url


@pytest.mark.parametrize("name", sorted(RPC_READERS))
def test_reader_error_is_one_message(run, name, error_node) -> None:
    result = run(*RPC_READERS[name], "--rpc-url", error_node, code=1)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "method not supported" in result.stderr and "s3cr3tvalue" not in result.output


@pytest.mark.parametrize("args", [["devnet", "up", "--borrowers", "5"], ["demo", "--borrowers", "5", "--paths", "5"],
                                  ["bands", "--source", "devnet"]])
def test_missing_anvil_is_one_message(run, args, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LIQRISK_ANVIL", str(tmp_path / "no-anvil"))
    result = run(*args, code=1)
    if args[-1] == "devnet":  # no devnet running: said before anvil is needed
        assert "Error: no devnet is running" in result.stderr
    else:
        assert f"Error: anvil not found at {tmp_path / 'no-anvil'}" in result.stderr
    assert result.stderr.count("\n") == 1


def test_setup_checks_node(run, monkeypatch, tmp_path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "node").write_text("#!/bin/sh\necho v18.19.0\n")
    (fake / "node").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}")
    result = run("setup", "--dir", tmp_path / "npm", code=1)
    assert "Node.js v18.19.0 found" in result.stderr and "needs Node.js >= 20" in result.stderr
    (fake / "node").unlink()
    result = run("setup", "--dir", tmp_path / "npm", code=1)
    assert "`node` is not on PATH" in result.stderr
