"""``liqrisk``: the command line, a thin shell over ``risk/`` and ``chain/``.

Conventions (every command; the README's flag table is tested against them):
- Options come from shared factories (``source_option``, ``rpc_option``, ``block_option``,
  ``format_option``, ``seed_option``, ``out_option``, ``quiet_option``) so a flag means the same
  thing wherever it appears:
  ``--source``/``--rpc-url``/``--block`` choose the positions (``--block`` only where there are
  blocks: devnet and rpc), ``--format`` the shape of the result, ``--seed`` the randomness,
  ``--out`` where the command's result goes (a file for one document — default stdout, or
  ``snapshot-<block>.json`` for scan — and a folder for report and demo), ``-q`` silences
  everything but the result and errors.
- The block actually used is printed to stderr (so ``--format json`` stays parseable) unless -q.
- RPC URLs are only ever shown masked.
- A user error ends with ``Error: <one clear message>`` and exit code 1, never a traceback: the
  application's and chain's error types are turned into a ``click.ClickException`` in one place
  (:class:`LiqriskGroup`); a bad option value is click's usage error (exit 2). Anything else is a
  bug: one ``internal error`` line and exit 70 (``LIQRISK_DEBUG=1`` shows the traceback).
- Heavy imports (numpy, scipy, matplotlib, web3, pydantic models) happen inside the commands, so
  ``liqrisk --help`` is instant.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

FORMATS = ("table", "json", "csv")
SOURCES_HELP = "devnet | rpc | sample | snapshot:FILE (a Snapshot JSON file)"
INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE


# ------------------------------------------------------------------------------ errors


# (module, class) of every error a user can fix; looked up lazily so --help imports nothing.
USER_ERRORS = (
    ("liqrisk.errors", "LiqriskUserError"),
    ("chain.anvil", "AnvilError"),
    ("chain.locations", "SetupError"),
    ("chain.locations", "UnsupportedPlatform"),
    ("chain.devnet.core", "DevnetError"),
    ("chain.devnet.rpc", "DevnetRpcError"),
    ("chain.transport", "RpcError"),
    ("chain.cache", "CacheError"),
    ("chain.store", "StoreFileError"),
    ("chain.aave_v3", "ReaderError"),
    ("chain.multicall", "MulticallError"),
    ("chain.blocks", "PinnedReadError"),
    ("chain.markets", "MarketFileError"),
    ("chain.errors", "ChainError"),
)


def _user_error_types() -> tuple[type[BaseException], ...]:
    found = []
    for module, name in USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def _user_message(exc: BaseException) -> str:
    from liqrisk.errors import LiqriskUserError

    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, LiqriskUserError):
        return text
    if type(exc).__module__.startswith("chain.transport"):
        return f"RPC: {text}"
    return text


class LiqriskGroup(click.Group):
    """Turns user errors raised anywhere below into one ``Error: ...`` line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is None:
            _quiet_library_logs()
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if isinstance(exc, _user_error_types()):
                raise click.ClickException(_user_message(exc)) from None
            if isinstance(exc, MemoryError):
                raise click.ClickException("out of memory: lower --paths/--steps or the snapshot size") from None
            if isinstance(exc, RecursionError):
                raise click.ClickException("input nested too deeply") from None
            if os.environ.get("LIQRISK_DEBUG") or ctx.parent is not None:
                raise  # inner groups leave the decision to the top-level group
            click.echo(f"Error: internal error ({type(exc).__name__}: {exc}); this is a liqrisk bug — please "
                       "report it (LIQRISK_DEBUG=1 shows the traceback)", err=True)
            ctx.exit(INTERNAL_ERROR_EXIT)


def _quiet_library_logs() -> None:
    """Library log records (retries, failed runs) are not printed by Python's last-resort handler:
    the CLI says what matters itself, once, and -q must stay silent."""
    import logging

    for name in ("liqrisk", "chain", "risk"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())


def _fail(message: str) -> Any:
    from liqrisk.errors import LiqriskUserError

    raise LiqriskUserError(message)


class _RuleChoice(click.Choice):  # type: ignore[type-arg]
    """``click.Choice`` over the registered liquidation rules (:mod:`risk.rules`, plugins included),
    read when first used: defining the option does not import the engine at CLI start-up (``click.Choice``
    copies its choices into a tuple at construction)."""

    def __init__(self) -> None:
        self.case_sensitive = True

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        from risk.rules import RULE_NAMES

        return RULE_NAMES

    @choices.setter
    def choices(self, _value: Any) -> None:  # click.Choice.__init__ would set it; never called here
        raise AttributeError("the rule choices come from risk.rules")


def _rule_names() -> click.Choice:  # type: ignore[type-arg]
    return _RuleChoice()


class FiniteFloat(click.ParamType):
    """A float that is finite (no nan/inf) and within ``[lo, hi]`` (``lo_open``: strictly above)."""

    name = "number"

    def __init__(self, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False) -> None:
        self.lo, self.hi, self.lo_open = lo, hi, lo_open

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(str(value).strip().rstrip("%")) / (100 if str(value).strip().endswith("%") else 1)
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.lo is not None and (number < self.lo or (self.lo_open and number == self.lo)):
            self.fail(f"{value} must be {'>' if self.lo_open else '>='} {self.lo:g}", param, ctx)
        if self.hi is not None and number > self.hi:
            self.fail(f"{value} must be <= {self.hi:g}", param, ctx)
        return number


# ---------------------------------------------------------------------- option factories


def source_option(default: str | None = "sample") -> Callable:
    return click.option("--source", "source", default=default, show_default=default is not None, metavar="SOURCE",
                        help=f"Where positions come from: {SOURCES_HELP}.")


MARKETS_META = "liqrisk.markets_file"


def _keep_markets_file(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.meta[MARKETS_META] = value


def rpc_option(f: Callable) -> Callable:
    f = click.option("--markets", "markets_file", envvar="LIQRISK_MARKETS", show_envvar=True, default=None,
                     metavar="FILE", type=click.Path(path_type=Path, dir_okay=False), expose_value=False,
                     callback=_keep_markets_file,
                     help="Market file for --source rpc (networks and markets; default the shipped "
                          "chain/data/markets.toml). The node's chain id picks the network.")(f)
    return click.option("--rpc-url", envvar="ETH_RPC_URL", show_envvar=True, default=None, metavar="URL",
                        help="JSON-RPC endpoint for --source rpc (default $ETH_RPC_URL). Only ever shown masked.")(f)


def block_option(f: Callable) -> Callable:
    return click.option("--block", default=None, metavar="BLOCK",
                        help="Block number or tag (latest|safe|finalized), resolved once and pinned. "
                             "Default: the scenario's, else latest.")(f)


def format_option(f: Callable) -> Callable:
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="Output format.")(f)


def seed_option(f: Callable) -> Callable:
    return click.option("--seed", type=click.IntRange(0), default=None,
                        help="RNG seed, an integer >= 0 (overrides the scenario's).")(f)


def out_option(default: str | None = None, help_text: str = "Write the result to this file instead of stdout "
                                                             "(a regular file; replaced atomically).") -> Callable:
    return click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=default is not None), default=default,
                        show_default=default is not None, help=help_text)


def png_option(what: str) -> Callable:
    return click.option("--png", type=click.Path(path_type=Path, dir_okay=False), default=None,
                        help=f"Also write the {what} chart (PNG file).")


def quiet_option(f: Callable) -> Callable:
    return click.option("-q", "--quiet", is_flag=True,
                        help="Only the result (stdout or --out) and errors: no progress, status or block lines.")(f)


def driver_options(f: Callable) -> Callable:
    f = click.option("--beta", "betas", multiple=True, metavar="SYMBOL=BETA",
                     help="Beta of an asset to the driver (repeatable). Default: wstETH/stETH/weETH 1, WBTC/cbBTC 0.8 "
                          "for an ETH driver.")(f)
    return click.option("--driver", default="WETH", show_default=True, help="Asset whose price moves.")(f)


def liquidity_option(f: Callable) -> Callable:
    return click.option("--liquidity", type=click.Choice(("constant_depth", "sqrt", "none", "onchain")),
                        default="constant_depth", show_default=True,
                        help="Price-impact model (risk.liquidity defaults per asset; onchain = the snapshot's "
                             "Uniswap v3 pools at its block, with the stated CEX depth multiplier).")(f)


def cluster_options(f: Callable) -> Callable:
    """``--workers N`` (embedded Dask LocalCluster) / ``--scheduler ADDRESS`` (an existing one)."""
    f = click.option("--scheduler", envvar="DASK_SCHEDULER_ADDRESS", show_envvar=True, default=None,
                     metavar="ADDRESS", help="Run on the Dask cluster of this scheduler (tcp://HOST:PORT); "
                     "its workers need liqrisk installed. Same result for a seed as without.")(f)
    return click.option("--workers", type=click.IntRange(1, 256), default=None, metavar="N",
                        help="Run on an embedded Dask cluster of N worker processes (default: this process "
                             "only). Same result for a seed whatever N.")(f)


@contextmanager
def _cluster(workers: int | None, scheduler: str | None, quiet: bool) -> Iterator[Any]:
    """The runner of ``--workers``/``--scheduler`` (:func:`liqrisk.scaleout.open_runner`); an explicit
    ``--workers`` wins over a scheduler given only by ``DASK_SCHEDULER_ADDRESS``."""
    ctx = click.get_current_context(silent=True)
    if workers is not None and scheduler and ctx is not None:
        if ctx.get_parameter_source("scheduler") == click.core.ParameterSource.ENVIRONMENT:
            scheduler = None
    if workers is None and not scheduler:
        from liqrisk.scaleout import InProcess

        yield InProcess()
        return
    from contextlib import ExitStack

    from liqrisk.scaleout import open_runner

    with ExitStack() as stack:
        with _status("starting Dask workers" if workers else "connecting to the Dask scheduler", quiet):
            runner = stack.enter_context(open_runner(workers, scheduler))
        _say(quiet)(f"Running on Dask: {runner.description}")
        yield runner


# ----------------------------------------------------------------------------- helpers


def _parse_block(block: str | None) -> int | str | None:
    if block is None:
        return None
    text = block.strip().lower()
    if text in ("latest", "safe", "finalized"):
        return text
    try:
        number = int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        _fail(f"--block: expected a number or latest|safe|finalized, got {block!r}")
    if number < 0:
        _fail("--block: must be >= 0")
    if number >= 2**63:  # block numbers are uint64 on the node side; far beyond any chain's head
        _fail(f"--block: {number} is not a block number (must be below 2^63)")
    return number


def _source_spec(source: str, scenario_source: Any = None) -> Any:
    """A SourceSpec from ``--source`` (falls back to the scenario's when ``source`` is None)."""
    from liqrisk.scenario import SourceSpec

    if source is None:
        return scenario_source or SourceSpec()
    text = source.strip()
    if text in ("devnet", "rpc", "sample"):
        return SourceSpec(kind=text)  # type: ignore[arg-type]
    path = text.removeprefix("snapshot:")
    if text.startswith("snapshot:") or text.endswith(".json") or Path(path).is_file():
        if not path or not os.path.lexists(path):
            _fail(f"--source: snapshot file not found: {path or '(no path after snapshot:)'}")
        # anything that exists but is not a regular file (FIFO, device, folder) is refused
        # by the snapshot reader itself, with what it is
        return SourceSpec(kind="snapshot", path=str(Path(path).resolve()))
    _fail(f"--source: expected {SOURCES_HELP}, got {source!r}")


def _load(source: Any, *, rpc_url: str | None, block: Any, quiet: bool, base_dir: Path | None = None) -> Any:
    from liqrisk.sources import load_source

    pinned = _parse_block(block) if isinstance(block, str) else block
    if block is not None and source.kind == "sample":
        _fail(f"--block {block}: the synthetic sample has no blocks; --block applies to --source devnet or rpc")
    context = click.get_current_context(silent=True)
    markets_file = context.meta.get(MARKETS_META) if context is not None else None
    if markets_file is not None and source.kind != "rpc":
        _fail(f"--markets {markets_file}: the market file applies to --source rpc (source is {source.kind})")
    with _status(f"reading positions ({source.kind})", quiet):
        loaded = load_source(source, rpc_url=rpc_url, block=pinned, base_dir=base_dir, markets_file=markets_file)
    if source.kind == "snapshot" and block is not None and pinned != loaded.snapshot.block_number:
        _fail(f"--block {block}: the snapshot file {source.path} is at block {loaded.snapshot.block_number:,}; "
              "a snapshot cannot be re-pinned (scan again with --block)")
    _say_block(loaded, quiet)
    return loaded


def _say_block(loaded: Any, quiet: bool = False) -> None:
    """The block actually used (stderr keeps JSON/CSV on stdout clean); silenced by -q."""
    if not quiet:
        click.echo(f"Using {loaded.block_line}; {len(loaded.snapshot.positions):,} positions", err=True)


def _say(quiet: bool) -> Callable[[str], None]:
    """A status-line printer (stderr) that -q silences."""
    return (lambda _m: None) if quiet else (lambda m: click.echo(m, err=True))


def _deliver(text: str, out: Path | None, quiet: bool) -> None:
    """The command's result: to stdout, or to ``--out`` (a regular file, written atomically)."""
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from liqrisk.output import write_output

    write_output(out, text if text.endswith("\n") else text + "\n", "--out")
    _say(quiet)(f"Wrote {out}")


def _precheck_outputs(**paths: Path | None) -> None:
    """Refuse unusable output paths before any work (``png=...`` checks ``--png``)."""
    from liqrisk.output import check_output_file

    for name, path in paths.items():
        if path is not None:
            check_output_file(path, f"--{name.replace('_', '-')}")


def _console(stderr: bool = False, file: Any = None) -> Any:
    from rich.console import Console

    width = 150 if file is not None or not sys.stdout.isatty() else None
    return Console(stderr=stderr, file=file, highlight=False, soft_wrap=False, width=width,
                   force_terminal=False if file is not None else None, color_system=None if file is not None else "auto")


def _show_progress(quiet: bool) -> bool:
    """Progress bars only on an interactive terminal (cron logs and pipes stay clean)."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def _status(text: str, quiet: bool) -> Iterator[None]:
    if not _show_progress(quiet):
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=_console(True),
                  transient=True) as progress:
        progress.add_task(text, total=None)
        yield


@contextmanager
def _progress_bars(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """``update(task_name, done, total)`` drawing one rich bar per task (no-op with --quiet)."""
    if not _show_progress(quiet):
        yield lambda _name, _done, _total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=_console(True), transient=True) as progress:
        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done)

        yield update


def _kv(pairs: Sequence[str], what: str) -> dict[str, float]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            number = float(value)
        except ValueError:
            _fail(f"{what}: expected SYMBOL=NUMBER, got {pair!r}")
        if not math.isfinite(number):
            _fail(f"{what}: {pair!r} is not a finite number")
        out[key.strip()] = number
    return out


def _drawdowns(text: str) -> list[float]:
    """``0.05:0.6:0.05`` (start:stop:step, stop included) or ``0.1,0.2,0.3``; percents allowed (``10%``).

    Validated by the scenario format's own rules (:class:`~liqrisk.scenario.GridShock`)."""
    from pydantic import ValidationError

    from liqrisk.scenario import GridShock

    def num(t: str) -> float:
        t = t.strip()
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
        if not math.isfinite(value):
            raise ValueError
        return value

    try:
        if ":" in text:
            start, stop, step = (num(t) for t in text.split(":"))
            fields: dict[str, Any] = {"start": start, "stop": stop, "step": step}
        else:
            fields = {"drawdowns": [num(t) for t in text.split(",") if t.strip()]}
    except ValueError:
        _fail(f"--drawdowns: expected start:stop:step or a comma list of finite fractions, got {text!r}")
    try:
        return GridShock(kind="grid", **fields).grid()
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        _fail(f"--drawdowns {text}: {problems}")


def _book(loaded: Any) -> Any:
    from risk.book import PositionBook

    return PositionBook.from_snapshot(loaded.snapshot)


def _need_asset(book: Any, symbol: str, option: str) -> None:
    if symbol not in book.symbols:
        _fail(f"{option}: asset {symbol!r} is not in the snapshot (it has {', '.join(book.symbols)})")


def _betas(book: Any, driver: str, given: Sequence[str]) -> dict[str, float]:
    from liqrisk.report import DEFAULT_BETAS

    betas = _kv(given, "--beta") if given else {k: v for k, v in DEFAULT_BETAS.items() if driver in ("WETH", "ETH")}
    unknown = sorted(set(betas) - set(book.symbols))
    if given and unknown:
        _fail(f"--beta: asset(s) {', '.join(unknown)} not in the snapshot (it has {', '.join(book.symbols)})")
    from pydantic import ValidationError

    from liqrisk.scenario import DriverSpec

    try:  # the scenario format's own rules for betas (finite, within [-10, 10])
        DriverSpec(asset=driver, betas=betas)
    except ValidationError as exc:
        _fail_options(exc, {"betas": "--beta"})
    return {k: v for k, v in betas.items() if k in book.symbols}


def _fail_options(exc: Any, flags: dict[str, str]) -> Any:
    """A pydantic ValidationError of a model built from options, as one message naming each
    option (``flags``: model field -> flag)."""
    problems = []
    for item in exc.errors():
        loc = [str(p) for p in item.get("loc", ())]
        flag = flags.get(loc[0], "--" + loc[0].replace("_", "-")) if loc else "options"
        problems.append(f"{flag}: {item.get('msg', '').removeprefix('Value error, ')}")
    _fail("; ".join(problems))


SIMULATE_FLAGS = {"vol": "--vol", "horizon_days": "--horizon-days", "steps": "--steps", "paths": "--paths",
                  "seed": "--seed", "model": "--model"}
REPORT_FLAGS = {"band_within": "--alert-band-within", "band_min_usd": "--alert-band-min-usd",
                "drawdown": "--alert-drawdown", "cascade_usd": "--alert-cascade-usd", "webhook_url": "--webhook-url",
                "webhook_format": "--webhook-format", "paths": "--paths"}


def _usd(x: float | None) -> str:
    from risk.frames import usd

    return usd(x)


def _render(rows: list[dict[str, Any]], fmt: str, *, title: str, columns: list[tuple[str, str, Callable[[Any], str]]],
            extra: dict[str, Any] | None = None, csv_values: dict[str, Callable[[Any], Any]] | None = None) -> str:
    """``rows`` as a rich table (the ``columns`` shown), JSON (``{**extra, "rows": rows}``) or CSV.

    CSV keeps every field of the rows (raw numbers, not only the table's columns), one column
    per key in first-seen order; ``csv_values`` flattens structured fields (e.g. venues).
    """
    if fmt == "json":
        return json.dumps({**(extra or {}), "rows": rows}, indent=2, default=_json_default)
    if fmt == "csv":
        keys: list[str] = []
        for row in rows:
            keys += [k for k in row if k not in keys]
        flatten = csv_values or {}
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys or [key for key, _, _ in columns], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(flatten[k](v) if k in flatten else v) for k, v in row.items()})
        return buf.getvalue()
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    for k, (_, header, _) in enumerate(columns):
        table.add_column(header, justify="left" if k == 0 or header in ("Venues", "Error") else "right")
    for row in rows:
        table.add_row(*(escape(render(row.get(key))) for key, _, render in columns))
    console = _console(file=io.StringIO())
    console.print(table)
    return console.file.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=_json_default, separators=(",", ":"))
    return value


def _emit(rows: list[dict[str, Any]], fmt: str, *, title: str, columns: list[tuple[str, str, Callable[[Any], str]]],
          extra: dict[str, Any] | None = None, out: Path | None = None, quiet: bool = False,
          csv_values: dict[str, Callable[[Any], Any]] | None = None) -> None:
    """Render (see :func:`_render`) and deliver to stdout or ``--out``."""
    _deliver(_render(rows, fmt, title=title, columns=columns, extra=extra, csv_values=csv_values), out, quiet)


def _json_default(value: Any) -> Any:
    try:
        return value.item()
    except AttributeError:
        return str(value)


def _clean(x: float) -> float | None:
    from risk.frames import finite_or_none

    return finite_or_none(x)


# ----------------------------------------------------------------------------------- CLI


@click.group(cls=LiqriskGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="liqrisk", prog_name="liqrisk")
def cli() -> None:
    """DeFi liquidation risk: on-chain positions, liquidation bands, cascades, Monte Carlo.

    \b
    Quick start (offline, synthetic sample):
      liqrisk bands --asset WETH
      liqrisk cascade --driver WETH --drawdowns 0.05:0.6:0.05
      liqrisk demo                      # devnet: genuine Aave V3 + Morpho Blue, full report
    """


@cli.command(short_help="Snapshot positions at one pinned block into a JSON file.")
@source_option("devnet")
@rpc_option
@block_option
@out_option(None, "Snapshot JSON file to write (default snapshot-<block>.json; a regular file, replaced atomically).")
@quiet_option
def scan(source: str, rpc_url: str | None, block: str | None, out: Path | None, quiet: bool) -> None:
    """Discover positions and snapshot them at one pinned block into a JSON file."""
    from liqrisk.output import write_output

    _precheck_outputs(out=out)
    loaded = _load(_source_spec(source), rpc_url=rpc_url, block=block, quiet=quiet)
    snap = loaded.snapshot
    path = out or Path(f"snapshot-{snap.block_number}.json")
    write_output(path, snap.to_json(), "--out")
    _say(quiet)(f"Wrote {path}: {len(snap.positions):,} positions in {len(snap.markets)} markets, "
                f"{len(snap.assets)} assets, block {snap.block_number:,}")
    if snap.skipped and not quiet:
        n_positions = sum(1 for k in snap.skipped if k.account)
        click.echo(f"Skipped {len(snap.skipped) - n_positions} markets/reserves and {n_positions} positions that "
                   f"cannot be read exactly (listed in the snapshot's \"skipped\"):", err=True)
        for k in snap.skipped:
            who = f" {k.account}" if k.account else ""
            click.echo(f"  {k.venue} {k.market}{who}: {k.reason}", err=True)


@cli.command(short_help="Liquidation bands of one asset (table/JSON/CSV, --png).")
@source_option()
@rpc_option
@block_option
@click.option("--asset", default="WETH", show_default=True, help="Asset whose liquidation prices are mapped.")
@format_option
@out_option()
@png_option("liquidation map")
@quiet_option
def bands(source: str, rpc_url: str | None, block: str | None, asset: str, fmt: str, out: Path | None,
          png: Path | None, quiet: bool) -> None:
    """Liquidation bands of one asset: where, in price, the liquidations are."""
    from risk.bands import liquidation_bands

    _precheck_outputs(out=out, png=png)
    loaded = _load(_source_spec(source), rpc_url=rpc_url, block=block, quiet=quiet)
    book = _book(loaded)
    _need_asset(book, asset, "--asset")
    report = liquidation_bands(book, asset)
    m = report.map
    rows = [{"side": b.side, "low_usd": b.low_usd, "high_usd": b.high_usd, "peak_usd": b.peak_usd,
             "collateral_usd": b.collateral_usd, "debt_usd": b.debt_usd, "positions": b.positions,
             "distance_from_spot": b.distance_from_spot, "share_of_side": b.share_of_side,
             "venues": [{"venue": str(v), "collateral_usd": float(u)} for v, u in b.by_venue]} for b in report.bands]
    venues_text = lambda vs: ", ".join(f"{v['venue']} {_usd(v['collateral_usd'])}" for v in vs)  # noqa: E731
    venues_csv = lambda vs: ";".join(f"{v['venue']}={v['collateral_usd']:.2f}" for v in vs)  # noqa: E731
    pct = lambda v: f"{v:+.1%}"  # noqa: E731
    price = lambda v: f"${v:,.0f}"  # noqa: E731
    _emit(rows, fmt, title=f"{asset} liquidation bands — spot ${m.spot_usd:,.2f}, block {loaded.snapshot.block_number:,}",
          columns=[("side", "Side", str), ("low_usd", "Low", price), ("high_usd", "High", price),
                   ("collateral_usd", "Collateral", _usd), ("debt_usd", "Debt", _usd), ("positions", "Positions", str),
                   ("distance_from_spot", "From spot", pct), ("venues", "Venues", venues_text)],
          extra={"asset": asset, "spot_usd": m.spot_usd, "block_number": loaded.snapshot.block_number,
                 "chain_id": loaded.snapshot.chain_id, "synthetic": loaded.snapshot.synthetic,
                 "liquidatable_now_collateral_usd": m.now_collateral_usd},
          out=out, quiet=quiet, csv_values={"venues": venues_csv})
    if png is not None:
        from liqrisk.charts import liquidation_map_png
        from liqrisk.output import guarded

        with guarded("--png", png):
            liquidation_map_png(report, png, subtitle=loaded.block_line)
        _say(quiet)(f"Wrote {png}")


@cli.command(short_help="Cascade per initial drawdown: final drawdown, liquidated, bad debt.")
@source_option()
@rpc_option
@block_option
@driver_options
@click.option("--drawdowns", default="0.05:0.6:0.05", show_default=True,
              help="start:stop:step or a comma list (fractions; 0.2 = -20%; negative = rally).")
@liquidity_option
@format_option
@out_option()
@png_option("cascade")
@quiet_option
def cascade(source: str, rpc_url: str | None, block: str | None, driver: str, betas: tuple[str, ...], drawdowns: str,
            liquidity: str, fmt: str, out: Path | None, png: Path | None, quiet: bool) -> None:
    """Cascade per initial driver drawdown: final drawdown, liquidated and bad-debt USD."""
    from liqrisk.run import run_scenario
    from liqrisk.scenario import DriverSpec, GridShock, LiquiditySpec, OutputsSpec, Scenario

    grid = _drawdowns(drawdowns)
    _precheck_outputs(out=out, png=png)
    loaded = _load(_source_spec(source), rpc_url=rpc_url, block=block, quiet=quiet)
    book = _book(loaded)
    _need_asset(book, driver, "--driver")
    scenario = Scenario(name="cascade", driver=DriverSpec(asset=driver, betas=_betas(book, driver, betas)),
                        shock=GridShock(kind="grid", drawdowns=grid), liquidity=LiquiditySpec(model=liquidity),
                        outputs=OutputsSpec(bands=False))
    with _status("cascading", quiet):
        table = run_scenario(scenario, book, pools=loaded.snapshot.pools).cascade
    _emit_cascade(table, fmt, loaded, liquidity, out=out, quiet=quiet)
    if png is not None:
        from liqrisk.charts import cascade_png
        from liqrisk.output import guarded

        with guarded("--png", png):
            cascade_png(table, png, subtitle=f"{loaded.block_line}; liquidity: {liquidity}")
        _say(quiet)(f"Wrote {png}")


def _cascade_rows(table: Any) -> list[dict[str, Any]]:
    rows = []
    for i in range(len(table)):
        row = table.at(float(table.initial_drawdown[i]))
        row["amplification"] = _clean(row["amplification"])
        rows.append(row)
    return rows


def _emit_cascade(table: Any, fmt: str, loaded: Any, liquidity: str, title: str | None = None,
                  out: Path | None = None, quiet: bool = False) -> None:
    _deliver(_cascade_text(table, fmt, loaded, liquidity, title), out, quiet)


def _cascade_text(table: Any, fmt: str, loaded: Any, liquidity: str, title: str | None = None) -> str:
    pct = lambda v: f"{v:.1%}"  # noqa: E731
    return _render(_cascade_rows(table), fmt,
          title=title or f"{table.driver} cascade — block {loaded.snapshot.block_number:,}, liquidity {liquidity}",
          columns=[("initial_drawdown", "Initial", pct), ("final_drawdown", "Final", pct),
                   ("amplification", "Ampl.", lambda v: "—" if v is None else f"×{v:.3f}"), ("rounds", "Rounds", str),
                   ("liquidated_debt_usd", "Debt liquidated", _usd), ("bad_debt_usd", "Bad debt", _usd),
                   ("positions_hit", "Positions hit", str)],
          extra={"driver": table.driver, "betas": {s: float(b) for s, b in zip(table.symbols, table.betas) if b},
                 "block_number": loaded.snapshot.block_number, "chain_id": loaded.snapshot.chain_id,
                 "synthetic": loaded.snapshot.synthetic})


@cli.command(short_help="Monte Carlo with endogenous cascades: LaR, bad-debt VaR.")
@source_option()
@rpc_option
@block_option
@driver_options
@click.option("--model", type=click.Choice(("gbm", "student_t", "merton")), default="student_t", show_default=True)
@click.option("--vol", "vols", multiple=True, metavar="SYMBOL=VOL",
              help="Annualised volatility (0.8 = 80%), repeatable; others use risk.liquidity defaults.")
@click.option("--horizon-days", type=FiniteFloat(0, 3650, lo_open=True), default=1.0, show_default=True)
@click.option("--steps", type=click.IntRange(2, 100_000), default=97, show_default=True,
              help="Grid points including the start.")
@click.option("--paths", type=click.IntRange(1, 10_000_000), default=1000, show_default=True)
@seed_option
@liquidity_option
@format_option
@out_option()
@png_option("distribution")
@cluster_options
@quiet_option
def simulate(source: str, rpc_url: str | None, block: str | None, driver: str, betas: tuple[str, ...], model: str,
             vols: tuple[str, ...], horizon_days: float, steps: int, paths: int, seed: int | None, liquidity: str,
             fmt: str, out: Path | None, png: Path | None, workers: int | None, scheduler: str | None,
             quiet: bool) -> None:
    """Monte Carlo with endogenous cascades: Liquidations-at-Risk and bad-debt VaR."""
    from pydantic import ValidationError

    from liqrisk.scenario import MonteCarloShock

    try:
        shock = MonteCarloShock(kind="monte_carlo", model=model, vol=_kv(vols, "--vol"), horizon_days=horizon_days,
                                steps=steps, paths=paths, seed=7 if seed is None else seed)
    except ValidationError as exc:
        _fail_options(exc, SIMULATE_FLAGS)
    _precheck_outputs(out=out, png=png)
    with _cluster(workers, scheduler, quiet) as runner:  # first: a bad --scheduler is refused before any work
        _simulate(source, rpc_url, block, driver, betas, shock, liquidity, fmt, out, png, quiet, runner)


def _simulate(source: str, rpc_url: str | None, block: str | None, driver: str, betas: tuple[str, ...], shock: Any,
              liquidity: str, fmt: str, out: Path | None, png: Path | None, quiet: bool, runner: Any) -> None:
    from liqrisk.run import run_scenario
    from liqrisk.scenario import DriverSpec, LiquiditySpec, OutputsSpec, Scenario

    loaded = _load(_source_spec(source), rpc_url=rpc_url, block=block, quiet=quiet)
    book = _book(loaded)
    _need_asset(book, driver, "--driver")
    unknown = sorted(set(shock.vol) - set(book.symbols))
    if unknown:
        _fail(f"--vol: asset(s) {', '.join(unknown)} not in the snapshot (it has {', '.join(book.symbols)})")
    scenario = Scenario(name="simulate", driver=DriverSpec(asset=driver, betas=_betas(book, driver, betas)),
                        shock=shock, liquidity=LiquiditySpec(model=liquidity), outputs=OutputsSpec(bands=False))
    with _progress_bars(quiet) as update:
        result = run_scenario(scenario, book, progress=lambda d, t: update("Monte Carlo", d, t),
                              pools=loaded.snapshot.pools, runner=runner)
    _emit_mc(result.monte_carlo, fmt, loaded, out=out, quiet=quiet)
    if png is not None:
        from liqrisk.charts import monte_carlo_png
        from liqrisk.output import guarded

        with guarded("--png", png):
            monte_carlo_png(result.monte_carlo, png, subtitle=loaded.block_line)
        _say(quiet)(f"Wrote {png}")


def _emit_mc(run: Any, fmt: str, loaded: Any, title: str | None = None, out: Path | None = None,
             quiet: bool = False) -> None:
    _deliver(_mc_text(run, fmt, loaded, title), out, quiet)


def _mc_text(run: Any, fmt: str, loaded: Any, title: str | None = None) -> str:
    res = run.result
    rows = [{"run": "with cascade impact", **res.endogenous_summary.as_dict()}]
    if res.exogenous_summary is not None:
        rows.append({"run": "price paths only", **res.exogenous_summary.as_dict()})
    return _render(rows, fmt, title=title or (f"Monte Carlo {run.model}, {run.horizon_days:g} d, {res.n_paths:,} paths, "
                                      f"seed {run.seed} — block {loaded.snapshot.block_number:,}"),
          columns=[("run", "", str), ("mean_liquidated_usd", "Mean liquidated", _usd), ("lar_95_usd", "LaR 95%", _usd),
                   ("lar_99_usd", "LaR 99%", _usd), ("bad_debt_var_95_usd", "Bad-debt VaR 95%", _usd),
                   ("bad_debt_var_99_usd", "Bad-debt VaR 99%", _usd),
                   ("prob_any_liquidation", "P(any)", lambda v: f"{v:.0%}")],
          extra={"model": run.model, "horizon_days": run.horizon_days, "steps": run.steps, "seed": run.seed,
                 "vol_annual": run.vol_annual, "block_number": loaded.snapshot.block_number,
                 "chain_id": loaded.snapshot.chain_id, "synthetic": loaded.snapshot.synthetic})


# --------------------------------------------------------------------------- scenarios


@cli.group(cls=LiqriskGroup)
def scenario() -> None:
    """Scenario files (TOML): check them, run them."""


@scenario.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@quiet_option
def scenario_check(files: tuple[Path, ...], quiet: bool) -> None:
    """Validate scenario files without running them (exit 1 at the first invalid one)."""
    from liqrisk.scenario import load_scenario

    for f in files:
        sf = load_scenario(f)
        if not quiet:
            click.echo(f"{f}: ok ({sf.scenario.shock.kind}, driver {sf.scenario.driver.asset}, "
                       f"source {sf.scenario.source.kind})")


@scenario.command("run")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@source_option(None)
@rpc_option
@block_option
@seed_option
@format_option
@out_option()
@click.option("--report", "report_dir", type=click.Path(path_type=Path, dir_okay=True), default=None,
              help="Also write a report folder (JSON, Markdown, HTML, charts) under this directory.")
@cluster_options
@quiet_option
def scenario_run(files: tuple[Path, ...], source: str | None, rpc_url: str | None, block: str | None, seed: int | None,
                 fmt: str, out: Path | None, report_dir: Path | None, workers: int | None, scheduler: str | None,
                 quiet: bool) -> None:
    """Run scenario files (against their own source, or --source for all)."""
    from liqrisk.scenario import load_scenario

    scenario_files = [load_scenario(f) for f in files]  # validate all before any work
    _precheck_outputs(out=out)
    if report_dir is not None:
        from liqrisk.output import check_output_dir

        check_output_dir(report_dir, "--report")
    with _cluster(workers, scheduler, quiet) as runner:  # first: a bad --scheduler is refused before any work
        results, loaded_by_source = _sweep(scenario_files, source, rpc_url, block, seed, quiet, runner)
    _emit_scenarios(results, loaded_by_source, scenario_files, fmt, out, report_dir, seed, quiet)


def _sweep(scenario_files: list[Any], source: str | None, rpc_url: str | None, block: str | None, seed: int | None,
           quiet: bool, runner: Any) -> tuple[list[Any], dict[str, Any]]:
    """Read each distinct source once, then run every scenario (as Dask tasks on a cluster)."""
    from liqrisk.scaleout import run_scenarios

    keyed = []
    for sf in scenario_files:
        spec = _source_spec(source, sf.scenario.source) if source else sf.scenario.source
        keyed.append((spec.model_dump_json() + f"|{sf.base_dir if spec.kind in ('snapshot', 'rpc') else ''}", spec, sf))
    distinct: dict[str, tuple[Any, Path]] = {}
    for key, spec, sf in keyed:
        distinct.setdefault(key, (spec, sf.base_dir))
    loaded_by_source = _load_sources(distinct, rpc_url, block, quiet, runner)
    books = {key: _book(loaded) for key, loaded in loaded_by_source.items()}
    jobs, sources = [], []
    for key, _spec, sf in keyed:  # the positions were read above (I/O); the scenarios are tasks
        loaded = loaded_by_source[key]
        jobs.append((sf.scenario, books[key], dict(seed=seed, where=str(sf.path), pools=loaded.snapshot.pools)))
        sources.append(loaded)
    with _progress_bars(quiet) as update:
        swept = run_scenarios(jobs, runner, progress=lambda i, _=None: (
            lambda d, t, n=scenario_files[i].scenario.name: update(n, d, t)))
    return list(zip(scenario_files, sources, swept)), loaded_by_source


def _load_sources(distinct: dict[str, tuple[Any, Path]], rpc_url: str | None, block: str | None, quiet: bool,
                  runner: Any) -> dict[str, Any]:
    """Every distinct source, read once, in the given order. On a Dask cluster the RPC scans (one
    per network, node or block) are tasks run side by side; the local kinds (sample, snapshot
    file, the devnet's state file) are read here."""
    from liqrisk.scaleout import InProcess, read_rpc_sources
    from liqrisk.sources import markets_path, rpc_url_of

    remote = [key for key, (spec, _d) in distinct.items() if spec.kind == "rpc"] \
        if not isinstance(runner, InProcess) else []
    loaded: dict[str, Any] = {}
    if len(remote) > 1:
        context = click.get_current_context(silent=True)
        markets_file = context.meta.get(MARKETS_META) if context is not None else None
        pinned = _parse_block(block) if isinstance(block, str) else block
        reads = [(distinct[k][0], rpc_url_of(distinct[k][0], rpc_url), pinned,
                  markets_path(distinct[k][0], markets_file, distinct[k][1])) for k in remote]
        with _status(f"reading {len(remote)} RPC sources on the {runner.description}", quiet):
            for key, snap in zip(remote, read_rpc_sources(reads, runner)):
                loaded[key] = snap
                _say_block(snap, quiet)
    for key, (spec, base_dir) in distinct.items():
        if key not in loaded:
            loaded[key] = _load(spec, rpc_url=rpc_url, block=block, quiet=quiet, base_dir=base_dir)
    return {key: loaded[key] for key in distinct}


def _emit_scenarios(results: list[Any], loaded_by_source: dict[str, Any], scenario_files: list[Any], fmt: str,
                    out: Path | None, report_dir: Path | None, seed: int | None, quiet: bool) -> None:
    documents, texts = [], []
    for sf, loaded, result in results:
        documents.append(_scenario_summary(sf, loaded, result))
        if fmt == "table":
            texts.append(_scenario_text(sf, loaded, result))
        for note in result.notes:
            _say(quiet)(f"note ({sf.path.name}): {note}")
    if fmt == "table":
        _deliver("\n".join(t.rstrip("\n") for t in texts) + "\n", out, quiet)
    elif fmt == "json":
        _deliver(json.dumps({"scenarios": documents}, indent=2, default=_json_default), out, quiet)
    else:  # one row per scenario, every scalar field; per-drawdown rows are in --format json
        _emit([{k: v for k, v in d.items() if k != "rows"} for d in documents], "csv", title="",
              columns=[], out=out, quiet=quiet)
    if report_dir is not None:
        out = report_dir
        if len(loaded_by_source) > 1:
            _fail("--report: these scenarios read different sources; pass --source so they share one snapshot")
        from liqrisk.report import ReportConfig, compute_report, write_report

        loaded = next(iter(loaded_by_source.values()))
        first = scenario_files[0].scenario
        config = ReportConfig(driver=first.driver.asset, betas=first.driver.betas, liquidity=first.liquidity,
                              monte_carlo=None, scenarios=tuple(scenario_files), seed=seed)
        with _progress_bars(quiet) as update:
            folder, _doc = write_report(compute_report(loaded, config, progress=update), out)
        _say(quiet)(f"Report: {folder}")


def _scenario_summary(sf: Any, loaded: Any, result: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": result.name, "file": str(sf.path), "kind": result.kind, "driver": result.driver,
                           "block_number": loaded.snapshot.block_number, "chain_id": loaded.snapshot.chain_id,
                           "synthetic": loaded.snapshot.synthetic, "notes": list(result.notes)}
    if result.cascade is not None:
        doc["rows"] = _cascade_rows(result.cascade)
        worst = max(doc["rows"], key=lambda r: r["liquidated_debt_usd"])
        doc.update(liquidated_debt_usd=worst["liquidated_debt_usd"], bad_debt_usd=max(r["bad_debt_usd"] for r in doc["rows"]),
                   positions_hit=worst["positions_hit"])
    if result.path is not None:
        s = result.path.result.endogenous_summary
        x = result.path.result.exogenous_summary
        doc.update(liquidated_debt_usd=s.mean_liquidated_usd, bad_debt_usd=s.mean_bad_debt_usd,
                   positions_hit=int(s.mean_positions_hit),
                   liquidated_without_impact_usd=x.mean_liquidated_usd if x is not None else None,
                   max_drawdown={sym: float(v) for sym, v in zip(result.path.result.symbols,
                                                                 result.path.result.endogenous.max_drawdown[0])})
    if result.monte_carlo is not None:
        s = result.monte_carlo.result.endogenous_summary
        doc.update(s.as_dict())
        doc.update(liquidated_debt_usd=s.mean_liquidated_usd, bad_debt_usd=s.mean_bad_debt_usd)
    return doc


def _scenario_text(sf: Any, loaded: Any, result: Any) -> str:
    head = f"{result.name}  [{sf.path.name}, {result.kind}, block {loaded.snapshot.block_number:,}]"
    if result.cascade is not None:
        return _cascade_text(result.cascade, "table", loaded, "", title=head)
    if result.path is not None:
        s, x = result.path.result.endogenous_summary, result.path.result.exogenous_summary
        dd = result.path.result.endogenous.max_drawdown[0][result.path.result.symbols.index(result.driver)]
        return (f"{head}\n  debt liquidated {_usd(s.mean_liquidated_usd)}"
                + (f" (without impact {_usd(x.mean_liquidated_usd)})" if x is not None else "")
                + f", bad debt {_usd(s.mean_bad_debt_usd)}, positions hit {s.mean_positions_hit:,.0f}, "
                f"largest {result.driver} peak-to-trough {dd:.1%}\n")
    return _mc_text(result.monte_carlo, "table", loaded, title=head)


# ------------------------------------------------------------------------------ report


@cli.command(short_help="Report folder (JSON/MD/HTML/charts), once or --every.")
@source_option()
@rpc_option
@block_option
@out_option("liqrisk-reports", "Output folder: one folder per run, runs.sqlite index, 'latest' link.")
@driver_options
@click.option("--scenario", "scenario_files", multiple=True, type=click.Path(path_type=Path),
              help="Scenario file to include (repeatable); run against the report's snapshot.")
@click.option("--paths", type=click.IntRange(0, 10_000_000), default=1000, show_default=True,
              help="Monte Carlo paths (0 = skip).")
@seed_option
@liquidity_option
@click.option("--every", default=None, metavar="INTERVAL", help="Repeat every INTERVAL (30s, 15m, 1h); default: once.")
@click.option("--max-runs", type=click.IntRange(1), default=None, help="Stop after this many runs (with --every).")
@click.option("--alert-band-within", type=FiniteFloat(0, 1), default=0.05, show_default=True,
              help="Alert when spot is within this fraction of a band...")
@click.option("--alert-band-min-usd", type=FiniteFloat(0), default=10e6, show_default=True,
              help="...holding at least this much USD.")
@click.option("--alert-drawdown", type=FiniteFloat(0, 1, lo_open=True), default=0.20, show_default=True,
              help="Alert when this initial drawdown...")
@click.option("--alert-cascade-usd", type=FiniteFloat(0), default=50e6, show_default=True,
              help="...liquidates at least this much debt.")
@click.option("--webhook-url", envvar="LIQRISK_WEBHOOK_URL", show_envvar=True, default=None,
              help="POST alerts here as JSON (failures are logged, not fatal).")
@click.option("--webhook-format", type=click.Choice(("auto", "plain", "slack")), default="auto", show_default=True,
              help="Alert payload: plain JSON, or Slack's {text, blocks} (auto: slack for hooks.slack.com URLs).")
@click.option("--no-charts", is_flag=True, help="Skip the PNG charts (report.html keeps its interactive charts).")
@cluster_options
@quiet_option
def report(source: str, rpc_url: str | None, block: str | None, out: Path, driver: str, betas: tuple[str, ...],
           scenario_files: tuple[Path, ...], paths: int, seed: int | None, liquidity: str, every: str | None,
           max_runs: int | None, alert_band_within: float, alert_band_min_usd: float, alert_drawdown: float,
           alert_cascade_usd: float, webhook_url: str | None, webhook_format: str, no_charts: bool,
           workers: int | None, scheduler: str | None, quiet: bool) -> None:
    """Write a risk report folder (JSON, Markdown, HTML, charts); once, or --every INTERVAL."""
    from pydantic import ValidationError

    from liqrisk.alerts import AlertConfig
    from liqrisk.scenario import LiquiditySpec, MonteCarloShock, load_scenario
    from liqrisk.schedule import INDEX_NAME, RunIndex, clean_stale_temp_dirs, parse_interval, run_every, run_once

    try:
        alerts = AlertConfig(band_within=alert_band_within, band_min_usd=alert_band_min_usd, drawdown=alert_drawdown,
                             cascade_usd=alert_cascade_usd, webhook_url=webhook_url, webhook_format=webhook_format)
        mc = MonteCarloShock(kind="monte_carlo", model="student_t", paths=paths, seed=7) if paths > 0 else None
    except ValidationError as exc:
        _fail_options(exc, REPORT_FLAGS)
    try:
        interval = parse_interval(every) if every is not None else None
    except ValueError as exc:
        _fail(f"--every: {exc}")
    if block is not None and interval is not None and _parse_block(block) not in ("latest", "safe", "finalized"):
        _fail("--every with a fixed --block would report the same block forever; use a tag (latest) or no --every")
    spec = _source_spec(source)
    sfs = tuple(load_scenario(f) for f in scenario_files)
    from liqrisk.output import check_output_dir

    check_output_dir(out, "--out")
    _check_run_index(out / INDEX_NAME)

    def job() -> tuple[Path, Any]:
        from liqrisk.report import ReportConfig, band_history, compute_report, reserve_run_id, send_alerts, write_report

        loaded = _load(spec, rpc_url=rpc_url, block=block, quiet=quiet)
        book = _book(loaded)
        _need_asset(book, driver, "--driver")
        config = ReportConfig(driver=driver, betas=_betas(book, driver, betas), liquidity=LiquiditySpec(model=liquidity),
                              monte_carlo=mc, scenarios=sfs, alerts=alerts, charts=not no_charts, seed=seed)
        with _progress_bars(quiet) as update:
            result = compute_report(loaded, config, progress=update, runner=runner)
        # The alerts go out first (the report records the delivery); write_report sends nothing.
        run_id = reserve_run_id(out, loaded.snapshot.block_number)  # unique even for concurrent runs
        webhook = send_alerts(result, run_id)
        folder, doc = write_report(result, out, run_id=run_id, webhook=webhook, history=band_history(index, driver))
        _print_report_summary(doc, folder, quiet)
        return folder, doc

    clean_stale_temp_dirs(out)
    say = _say(quiet)
    # One cluster for every run of --every (workers keep their compiled kernels between runs).
    with _cluster(workers, scheduler, quiet) as runner, RunIndex(out / INDEX_NAME) as index:
        if interval is None:  # a failed single run is reported once, as the Error line
            outcome = run_once(job, index, on_event=lambda m: None if m.startswith("run failed") else say(m))
            if outcome.exception is not None:  # recorded in the index; now one Error line (or a bug's)
                raise outcome.exception
            if outcome.status != "ok":
                _fail(outcome.error or "report failed")
            return
        outcomes = run_every(job, index, every_s=interval, max_runs=max_runs, on_event=say)
    failed = sum(o.status != "ok" for o in outcomes)
    say(f"{len(outcomes)} run(s), {failed} failed; index {out / INDEX_NAME}")


def _check_run_index(path: Path) -> None:
    """Refuse a run index that is not one (corrupt, foreign SQLite, not a file) before writing to it."""
    import sqlite3

    from liqrisk.schedule import _RECORD_COLUMNS

    if not path.exists():
        return
    hint = "move it away (a new index is then created) or choose another --out"
    if not path.is_file():
        _fail(f"{path}: the run index is not a regular file; {hint}")
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
        if header and header != b"SQLite format 3\x00":
            raise sqlite3.DatabaseError("file is not a database")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")} if "runs" in tables else set()
            if tables and not set(_RECORD_COLUMNS) | {"pid"} <= columns:
                raise sqlite3.DatabaseError(f"a SQLite file without liqrisk's runs table (tables: "
                                            f"{', '.join(sorted(tables)) or 'none'})")
            db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except (sqlite3.DatabaseError, OSError) as exc:
        _fail(f"{path}: not a liqrisk run index ({exc}); {hint}")


def _print_report_summary(doc: Any, folder: Path, quiet: bool, extra: Sequence[str] = ()) -> None:
    if quiet:
        return
    b = doc.summary.biggest_band
    lines = [f"Report {doc.run_id} — {doc.driver} at ${doc.bands.spot_usd:,.2f}, block {doc.source.block_number:,}"]
    if b is not None:
        lines.append(f"  biggest band  ${b.low_usd:,.0f}–${b.high_usd:,.0f} ({b.side}): {_usd(b.collateral_usd)} collateral, "
                     f"{b.positions:,} positions, {b.distance_from_spot:+.1%} from spot")
    for k, r in doc.summary.cascade.items():
        lines.append(f"  cascade -{k:<4} final -{r.final_drawdown:.1%}, liquidated {_usd(r.liquidated_debt_usd)}, "
                     f"bad debt {_usd(r.bad_debt_usd)}, {r.positions_hit:,} positions")
    if doc.summary.lar_99_usd is not None:
        lines.append(f"  Monte Carlo   LaR 99% {_usd(doc.summary.lar_99_usd)}, bad-debt VaR 99% "
                     f"{_usd(doc.summary.bad_debt_var_99_usd)}")
    for a in doc.alerts:
        lines.append(f"  ALERT {a.severity}: {a.message}")
    if doc.webhook is not None:
        lines.append(f"  webhook {doc.webhook.url}: {'delivered' if doc.webhook.delivered else 'FAILED: ' + str(doc.webhook.error)}")
    lines += list(extra)
    lines.append(f"  files: {folder}/report.html, report.md, report.json")
    click.echo("\n".join(lines))


@cli.command(short_help="Run index of a report folder: blocks and biggest band over time.")
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@format_option
@out_option()
@quiet_option
def runs(root: Path, limit: int, fmt: str, out: Path | None, quiet: bool) -> None:
    """The run index of a report root: status, block and biggest band over time."""
    from dataclasses import asdict

    from liqrisk.schedule import INDEX_NAME, RunIndex

    if not (root / INDEX_NAME).exists():
        _fail(f"no run index {root / INDEX_NAME}: run `liqrisk report --out {root}` first")
    _check_run_index(root / INDEX_NAME)
    _precheck_outputs(out=out)
    with RunIndex(root / INDEX_NAME) as index:
        rows = [asdict(r) for r in index.runs(limit)]
    price = lambda v: "—" if v is None else f"${v:,.0f}"  # noqa: E731
    _emit(rows, fmt, title=f"Runs in {root}", columns=[
        ("started_at", "Started", str), ("status", "Status", str),
        ("block_number", "Block", lambda v: "—" if v is None else f"{v:,}"),
        ("band_low_usd", "Band low", price), ("band_high_usd", "Band high", price),
        ("band_collateral_usd", "Band collateral", _usd), ("lar_99_usd", "LaR 99%", _usd),
        ("alerts", "Alerts", lambda v: "—" if v is None else str(v)), ("error", "Error", lambda v: v or "")],
        out=out, quiet=quiet)


# --------------------------------------------------------------------------- positions

POSITION_FORMATS = ("table", "json", "csv", "parquet")


@cli.command(short_help="Positions: account, market, HF, distance to liquidation (filter, sort, export).")
@source_option()
@rpc_option
@block_option
@driver_options
@click.option("--market", "markets", multiple=True, metavar="ID", help="Only this market id (repeatable).")
@click.option("--venue", "venues", multiple=True, type=_rule_names(),
              help="Only this venue rule (repeatable).")
@click.option("--asset", "assets", multiple=True, metavar="SYMBOL",
              help="Only positions holding this asset as collateral or debt (repeatable).")
@click.option("--hf-min", type=FiniteFloat(0), default=None, help="Only positions with HF >= this.")
@click.option("--hf-max", type=FiniteFloat(0), default=None, help="Only positions with HF < this.")
@click.option("--side", "sides", multiple=True, type=click.Choice(("now", "long", "short", "never")),
              help="Only this side under the driver move: now (liquidatable), long (on a fall), short (on a rise).")
@click.option("--debt-free", is_flag=True, help="Also list positions without debt (never liquidatable).")
@click.option("--by-market", is_flag=True, help="One row per market instead: positions, collateral, debt, debt near liquidation.")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows after sorting (0 = all).")
@click.option("--format", "fmt", type=click.Choice(POSITION_FORMATS), default="table", show_default=True,
              help="Output format (parquet needs --out and the liqrisk[frames] extra).")
@out_option(None, "Write the rows to this file instead of stdout.")
@quiet_option
def positions(source: str, rpc_url: str | None, block: str | None, driver: str, betas: tuple[str, ...],
              markets: tuple[str, ...], venues: tuple[str, ...], assets: tuple[str, ...], hf_min: float | None,
              hf_max: float | None, sides: tuple[str, ...], debt_free: bool, by_market: bool, limit: int, fmt: str,
              out: Path | None, quiet: bool) -> None:
    """Positions closest to liquidation first: account, market, HF, and the driver move (with betas) that
    liquidates each one. Filters combine (AND); each repeatable filter matches any of its values."""
    from risk.positions import market_breakdown, position_table

    if fmt == "parquet" and out is None:
        _fail("--format parquet: pass --out FILE.parquet (Parquet is binary)")
    if limit < 0:
        _fail("--limit: must be >= 0 (0 = all rows)")
    if hf_min is not None and hf_max is not None and hf_min >= hf_max:
        _fail(f"--hf-min {hf_min:g} must be below --hf-max {hf_max:g}")
    _precheck_outputs(out=out)
    loaded = _load(_source_spec(source), rpc_url=rpc_url, block=block, quiet=quiet)
    book = _book(loaded)
    _need_asset(book, driver, "--driver")
    for a in assets:
        _need_asset(book, a, "--asset")
    unknown = sorted(set(markets) - set(book.market_ids))
    if unknown:
        _fail(f"--market: no market {', '.join(map(repr, unknown))} in the snapshot (it has {', '.join(book.market_ids)})")
    table = position_table(book, driver, _betas(book, driver, betas), include_debt_free=debt_free)
    table = table.filter(markets=markets, assets=assets, hf_min=hf_min, hf_max=hf_max, sides=sides)
    if venues:
        import numpy as np

        table = table.take(np.flatnonzero(np.isin(table.venue, venues)))
    snap = loaded.snapshot
    meta = {"driver": driver, "driver_spot_usd": table.driver_spot_usd, "block_number": snap.block_number,
            "chain_id": snap.chain_id, "synthetic": snap.synthetic}
    if by_market:
        breakdown = market_breakdown(table)
        frame = breakdown.to_frame()
        title = f"Positions by market — {driver} ${table.driver_spot_usd:,.2f}, block {snap.block_number:,}"
        near = [k for k in frame if k.startswith("debt_within_")]
        columns = [("market_id", "Market", str), ("venue", "Venue", str), ("positions", "Positions", lambda v: f"{v:,}"),
                   ("collateral_usd", "Collateral", _usd), ("debt_usd", "Debt", _usd),
                   ("min_health_factor", "Min HF", _hf)]
        columns += [(k, "Debt liq. now" if k == "debt_within_0pct_usd" else
                     f"Debt ≤{k.removeprefix('debt_within_').removesuffix('pct_usd')}% move", _usd) for k in near]
    else:
        table = table.sorted_by_distance()
        total = len(table)
        if limit:
            table = table.head(limit)
        frame = table.to_frame()
        shown = f"{len(table):,} of {total:,}" if len(table) < total else f"{total:,}"
        title = (f"Positions closest to liquidation ({shown}) — {driver} ${table.driver_spot_usd:,.2f}, "
                 f"block {snap.block_number:,}")
        meta["rows_total"] = total
        columns = [("account", "Account", _short_account), ("market_id", "Market", str),
                   ("health_factor", "HF", _hf), ("collateral_usd", "Collateral", _usd), ("debt_usd", "Debt", _usd),
                   ("main_collateral", "Coll.", str), ("main_debt", "Debt asset", str), ("side", "Side", str),
                   ("distance", f"{driver} move", _distance),
                   ("driver_price_at_liquidation_usd", f"{driver} at liq.", _price_or_dash),
                   ("liq_price_alone_usd", f"{driver} alone", _price_or_dash)]
    _write_frame(frame, fmt, out, title=title, columns=columns, meta=meta, quiet=quiet)


def _hf(v: float) -> str:
    import math

    return "∞" if math.isinf(v) else f"{v:.3f}"


def _distance(v: float) -> str:
    import math

    return "never" if math.isinf(v) else ("now" if v == 0 else f"{v:.1%}")


def _price_or_dash(v: float) -> str:
    import math

    return "—" if not math.isfinite(v) else f"${v:,.2f}"


def _short_account(v: str) -> str:
    return f"{v[:8]}…{v[-4:]}" if len(v) > 14 else v


def _write_frame(frame: dict[str, Any], fmt: str, out: Path | None, *, title: str,
                 columns: list[tuple[str, str, Callable[[Any], str]]], meta: dict[str, Any],
                 quiet: bool = False) -> None:
    """Columns to a table / JSON (``{**meta, "rows": [...]}``, NaN/inf as null) / CSV (every column, raw
    numbers, NaN empty) / Parquet, on stdout or into ``out``."""
    from risk.frames import FRAMES_EXTRA_HINT, json_safe

    keys = list(frame)
    n = len(frame[keys[0]]) if keys else 0
    rows = [{k: frame[k][i].item() for k in keys} for i in range(n)]
    if fmt == "parquet":
        assert out is not None
        try:
            import pyarrow  # noqa: F401
            from risk.frames import to_pandas
        except ImportError:
            _fail(f"--format parquet: {FRAMES_EXTRA_HINT}")
        from liqrisk.output import guarded

        df = to_pandas(frame)
        df.attrs.update(meta)
        with guarded("--out", out):
            out.parent.mkdir(parents=True, exist_ok=True)
            df.to_parquet(out, index=False)
        _say(quiet)(f"Wrote {out}: {n:,} rows")
        return
    if fmt == "table":
        _emit(rows, "table", title=title, columns=columns, out=out, quiet=quiet)
        return
    if fmt == "json":
        text = json.dumps(json_safe({**meta, "rows": rows}), indent=2, allow_nan=False) + "\n"
    else:
        import math

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows)
        text = buf.getvalue()
    if out is None:
        click.echo(text, nl=False)
    else:
        from liqrisk.output import write_output

        write_output(out, text, "--out")
        _say(quiet)(f"Wrote {out}: {n:,} rows")


# ------------------------------------------------------------------------------ devnet

MAX_DEVNET_BORROWERS = 20_000  # a local devnet; beyond this a populate takes hours


@cli.group(cls=LiqriskGroup, short_help="Local devnet: up | down | status.")
def devnet() -> None:
    """Local devnet: anvil + genuine Aave V3 + Morpho Blue + a Comet double."""


@devnet.command("up", short_help="Start a detached devnet, deploy and populate it.")
@click.option("--port", type=click.IntRange(1024, 65535), default=None, help="Port (default: a free one).")
@click.option("--borrowers", type=click.IntRange(1, MAX_DEVNET_BORROWERS), default=300, show_default=True)
@seed_option
@quiet_option
def devnet_up_cmd(port: int | None, borrowers: int, seed: int | None, quiet: bool) -> None:
    """Start a detached devnet, deploy and populate it. Prints its URL and addresses (the result)."""
    from chain.devnet import devnet_up

    with _status(f"starting devnet, deploying, opening {borrowers} borrowers", quiet):
        state = devnet_up(port=port, n_borrowers=borrowers, seed=7 if seed is None else seed)
    from chain.transport import mask_url

    click.echo(f"Devnet up: {mask_url(state['rpc_url'])} (pid {state['pid']}, chain {state['deployment']['chain_id']}); "
               f"{borrowers} borrowers. Use --source devnet; stop with `liqrisk devnet down`.")
    for line in _deployment_lines(state["deployment"]):
        click.echo(line)


def _deployment_lines(deployment: dict[str, Any]) -> list[str]:
    """Deployed addresses, one per line (from the devnet state file's deployment)."""
    aave, morpho = deployment["aave"], deployment["morpho"]
    lines = [
        f"  Aave V3 Pool            {aave['pool']}",
        f"  PoolAddressesProvider   {aave['addresses_provider']}",
        f"  AaveOracle              {aave['oracle']}",
        f"  Morpho Blue             {morpho['address']}",
        f"  Comet (test double)     {deployment['comet_double']}",
        f"  Multicall3              {deployment['multicall3']}",
    ]
    lines += [f"  token {symbol:<17} {address}" for symbol, address in sorted(deployment["tokens"].items())]
    lines += [f"  Morpho market {name:<10} {market['id'] if isinstance(market, dict) else market[0]}"
              for name, market in sorted(morpho["markets"].items())]
    return lines


@devnet.command("down")
@quiet_option
def devnet_down_cmd(quiet: bool) -> None:
    """Stop the detached devnet."""
    from chain.devnet import devnet_down

    stopped = devnet_down()
    if not quiet:
        click.echo("Devnet stopped." if stopped else "No devnet was running.")


@devnet.command("status")
@format_option
@quiet_option
def devnet_status_cmd(fmt: str, quiet: bool) -> None:
    """Is a devnet running, where."""
    from chain.devnet import devnet_status
    from chain.transport import mask_url

    status = devnet_status()
    # The state file's URL is shown masked like every RPC URL (a hand-edited file may carry a key).
    url = status.get("rpc_url")
    info = {"running": status["running"], "rpc_url": mask_url(url) if isinstance(url, str) else None,
            "pid": status.get("pid"),
            "state_path": status["state_path"]}
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
    elif status["running"]:
        click.echo(f"Devnet running at {info['rpc_url']} (pid {info['pid']}); state {info['state_path']}")
        if status.get("deployment"):
            for line in _deployment_lines(status["deployment"]):
                click.echo(line)
    else:
        click.echo(f"No devnet running (state {info['state_path']}).")


# ------------------------------------------------------------------------------- setup


@cli.command(short_help="Install the devnet's npm packages (anvil, Aave V3, Morpho Blue, solc-js).")
@click.option("--dir", "prefix", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Install into DIR/node_modules (default: the user data dir). Set LIQRISK_NODE_MODULES to "
                   "DIR/node_modules when it is not the default.")
@quiet_option
def setup(prefix: Path | None, quiet: bool) -> None:
    """Install the npm packages `devnet` and `demo` need (needs Node.js >= 20 and npm).

    A source checkout gets them from ./setup.sh; an installed wheel from this command.
    """
    from chain.locations import NODE_MODULES_ENV, SetupError, install_npm_packages, node_modules_dir, user_npm_prefix

    target = (prefix or user_npm_prefix()).expanduser().resolve()
    try:
        with _status(f"npm install into {target}", quiet):
            node_modules = install_npm_packages(target)
    except SetupError as exc:
        _fail(f"setup: {exc}")
    click.echo(f"npm packages installed in {node_modules}")
    if node_modules != node_modules_dir().resolve():
        click.echo(f"Set {NODE_MODULES_ENV}={node_modules} so that liqrisk uses them.")


# -------------------------------------------------------------------------------- demo


def scenarios_dir() -> Path:
    from liqrisk.scenario import shipped_scenarios_dir

    return shipped_scenarios_dir()


DEMO_SCENARIO = "2026-early_eth_band_sweep.toml"


@cli.command(short_help="Devnet up, scan, bands, cascades, Monte Carlo, replay, report, down.")
@out_option("liqrisk-demo", "Output folder of the report (as report --out).")
@click.option("--borrowers", type=click.IntRange(1, MAX_DEVNET_BORROWERS), default=300, show_default=True,
              help="Devnet borrowers to open.")
@click.option("--paths", type=click.IntRange(1, 10_000_000), default=1000, show_default=True, help="Monte Carlo paths.")
@click.option("--scenario", "scenario_file", type=click.Path(path_type=Path), default=None,
              help=f"Replay to run (default scenarios/{DEMO_SCENARIO}).")
@seed_option
@quiet_option
def demo(out: Path, borrowers: int, paths: int, scenario_file: Path | None, seed: int | None, quiet: bool) -> None:
    """One command: devnet up, populate, scan, bands, cascades, Monte Carlo, a replay, report, devnet down."""
    from chain.devnet import Devnet, DevnetError
    from chain.scan import scan_devnet
    from chain.transport import RpcError
    from liqrisk.report import ReportConfig, compute_report, write_report
    from liqrisk.scenario import LiquiditySpec, MonteCarloShock, load_scenario
    from liqrisk.sources import LoadedSnapshot

    from liqrisk.output import check_output_dir

    sf = load_scenario(scenario_file or scenarios_dir() / DEMO_SCENARIO)
    check_output_dir(out, "--out")
    say = _say(quiet)
    try:
        with Devnet() as net:  # stopped on success, error and Ctrl-C alike
            from chain.transport import mask_url

            say(f"devnet: anvil at {mask_url(net.rpc_url)}")
            with _status("deploying Aave V3, Morpho Blue, Uniswap v3, Comet double, Multicall3", quiet):
                net.deploy()
            with _status(f"opening {borrowers} borrower positions", quiet):
                net.populate(borrowers, 7 if seed is None else seed)
            with _status("scanning the devnet (discovery + multicall reads at one block)", quiet):
                snap = scan_devnet(net.deployment)
            loaded = LoadedSnapshot(snap, "devnet", f"devnet {snap.source}")
            _say_block(loaded, quiet)
            # The devnet's genuine Uniswap v3 pools, read at the scanned block, price the sales.
            config = ReportConfig(monte_carlo=MonteCarloShock(kind="monte_carlo", model="student_t", paths=paths, seed=7),
                                  scenarios=(sf,), seed=seed, liquidity=LiquiditySpec(model="onchain"))
            with _progress_bars(quiet) as update:
                result = compute_report(loaded, config, progress=update)
            folder, doc = write_report(result, out)
    except (DevnetError, RpcError) as exc:
        _fail(f"demo: devnet failed: {exc}")
    say("devnet stopped")
    extra = []
    for s in doc.scenarios:
        if s.path is not None:
            extra.append(f"  replay        {s.name}: liquidated {_usd(s.path.endogenous.mean_liquidated_usd)}, "
                         f"bad debt {_usd(s.path.endogenous.mean_bad_debt_usd)}, "
                         f"{s.path.endogenous.mean_positions_hit:,.0f} positions")
    _print_report_summary(doc, folder, quiet, extra)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``liqrisk``)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="liqrisk")


if __name__ == "__main__":  # pragma: no cover
    main()
