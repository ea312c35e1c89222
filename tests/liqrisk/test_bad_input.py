"""Every bad input is one clear message and a non-zero exit, never a traceback (issue 13, item 4).

A catalogue of malformed inputs, each run through the real CLI (:mod:`tests.liqrisk.bad_input`):
scenario TOML (size and depth limits, wrong types, unknown fields, NaN/inf/negative/zero/huge in
every numeric field), every numeric CLI flag, resource limits checked before allocating (the Monte
Carlo's paths x steps x assets against the memory available, grid sizes), ``--block`` oddities,
unreachable and malformed RPC URLs, outputs that cannot be written (``/dev/full``, a FIFO, a
folder, a parent that is a file), corrupt or foreign SQLite files (run index, RPC cache, account
index), a truncated or foreign devnet state file, junk snapshot files. Each case names the flag
or the file and field its message must contain. The chain cases (a block past the head, before
the deployment) are in ``tests/chain/test_bad_input_devnet.py`` on the session devnet. The last
test prints the counts.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest

from tests.liqrisk.bad_input import C, cases, check_case, fifo, folder, summary
from tests.stub_node import chain_only, stub_node

# ------------------------------------------------------------------------------ scenario files

HEAD = 'name = "t"\n[driver]\nasset = "WETH"\n'
GRID = HEAD + '[shock]\nkind = "grid"\ndrawdowns = [0.1, 0.2]\n'
MC = HEAD + '[shock]\nkind = "monte_carlo"\npaths = 20\nsteps = 5\n'
PATH = HEAD + '[shock]\nkind = "path"\nreturns = [-0.05, -0.1]\n'


def _toml(id: str, body: str, *fields: str, command: str = "run") -> "object":
    """``scenario run`` (or check) of one TOML file ``s.toml``; the message names it and ``fields``."""
    return C(f"toml-{id}", "scenario", command, "{tmp}/s.toml", "-q",
             needles=("{tmp}/s.toml", *fields), files={"s.toml": body})


def _mc(id: str, lines: str, *fields: str) -> "object":
    return _toml(f"mc-{id}", MC + lines, *fields)


def _grid(id: str, shock: str, *fields: str) -> "object":
    return _toml(f"grid-{id}", HEAD + '[shock]\nkind = "grid"\n' + shock, *fields)


def _path(id: str, shock: str, *fields: str) -> "object":
    return _toml(f"path-{id}", HEAD + '[shock]\nkind = "path"\n' + shock, *fields)


def _liq(id: str, lines: str, *fields: str) -> "object":
    return _toml(f"liq-{id}", GRID + lines, *fields)


NUMBERS_BAD = {"nan": "nan", "inf": "inf", "-inf": "-inf"}

TOML_CASES = cases(
    # files that are not scenarios at all
    C("toml-missing-file", "scenario", "run", "{tmp}/nope.toml", needles=("{tmp}/nope.toml", "not found")),
    C("toml-is-a-folder", "scenario", "check", "{tmp}/d.toml", needles=("{tmp}/d.toml", "directory"),
      files={"d.toml": folder}),
    C("toml-is-a-fifo", "scenario", "check", "{tmp}/f.toml", needles=("{tmp}/f.toml", "not a regular file"),
      files={"f.toml": fifo}),
    C("toml-dev-zero", "scenario", "check", "/dev/zero", needles=("/dev/zero", "not a regular file")),
    _toml("empty", "", "driver", "required"),
    _toml("not-toml", "name = \n[", "not valid TOML"),
    _toml("binary", "\x00\x01\x02garbage", "not valid TOML"),
    C("toml-not-utf8", "scenario", "check", "{tmp}/s.toml", needles=("{tmp}/s.toml", "not valid TOML"),
      files={"s.toml": b'name = "\xff\xfe"\n'}),
    _toml("too-big", GRID + "# " + "x" * (1 << 20) + "\n", "byte limit"),
    _toml("rpc-url-env-not-a-name", GRID + '[source]\nkind = "rpc"\nrpc_url_env = "https://x.example/key"\n',
          "rpc_url_env", "pattern"),
    _toml("rpc-url-env-without-rpc", GRID + '[source]\nkind = "sample"\nrpc_url_env = "X_URL"\n',
          "rpc_url_env", "only used with kind = 'rpc'"),
    _toml("deep-arrays", "name = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply"),
    _toml("deep-tables", "x = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n", "nested too deeply"),
    _toml("deep-dotted", "[" + ".".join(["a"] * 3_000) + "]\n", "unknown key"),
    _toml("deep-in-field", HEAD + '[shock]\nkind = "grid"\ndrawdowns = ' + "[" * 900 + "]" * 900 + "\n",
          "nested too deeply"),
    _toml("duplicate-key", 'name = "again"\n' + GRID, "not valid TOML"),
    # wrong types
    _toml("name-int", GRID.replace('name = "t"', "name = 1"), "name", "string"),
    _toml("name-empty", GRID.replace('name = "t"', 'name = ""'), "name"),
    _toml("driver-asset-int", GRID.replace('asset = "WETH"', "asset = 5"), "driver.asset"),
    _toml("driver-asset-empty", GRID.replace('asset = "WETH"', 'asset = ""'), "driver.asset"),
    _toml("driver-not-table", 'name = "t"\ndriver = "WETH"\n[shock]\nkind = "grid"\ndrawdowns = [0.1]\n', "driver"),
    _toml("shock-missing", HEAD, "shock", "required"),
    _toml("shock-kind-unknown", HEAD + '[shock]\nkind = "crash"\n', "shock", "unknown kind"),
    _toml("shock-kind-missing", HEAD + '[shock]\ndrawdowns = [0.1]\n', "shock", "kind"),
    _toml("drawdowns-string", HEAD + '[shock]\nkind = "grid"\ndrawdowns = "0.1"\n', "shock.drawdowns"),
    _toml("drawdowns-strings", HEAD + '[shock]\nkind = "grid"\ndrawdowns = ["a"]\n', "shock.drawdowns"),
    _toml("mc-paths-float", MC.replace("paths = 20", "paths = 1.5"), "shock.paths"),
    _toml("mc-paths-string", MC.replace("paths = 20", 'paths = "20"'), "shock.paths"),
    _toml("mc-steps-bool", MC.replace("steps = 5", "steps = true"), "shock.steps"),
    _toml("mc-seed-string", MC + 'seed = "x"\n', "shock.seed"),
    _toml("mc-model-unknown", MC + 'model = "heston"\n', "shock.model"),
    _toml("mc-vol-string", MC + 'vol = { WETH = "high" }\n', "shock.vol"),
    _toml("betas-list", GRID.replace('asset = "WETH"\n', 'asset = "WETH"\nbetas = [1, 2]\n'), "driver.betas"),
    _toml("source-kind-unknown", GRID + '[source]\nkind = "mainnet"\n', "source.kind"),
    _toml("source-block-float", GRID + '[source]\nkind = "devnet"\nblock = 1.5\n', "source.block"),
    _toml("source-block-negative", GRID + '[source]\nkind = "devnet"\nblock = -1\n', "source.block"),
    _toml("source-block-pending", GRID + '[source]\nkind = "devnet"\nblock = "pending"\n', "source.block"),
    _toml("source-snapshot-no-path", GRID + '[source]\nkind = "snapshot"\n', "source", "path"),
    _toml("source-path-not-snapshot", GRID + '[source]\nkind = "sample"\npath = "x.json"\n', "source", "path"),
    C("toml-source-snapshot-missing", "scenario", "run", "{tmp}/s.toml", needles=("{tmp}/none.json", "not found"),
      files={"s.toml": GRID + '[source]\nkind = "snapshot"\npath = "none.json"\n'}),
    _toml("sample-positions-zero", GRID + '[source]\nsample_positions = 0\n', "source.sample_positions"),
    _toml("sample-positions-negative", GRID + '[source]\nsample_positions = -5\n', "source.sample_positions"),
    _toml("sample-positions-huge", GRID + '[source]\nsample_positions = 1000000000000\n', "source.sample_positions"),
    _toml("sample-positions-float", GRID + '[source]\nsample_positions = 1e3\n', "source.sample_positions"),
    _toml("sample-seed-negative", GRID + '[source]\nsample_seed = -1\n', "source.sample_seed"),
    _toml("outputs-bands-string", GRID + '[outputs]\nbands = "yes"\n', "outputs.bands"),
    _toml("references-string", GRID.replace('name = "t"\n', 'name = "t"\nreferences = "x"\n'), "references"),
    # unknown fields, at every level
    _toml("unknown-top", GRID + 'nmae = "x"\n', "nmae", "unknown key"),
    _toml("unknown-driver", GRID.replace('asset = "WETH"\n', 'asset = "WETH"\nbeta = 1\n'), "driver.beta",
          "unknown key"),
    _toml("unknown-shock", GRID + 'drawdown = 0.1\n', "shock.drawdown", "unknown key"),
    _toml("unknown-source", GRID + '[source]\nknd = "sample"\n', "source.knd", "unknown key"),
    _toml("unknown-liquidity", GRID + '[liquidity]\nmodle = "sqrt"\n', "liquidity.modle", "unknown key"),
    _toml("unknown-liquidity-asset", GRID + '[liquidity.assets.WETH]\nmodel = "sqrt"\nvolume = 1\n',
          "liquidity.assets.WETH.volume", "unknown key"),
    _toml("unknown-outputs", GRID + '[outputs]\ncharts = true\npng = true\n', "outputs.png", "unknown key"),
    _toml("unknown-mc", MC + 'path = 3\n', "shock.path", "unknown key"),
    _toml("unknown-correlation", MC + '[shock.correlation]\nassets = ["WETH"]\nmatrix = [[1.0]]\nrho = 1\n',
          "shock.correlation.rho", "unknown key"),
    # betas
    *[_toml(f"beta-{k}", GRID.replace('asset = "WETH"\n', f'asset = "WETH"\nbetas = {{ wstETH = {v} }}\n'),
            "driver.betas") for k, v in {**NUMBERS_BAD, "huge": "1e300", "11": "11", "-11": "-11"}.items()],
    # grid
    *[_grid(f"drawdown-{k}", f"drawdowns = [0.1, {v}]\n", "shock") for k, v in
      {**NUMBERS_BAD, "one": "1.0", "two": "2", "huge": "1e300", "rally-11": "-11", "-huge": "-1e300"}.items()],
    _grid("drawdowns-empty", "drawdowns = []\n", "shock", "empty"),
    _grid("drawdowns-too-many", "drawdowns = [" + ", ".join(["0.1"] * 10_001) + "]\n", "shock", "10,000"),
    _grid("start-negative", "start = -0.1\nstop = 0.5\nstep = 0.1\n", "shock", "start"),
    _grid("start-nan", "start = nan\nstop = 0.5\nstep = 0.1\n", "shock.start"),
    _grid("stop-inf", "start = 0.1\nstop = inf\nstep = 0.1\n", "shock.stop"),
    _grid("stop-below-start", "start = 0.5\nstop = 0.1\nstep = 0.1\n", "shock", "stop"),
    _grid("stop-one", "start = 0.5\nstop = 1.0\nstep = 0.1\n", "shock", "drawdown 1"),
    _grid("step-zero", "start = 0.1\nstop = 0.5\nstep = 0\n", "shock.step"),
    _grid("step-negative", "start = 0.1\nstop = 0.5\nstep = -0.1\n", "shock.step"),
    _grid("step-nan", "start = 0.1\nstop = 0.5\nstep = nan\n", "shock.step"),
    _grid("step-tiny", "start = 0.0\nstop = 0.5\nstep = 1e-12\n", "shock", "10,000"),
    _grid("step-without-start", "stop = 0.5\nstep = 0.1\n", "shock", "start"),
    _grid("both-forms", "drawdowns = [0.1]\nstart = 0.1\nstop = 0.2\nstep = 0.1\n", "shock", "not both"),
    # path
    *[_path(f"return-{k}", f"returns = [-0.1, {v}]\n", "shock") for k, v in
      {**NUMBERS_BAD, "minus-one": "-1.0", "minus-two": "-2"}.items()],
    _path("returns-empty", "returns = []\n", "shock.returns"),
    _path("hours-decreasing", "returns = [-0.1, -0.2]\nhours = [5.0, 2.0]\n", "shock", "increasing"),
    _path("hours-negative", "returns = [-0.1, -0.2]\nhours = [-1.0, 2.0]\n", "shock", "increasing"),
    _path("hours-nan", "returns = [-0.1, -0.2]\nhours = [1.0, nan]\n", "shock.hours"),
    _path("hours-length", "returns = [-0.1, -0.2]\nhours = [1.0]\n", "shock", "hours"),
    _path("hours-after-horizon", "returns = [-0.1, -0.2]\nhours = [1.0, 48.0]\n", "shock", "horizon_hours"),
    *[_path(f"horizon-{k}", f"returns = [-0.1]\nhorizon_hours = {v}\n", "shock.horizon_hours") for k, v in
      {**NUMBERS_BAD, "zero": "0", "negative": "-1"}.items()],
    _path("horizon-huge", "returns = [-0.1]\nhorizon_hours = 1e300\nsteps = 2\n", "shock.horizon_hours"),
    *[_path(f"steps-{k}", f"returns = [-0.1]\nsteps = {v}\n", "shock.steps") for k, v in
      {"one": "1", "zero": "0", "negative": "-3", "huge": "100000000", "float": "9.5"}.items()],
    _path("steps-fewer-than-points", "returns = [-0.1, -0.2, -0.3]\nsteps = 2\n", "shock", "steps"),
    _path("asset-series-nan", "returns = [-0.1, -0.2]\nassets = { WBTC = [0.0, nan] }\n", "shock"),
    _path("asset-series-length", "returns = [-0.1, -0.2]\nassets = { WBTC = [0.0] }\n", "shock", "assets.WBTC"),
    _path("asset-series-minus-one", "returns = [-0.1, -0.2]\nassets = { WBTC = [0.0, -1.0] }\n", "shock"),
    # Monte Carlo
    *[_mc(f"horizon-{k}", f"horizon_days = {v}\n", "shock.horizon_days") for k, v in
      {**NUMBERS_BAD, "zero": "0", "negative": "-1", "huge": "1e9"}.items()],
    *[_toml(f"mc-paths-{k}", MC.replace("paths = 20", f"paths = {v}"), "shock.paths") for k, v in
      {"zero": "0", "negative": "-1", "huge": "1000000000"}.items()],
    *[_toml(f"mc-steps-{k}", MC.replace("steps = 5", f"steps = {v}"), "shock.steps") for k, v in
      {"one": "1", "zero": "0", "negative": "-2", "huge": "1000000"}.items()],
    _toml("mc-memory-over-available", MC.replace("paths = 20", "paths = 10000000").replace("steps = 5", "steps = 100000"),
          "shock.paths", "shock.steps", "available"),
    *[_mc(f"vol-{k}", f"vol = {{ WETH = {v} }}\n", "shock.vol") for k, v in
      {**NUMBERS_BAD, "negative": "-0.5", "huge": "1e6"}.items()],
    *[_mc(f"drift-{k}", f"drift_annual = {v}\n", "shock.drift_annual") for k, v in
      {**NUMBERS_BAD, "huge": "1e300", "-huge": "-1e300"}.items()],
    *[_mc(f"dof-{k}", f'model = "student_t"\ndof = {v}\n', "shock.dof") for k, v in
      {**NUMBERS_BAD, "two": "2", "one": "1", "negative": "-4"}.items()],
    *[_mc(f"jump-intensity-{k}", f'model = "merton"\njump_intensity_per_day = {v}\n', "shock.jump_intensity_per_day")
      for k, v in {**NUMBERS_BAD, "negative": "-1", "huge": "1e12"}.items()],
    *[_mc(f"jump-mean-{k}", f'model = "merton"\njump_mean_log = {v}\n', "shock.jump_mean_log")
      for k, v in {**NUMBERS_BAD, "huge": "1e6", "-huge": "-1e6"}.items()],
    *[_mc(f"jump-std-{k}", f'model = "merton"\njump_std_log = {v}\n', "shock.jump_std_log")
      for k, v in {**NUMBERS_BAD, "negative": "-0.1", "huge": "1e6"}.items()],
    _mc("seed-negative", "seed = -1\n", "shock.seed"),
    _mc("corr-not-psd", '[shock.correlation]\nassets = ["WETH", "WBTC", "wstETH"]\n'
        "matrix = [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]\n", "shock.correlation"),
    _mc("corr-wrong-size", '[shock.correlation]\nassets = ["WETH", "WBTC"]\nmatrix = [[1.0]]\n', "shock.correlation"),
    _mc("corr-above-one", '[shock.correlation]\nassets = ["WETH", "WBTC"]\nmatrix = [[1.0, 1.5], [1.5, 1.0]]\n',
        "shock.correlation"),
    _mc("corr-nan", '[shock.correlation]\nassets = ["WETH", "WBTC"]\nmatrix = [[1.0, nan], [nan, 1.0]]\n',
        "shock.correlation"),
    _mc("corr-asymmetric", '[shock.correlation]\nassets = ["WETH", "WBTC"]\nmatrix = [[1.0, 0.2], [0.3, 1.0]]\n',
        "shock.correlation"),
    _mc("corr-duplicate-assets", '[shock.correlation]\nassets = ["WETH", "WETH"]\nmatrix = [[1.0, 0.2], [0.2, 1.0]]\n',
        "shock.correlation"),
    _mc("corr-empty", '[shock.correlation]\nassets = []\nmatrix = []\n', "shock.correlation"),
    # liquidity
    _liq("model-unknown", '[liquidity]\nmodel = "magic"\n', "liquidity.model"),
    _liq("asset-model-unknown", '[liquidity.assets.WETH]\nmodel = "magic"\n', "liquidity.assets.WETH"),
    *[_liq(f"depth-{k}", f'[liquidity.assets.WETH]\nmodel = "constant_depth"\ndepth_usd_per_pct = {v}\n',
           "liquidity.assets.WETH.depth_usd_per_pct") for k, v in {**NUMBERS_BAD, "zero": "0", "negative": "-1"}.items()],
    *[_liq(f"sqrt-y-{k}", f'[liquidity.assets.WETH]\nmodel = "sqrt"\ny = {v}\n', "liquidity.assets.WETH.y")
      for k, v in {**NUMBERS_BAD, "zero": "0", "negative": "-1", "huge": "1e300"}.items()],
    *[_liq(f"sqrt-vol-{k}", f'[liquidity.assets.WETH]\nmodel = "sqrt"\ndaily_volatility = {v}\n',
           "liquidity.assets.WETH.daily_volatility") for k, v in {**NUMBERS_BAD, "negative": "-0.1", "huge": "1e300"}.items()],
    *[_liq(f"sqrt-volume-{k}", f'[liquidity.assets.WETH]\nmodel = "sqrt"\ndaily_volume_usd = {v}\n',
           "liquidity.assets.WETH.daily_volume_usd") for k, v in {**NUMBERS_BAD, "zero": "0", "negative": "-1"}.items()],
    _liq("table-unsorted", '[liquidity.assets.WETH]\nmodel = "table"\nsizes_usd = [0, 2e6, 1e6]\nimpacts = [0, 0.1, 0.2]\n',
         "liquidity.assets.WETH"),
    _liq("table-impact-one", '[liquidity.assets.WETH]\nmodel = "table"\nsizes_usd = [0, 1e6]\nimpacts = [0, 1.0]\n',
         "liquidity.assets.WETH"),
    _liq("table-nan", '[liquidity.assets.WETH]\nmodel = "table"\nsizes_usd = [0, nan]\nimpacts = [0, 0.1]\n',
         "liquidity.assets.WETH.sizes_usd"),
    _liq("table-lengths", '[liquidity.assets.WETH]\nmodel = "table"\nsizes_usd = [0, 1e6, 2e6]\nimpacts = [0, 0.1]\n',
         "liquidity.assets.WETH"),
    _liq("table-not-from-zero", '[liquidity.assets.WETH]\nmodel = "table"\nsizes_usd = [1, 1e6]\nimpacts = [0, 0.1]\n',
         "liquidity.assets.WETH"),
    _liq("table-one-point", '[liquidity.assets.WETH]\nmodel = "table"\nsizes_usd = [0]\nimpacts = [0]\n',
         "liquidity.assets.WETH.sizes_usd"),
    *[_liq(f"cex-{k}", f'[liquidity]\nmodel = "onchain"\ncex_multiplier = {v}\n', "liquidity.cex_multiplier")
      for k, v in {**NUMBERS_BAD, "negative": "-1", "huge": "1e9"}.items()],
    _liq("onchain-without-pools", '[liquidity]\nmodel = "onchain"\n', "{tmp}/s.toml", "onchain", "Uniswap"),
    # the driver must be in the snapshot
    _toml("driver-unknown", GRID.replace('asset = "WETH"', 'asset = "DOGE"'), "driver asset 'DOGE'"),
)

# -------------------------------------------------------------------------------- CLI flags


def _flag(id: str, command: str, *args: str, needle: str | None = None) -> "object":
    """``command args -q``; the message must name ``needle`` (default: the first flag of ``args``,
    the one given the bad value)."""
    flag = needle or next(a for a in args if a.startswith("--"))
    return C(f"flag-{command.replace(' ', '-')}-{id}", *command.split(), *args, "-q", needles=(flag,))


FLAG_CASES = cases(
    # simulate
    *[_flag(f"paths-{v}", "simulate", "--paths", v) for v in ("-1", "0", "nan", "1e99", "abc", "10000001", "1.5", "")],
    *[_flag(f"steps-{v}", "simulate", "--steps", v) for v in ("1", "-5", "nan", "100001", "x")],
    *[_flag(f"horizon-{v}", "simulate", "--horizon-days", v) for v in ("0", "-1", "nan", "inf", "-inf", "1e9", "abc",
                                                                          "1e400", "3651")],
    *[_flag(f"seed-{v}", "simulate", "--seed", v, "--paths", "5", "--steps", "3") for v in ("abc", "1.5", "-1", "nan")],
    *[_flag(f"vol-{v}", "simulate", "--vol", v, "--paths", "5", "--steps", "3") for v in
      ("WETH=nan", "WETH=inf", "WETH=-0.5", "WETH=1e9", "WETH", "=0.5", "WETH=abc", "WETH=")],
    _flag("vol-unknown-asset", "simulate", "--vol", "DOGE=0.5", "--paths", "5", "--steps", "3"),
    *[_flag(f"beta-{v}", "simulate", "--beta", v, "--paths", "5", "--steps", "3") for v in
      ("wstETH=nan", "wstETH=inf", "wstETH=1e9", "wstETH", "=1", "DOGE=1")],
    _flag("model", "simulate", "--model", "heston"),
    _flag("driver", "simulate", "--driver", "DOGE", "--paths", "5", "--steps", "3"),
    _flag("memory-over-available", "simulate", "--paths", "10000000", "--steps", "100000", needle="available"),
    _flag("liquidity", "simulate", "--liquidity", "magic"),
    _flag("liquidity-onchain-no-pools", "simulate", "--liquidity", "onchain", "--paths", "5", "--steps", "3",
          needle="Uniswap"),
    _flag("format", "simulate", "--format", "xml"),
    # Dask scale-out (liqrisk/scaleout.py): refused before any work, one message each
    *[_flag(f"workers-{v}", "simulate", "--workers", v) for v in ("0", "-1", "x", "1.5", "1e9", "257")],
    _flag("scheduler-unreachable", "simulate", "--scheduler", "tcp://127.0.0.1:{port}", "--paths", "5", "--steps", "3"),
    _flag("scheduler-no-port", "simulate", "--scheduler", "tcp://127.0.0.1", "--paths", "5", "--steps", "3"),
    _flag("scheduler-malformed", "simulate", "--scheduler", "garbage:", "--paths", "5", "--steps", "3"),
    _flag("scheduler-protocol", "simulate", "--scheduler", "inproc://x", "--paths", "5", "--steps", "3"),
    _flag("scheduler-and-workers", "simulate", "--workers", "2", "--scheduler", "tcp://127.0.0.1:{port}"),
    C("flag-scenario-run-scheduler-unreachable", "scenario", "run", "{tmp}/s.toml", "--scheduler", "127.0.0.1:{port}",
      "-q", needles=("--scheduler", "cannot reach"), files={"s.toml": GRID}),
    # cascade
    *[_flag(f"drawdowns-{i}", "cascade", "--drawdowns", v) for i, v in enumerate(
        ("nan", "inf", "-inf", "1.5", "1", "", "0.1:0.05:0.01", "0:1e9:1e-9", "0.1:0.5:0", "0.1:0.5:-0.1",
         "-0.5:0.5:0.1", "a,b", "0.1,,nan", "10%,200%", "0.1:0.5", "0.1:0.2:0.3:0.4", "1e400", "-11", "::", ","))],
    *[_flag(f"beta-{v}", "cascade", "--beta", v, "--drawdowns", "0.1") for v in
      ("wstETH=nan", "wstETH=-inf", "wstETH=11", "wstETH=x", "x")],
    _flag("driver", "cascade", "--driver", "DOGE", "--drawdowns", "0.1"),
    _flag("liquidity", "cascade", "--liquidity", "magic"),
    _flag("png-folder", "cascade", "--png", "{tmp}", "--drawdowns", "0.1"),
    # bands
    _flag("asset", "bands", "--asset", "DOGE"),
    _flag("asset-empty", "bands", "--asset", ""),
    _flag("format", "bands", "--format", "yaml"),
    # positions
    *[_flag(f"hf-min-{v}", "positions", "--hf-min", v) for v in ("nan", "-1", "inf", "x")],
    *[_flag(f"hf-max-{v}", "positions", "--hf-max", v) for v in ("nan", "-0.5", "-inf")],
    _flag("hf-min-above-max", "positions", "--hf-min", "2", "--hf-max", "1"),
    _flag("limit-negative", "positions", "--limit", "-1"),
    _flag("limit-float", "positions", "--limit", "2.5"),
    _flag("parquet-no-out", "positions", "--format", "parquet"),
    _flag("market", "positions", "--market", "nowhere"),
    _flag("asset", "positions", "--asset", "DOGE"),
    _flag("venue", "positions", "--venue", "aave_v99"),
    _flag("side", "positions", "--side", "up"),
    # report
    *[_flag(f"paths-{v}", "report", "--paths", v, "--out", "{tmp}/r") for v in ("-1", "nan", "1e99", "x")],
    *[_flag(f"band-within-{v}", "report", "--alert-band-within", v, "--out", "{tmp}/r") for v in
      ("-0.1", "1.5", "nan", "inf")],
    *[_flag(f"band-min-usd-{v}", "report", "--alert-band-min-usd", v, "--out", "{tmp}/r") for v in ("-1", "inf", "nan")],
    *[_flag(f"drawdown-{v}", "report", "--alert-drawdown", v, "--out", "{tmp}/r") for v in ("0", "1.5", "-0.2", "nan")],
    *[_flag(f"cascade-usd-{v}", "report", "--alert-cascade-usd", v, "--out", "{tmp}/r") for v in ("nan", "-5", "inf")],
    *[_flag(f"every-{i}", "report", "--every", v, "--out", "{tmp}/r") for i, v in
      enumerate(("soon", "0", "-1s", "0s", "1e400s", "nan", "5x", "", "1e999"))],
    *[_flag(f"max-runs-{v}", "report", "--max-runs", v, "--out", "{tmp}/r", "--every", "1s") for v in ("0", "-1", "x")],
    *[_flag(f"webhook-{i}", "report", "--out", "{tmp}/r", "--paths", "0", "--no-charts", "--webhook-url", v,
            needle="--webhook-url") for i, v in
      enumerate(("ftp://hooks.example/x", "not a url", "http://", "file:///etc/passwd", "http://exa mple.com/x"))],
    _flag("webhook-format", "report", "--webhook-format", "teams", "--out", "{tmp}/r"),
    _flag("every-with-fixed-block", "report", "--out", "{tmp}/r", "--source", "devnet", "--every", "1m",
          "--block", "5", needle="--every"),
    _flag("scenario-missing", "report", "--out", "{tmp}/r", "--scenario", "{tmp}/none.toml", needle="{tmp}/none.toml"),
    _flag("driver", "report", "--driver", "DOGE", "--out", "{tmp}/r", "--paths", "0", "--no-charts"),
    # runs
    _flag("limit-zero", "runs", "{tmp}", "--limit", "0"),
    _flag("limit-negative", "runs", "{tmp}", "--limit", "-3"),
    C("flag-runs-root-missing", "runs", "{tmp}/none", needles=("{tmp}/none",)),
    C("flag-runs-root-is-file", "runs", "{tmp}/f", needles=("{tmp}/f",), files={"f": "x"}),
    C("flag-runs-no-index", "runs", "{tmp}", needles=("{tmp}/runs.sqlite", "no run index")),
    # devnet / demo
    *[_flag(f"port-{v}", "devnet up", "--port", v) for v in ("80", "70000", "abc", "-1", "0")],
    *[_flag(f"borrowers-{v}", "devnet up", "--borrowers", v) for v in ("0", "-1", "1e9", "20001", "x")],
    _flag("seed", "devnet up", "--seed", "x"),
    *[_flag(f"borrowers-{v}", "demo", "--borrowers", v) for v in ("0", "-5", "99999999")],
    *[_flag(f"paths-{v}", "demo", "--paths", v) for v in ("0", "nan")],
    _flag("scenario-missing", "demo", "--scenario", "{tmp}/none.toml", needle="{tmp}/none.toml"),
    _flag("format", "devnet status", "--format", "xml"),
    # --source / --block without a chain
    *[_flag(f"block-{i}", "bands", "--source", "rpc", "--rpc-url", "http://127.0.0.1:9", "--block", v,
            needle="--block") for i, v in enumerate(("yesterday", "-1", "0x", "0xzz", "1.5", "", "pending", "earliest",
                                                    "1e9", "-0x5", "9" * 400))],
    _flag("block-on-sample", "bands", "--block", "5"),
    *[_flag(f"source-{i}", "bands", "--source", v, needle="--source") for i, v in
      enumerate(("mainnet", "snapshot:", "snapshot:{tmp}/none.json", "{tmp}/none.json", "", "DEVNET"))],
    C("flag-source-folder", "bands", "--source", "snapshot:{tmp}", needles=("{tmp}",)),
    C("flag-source-dev-zero", "bands", "--source", "snapshot:/dev/zero", needles=("/dev/zero",)),
    C("flag-source-fifo", "bands", "--source", "snapshot:{tmp}/p.json", needles=("{tmp}/p.json", "not a regular file"),
      files={"p.json": fifo}),
    C("flag-no-rpc-url", "bands", "--source", "rpc", needles=("RPC URL",)),
)

# ------------------------------------------------------------------------------------ RPC URLs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SECRET = "s3cr3tKeyValue"
RPC_URL_CASES = cases(
    *[C(f"rpc-url-{i}", "bands", "--source", "rpc", "--rpc-url", url, needles=("--rpc-url",)) for i, url in enumerate((
        " ", "foo", "http://", "http://:8545", "http://127.0.0.1:99999", "http://127.0.0.1:-1", "http://127.0.0.1:abc",
        "ftp://127.0.0.1/x", "file:///etc/passwd", "http://[::1", "127.0.0.1:8545", "http://exa mple.com",
        "http://%zz/", "javascript:alert(1)", "http:///path-only",
        "http://127.0.0.1:8545:9", "http://" + "a" * 300 + ".com", "h ttp://127.0.0.1", f"//127.0.0.1:1/{SECRET}",
        "http://127.0.0.1:0", "mailto:x@example.com", "http://\u2603.com/", f"http://127.0.0.1:1/{SECRET} x",
        f"http://127.0.0.1:1/\t{SECRET}", "http://[zz::1]:1/", "http://127.0.0.1:65536/",
    ))],
    *[C(f"rpc-url-unreachable-{i}", "bands", "--source", "rpc", "--rpc-url", url, needles=("127.0.0.1",)) for i, url in
      enumerate((f"http://127.0.0.1:{{port}}/v2/{SECRET}", f"http://user:{SECRET}@127.0.0.1:{{port}}",
                 f"https://127.0.0.1:{{port}}/?key={SECRET}", f"http://127.0.0.1:{{port}}/#{SECRET}",
                 f"http://127.0.0.1:{{port}}/{SECRET}\n", f"http://127.0.0.1:{{port}}/" + "k" * 20_000))],
)


# ---------------------------------------------------------------------------------- outputs

OUTPUT_CASES = cases(
    *[C(f"out-{cmd}-{what}", *cmd.split(), *extra, "--out", path, "-q", needles=("--out", needle), files=files)
      for cmd, extra in (("bands", ()), ("cascade", ("--drawdowns", "0.1")), ("positions", ()),
                         ("simulate", ("--paths", "5", "--steps", "3")), ("scan", ("--source", "sample")),
                         ("scenario run", ("{tmp}/s.toml",)))
      for what, path, needle, files in (
          ("dev-full", "/dev/full", "character device", {}),
          ("folder", "{tmp}/d", "directory", {"d": folder}),
          ("fifo", "{tmp}/p", "FIFO", {"p": fifo}),
          ("parent-is-file", "{tmp}/f/x.json", "not a folder", {"f": "x"}),
      )
      for files in [{**files, "s.toml": GRID}]],
    *[C(f"out-png-{cmd}-{what}", *cmd.split(), *extra, "--png", path, "-q", needles=("--png", needle), files=files)
      for cmd, extra in (("bands", ()), ("cascade", ("--drawdowns", "0.1")), ("simulate", ("--paths", "5", "--steps", "3")))
      for what, path, needle, files in (
          ("dev-full", "/dev/full", "character device", {}),
          ("fifo", "{tmp}/p.png", "FIFO", {"p.png": fifo}),
          ("parent-is-file", "{tmp}/f/x.png", "not a folder", {"f": "x"}),
      )],
    *[C(f"out-report-{what}", "report", "--out", path, "--paths", "0", "-q", needles=("--out", needle), files=files)
      for what, path, needle, files in (
          ("dev-null", "/dev/null", "character device", {}), ("file", "{tmp}/f", "a file", {"f": "x"}),
          ("fifo", "{tmp}/p", "FIFO", {"p": fifo}), ("under-file", "{tmp}/f/r", "", {"f": "x"}))],
    # file systems that refuse files (procfs, sysfs): the write fails, said once, nothing left behind
    C("out-scan-procfs", "scan", "--source", "sample", "--out", "/proc/liqrisk-bad-input.json", "-q",
      needles=("--out /proc/liqrisk-bad-input.json", "cannot write")),
    C("out-cascade-procfs", "cascade", "--drawdowns", "0.1", "--out", "/proc/liqrisk-bad-input.csv", "-q",
      needles=("--out /proc/liqrisk-bad-input.csv", "cannot write")),
    C("out-report-procfs", "report", "--out", "/proc/liqrisk-bad-input", "--paths", "0", "-q",
      needles=("--out /proc/liqrisk-bad-input", "cannot create")),
    C("out-png-sysfs", "bands", "--png", "/sys/liqrisk-bad-input.png", "-q",
      needles=("--png /sys/liqrisk-bad-input.png", "cannot write")),
    C("out-demo-file", "demo", "--out", "{tmp}/f", needles=("--out", "a file"), files={"f": "x"}),
    C("out-scenario-report-file", "scenario", "run", "{tmp}/s.toml", "--report", "{tmp}/f", "-q",
      needles=("--report", "a file"), files={"f": "x", "s.toml": GRID}),
    C("out-parquet-dev-full", "positions", "--format", "parquet", "--out", "/dev/full",
      needles=("--out", "character device")),
    C("out-runs-dev-full", "runs", "{tmp}/r", "--out", "/dev/full", needles=("--out", "character device"),
      files={"r/runs.sqlite": lambda p: _valid_index(p)}),
)


def _valid_index(path: Path) -> None:
    from liqrisk.schedule import RunIndex

    RunIndex(path).close()


# ---------------------------------------------------------------------------- SQLite files


def _foreign_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE moz_places (id INTEGER, url TEXT)")
    db.commit()
    db.close()


def _other_app_id(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA application_id = 1234")
    db.execute("CREATE TABLE runs (x)")
    db.commit()
    db.close()


def _runs_other_columns(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, note TEXT)")
    db.commit()
    db.close()


def _truncated_sqlite(path: Path) -> None:
    _valid_index(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if len(data) > 200 else data[:100])


def _corrupt_pages(path: Path) -> None:
    _valid_index(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    for i in range(100, len(data)):
        data[i] = (data[i] * 7 + 13) % 256
    path.write_bytes(bytes(data))


JUNK_SQLITE = {
    "junk-bytes": b"this is not a database\n" * 100,
    "empty-header": b"SQLite format 3\x00" + b"\x00" * 84,
    "foreign-sqlite": _foreign_sqlite,
    "other-app-id": _other_app_id,
    "runs-other-columns": _runs_other_columns,
    "truncated": _truncated_sqlite,
    "corrupt-pages": _corrupt_pages,
    "folder": folder,
}

SQLITE_CASES = cases(
    *[C(f"run-index-report-{k}", "report", "--out", "{tmp}/r", "--paths", "0", "--no-charts", "-q",
        needles=("{tmp}/r/runs.sqlite", "run index"), files={"r/runs.sqlite": v}) for k, v in JUNK_SQLITE.items()],
    *[C(f"run-index-runs-{k}", "runs", "{tmp}/r", needles=("{tmp}/r/runs.sqlite", "run index"),
        files={"r/runs.sqlite": v}) for k, v in JUNK_SQLITE.items()],
)

# --------------------------------------------------------------------------- devnet state file

STATE = "cache/devnet/state.json"
_GOOD_STATE = {"pid": 999_999_999, "port": 8545, "rpc_url": "http://127.0.0.1:8545", "deployment": {}}
STATE_FILES = {
    "truncated": json.dumps(_GOOD_STATE)[:30],
    "empty": "",
    "not-object": "[1, 2, 3]",
    "binary": b"\xff\xfe\x00garbage",
    "pid-string": json.dumps({**_GOOD_STATE, "pid": "12"}),
    "pid-one": json.dumps({**_GOOD_STATE, "pid": 1}),
    "port-huge": json.dumps({**_GOOD_STATE, "port": 10**9}),
    "no-rpc-url": json.dumps({k: v for k, v in _GOOD_STATE.items() if k != "rpc_url"}),
    "deployment-list": json.dumps({**_GOOD_STATE, "deployment": []}),
    "folder": folder,
}
DEVNET_STATE_CASES = cases(
    *[C(f"devnet-state-{cmd.replace(' ', '-')}-{k}", *cmd.split(), needles=("{tmp}/" + STATE,), files={STATE: v})
      for cmd in ("bands --source devnet", "devnet status", "devnet down", "scan --source devnet")
      for k, v in STATE_FILES.items()],
)

# ------------------------------------------------------------------------------- snapshot files


def _snapshot(**changes: object) -> dict:
    from risk.sample import sample_snapshot

    doc = json.loads(sample_snapshot(6, seed=7).to_json())
    doc.update(changes)
    return doc


def _snap_file(mutate) -> "object":
    def make(path: Path) -> None:
        doc = _snapshot()
        mutate(doc)
        path.write_text(json.dumps(doc))
    return make


def _dup_position(doc: dict) -> None:
    doc["positions"].append(dict(doc["positions"][0]))


def _set(path: str, value: object):
    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return mutate


_DELETE = object()

SNAPSHOT_JUNK = {
    "not-json": "{not json",
    "empty": "",
    "array": "[]",
    "string": '"snapshot"',
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
    "utf16": json.dumps({"chain_id": 1}).encode("utf-16"),
    "deep": "[" * 100_000 + "]" * 100_000,
    "duplicated-position": _snap_file(_dup_position),
    "missing-positions": _snap_file(_set("positions", _DELETE)),
    "missing-chain-id": _snap_file(_set("chain_id", _DELETE)),
    "missing-block": _snap_file(_set("block_number", _DELETE)),
    "unknown-field": _snap_file(_set("version", 2)),
    "venue-unknown": _snap_file(_set("markets.0.venue", "aave_v99")),
    "price-negative": _snap_file(_set("assets.0.price_usd", -1.0)),
    "price-zero": _snap_file(_set("assets.0.price_usd", 0)),
    "price-string": _snap_file(_set("assets.0.price_usd", "2000")),
    "decimals-huge": _snap_file(_set("assets.0.decimals", 99)),
    "address-bad": _snap_file(_set("assets.0.address", "0x123")),
    "amount-negative": _snap_file(lambda d: d["positions"][0]["collateral"].update(
        {k: -5 for k in d["positions"][0]["collateral"]})),
    "amount-float": _snap_file(lambda d: d["positions"][0]["collateral"].update(
        {k: 1.5 for k in d["positions"][0]["collateral"]})),
    "position-unknown-market": _snap_file(_set("positions.0.market", "nowhere")),
    "position-unknown-asset": _snap_file(lambda d: d["positions"][0]["collateral"].update({"DOGE": 5})),
    "duplicate-asset": _snap_file(lambda d: d["assets"].append(dict(d["assets"][0]))),
    "duplicate-market": _snap_file(lambda d: d["markets"].append(dict(d["markets"][0]))),
    "lt-above-one": _snap_file(_set("markets.0.reserves.0.liquidation_threshold_wad", 2 * 10**18)),
    "chain-id-zero": _snap_file(_set("chain_id", 0)),
    "block-negative": _snap_file(_set("block_number", -1)),
}
SNAPSHOT_CASES = cases(
    *[C(f"snapshot-{cmd}-{k}", cmd, "--source", "snapshot:{tmp}/snap.json", "-q", needles=("{tmp}/snap.json",),
        files={"snap.json": v}) for cmd in ("bands",) for k, v in SNAPSHOT_JUNK.items()],
    *[C(f"snapshot-scenario-{k}", "scenario", "run", "{tmp}/s.toml", "-q", needles=("snap.json",),
        files={"snap.json": v, "s.toml": GRID + '[source]\nkind = "snapshot"\npath = "snap.json"\n'})
      for k, v in list(SNAPSHOT_JUNK.items())[:8]],
)

# ------------------------------------------------------------------------------------- the tests

ALL = {"toml": TOML_CASES, "flags": FLAG_CASES, "rpc-url": RPC_URL_CASES, "outputs": OUTPUT_CASES,
       "sqlite": SQLITE_CASES, "devnet-state": DEVNET_STATE_CASES, "snapshot": SNAPSHOT_CASES}
FLAT = [(suite, c) for suite, group in ALL.items() for c in group]
assert len({c.id for _, c in FLAT}) == len(FLAT), "case ids must be unique"


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("ETH_RPC_URL", "LIQRISK_WEBHOOK_URL", "LIQRISK_DEBUG", "DASK_SCHEDULER_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path / "cache"))
    return {"LIQRISK_CACHE_DIR": str(tmp_path / "cache")}


@pytest.mark.parametrize(("suite", "case"), FLAT, ids=[c.id for _, c in FLAT])
def test_bad_input_is_one_clear_error(suite, case, tmp_path, env):
    if any("{port}" in a for a in case.args):  # a closed loopback port: nothing listens there
        from dataclasses import replace

        port = str(_free_port())
        case = replace(case, args=tuple(a.replace("{port}", port) for a in case.args))
    ran = check_case(case, tmp_path, suite, env)
    assert SECRET not in ran.stdout + ran.stderr, "an RPC key was printed"


@pytest.fixture(scope="module")
def mainnet_node():
    """Says chain 1 to eth_chainId (enough to reach the RPC cache) and errors otherwise."""
    with stub_node(chain_only(1, block_number=0x10, message="not here"), path=f"/v3/{SECRET}") as url:
        yield url


CACHE_CASES = [(name, k) for name in ("rpc-cache.sqlite", "accounts.sqlite") for k in JUNK_SQLITE]


@pytest.mark.parametrize(("name", "junk"), CACHE_CASES, ids=[f"{n.split('.')[0]}-{k}" for n, k in CACHE_CASES])
def test_corrupt_rpc_cache_or_account_index_is_named(name, junk, tmp_path, env, mainnet_node):
    """--source rpc with a corrupt/foreign RPC cache or account index: the file is named, with how to recover."""
    case = C(f"cache-{name.split('.')[0]}-{junk}", "bands", "--source", "rpc", "--rpc-url", mainnet_node, "-q",
             needles=(f"{{tmp}}/cache/{name}", "delete" if junk != "folder" else "regular file"),
             files={f"cache/{name}": JUNK_SQLITE[junk]})
    ran = check_case(case, tmp_path, "sqlite", env)
    assert SECRET not in ran.stdout + ran.stderr


def test_a_few_cases_through_the_console_script(tmp_path):
    """The installed entry point behaves as the in-process runs do (exit code, one Error line)."""
    import os
    import subprocess
    import sys

    script = Path(sys.executable).parent / "liqrisk"
    env = {**os.environ, "LIQRISK_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("ETH_RPC_URL", None)
    (tmp_path / "s.toml").write_text("name = " + "[" * 50_000 + "]" * 50_000 + "\n")
    for args, needle in ((["simulate", "--horizon-days", "nan"], "--horizon-days"),
                         (["scenario", "check", str(tmp_path / "s.toml")], "nested too deeply"),
                         (["scan", "--source", "sample", "--out", "/dev/full"], "character device")):
        proc = subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode in (1, 2), (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.count("Error:") == 1 and needle in proc.stderr, proc.stderr


def test_zz_bad_input_counts(capsys):
    """The counts (printed): every case ran is a clear error; no traceback, none accepted."""
    from tests.liqrisk.bad_input import OUTCOMES

    if not OUTCOMES:
        pytest.skip("no case ran")
    with capsys.disabled():
        print("\n" + summary())
    assert all(o["outcome"] == "clear" for o in OUTCOMES.values()), summary()


def test_monte_carlo_memory_is_checked_against_what_is_available() -> None:
    """The check itself, at its boundary (the catalogue's cases exceed any machine)."""
    from liqrisk.errors import LiqriskUserError
    from liqrisk.run import PATHS_PEAK_COPIES, check_paths_memory

    need = PATHS_PEAK_COPIES * 8 * 1_000 * 97 * 6
    check_paths_memory(1_000, 97, 6, "x", available_bytes=need)  # exactly enough: accepted
    with pytest.raises(LiqriskUserError, match=r"x: a Monte Carlo of 1,000 paths x 97 steps x 6 assets .* available"):
        check_paths_memory(1_000, 97, 6, "x", available_bytes=need - 1)
