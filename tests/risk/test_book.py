import json
import subprocess
import sys

import numpy as np
import pytest
from pydantic import ValidationError

from risk.book import PositionBook
from risk.sample import SYMBOLS, sample_snapshot, synthetic_book
from risk.snapshot import Snapshot, morpho_lif_wad


def test_snapshot_round_trips_through_json(tmp_path):
    snap = sample_snapshot(50, seed=2)
    assert snap.synthetic and "synthetic" in snap.source
    again = Snapshot.from_json(snap.to_json())
    assert again == snap
    path = snap.save(tmp_path / "s.json")
    assert Snapshot.load(path) == snap
    assert not list(tmp_path.glob(".*tmp"))


def test_snapshot_rejects_unknown_fields_and_dangling_references():
    payload = json.loads(sample_snapshot(5).to_json())
    payload["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        Snapshot.model_validate(payload)
    payload = json.loads(sample_snapshot(5).to_json())
    payload["positions"][0]["market"] = "nowhere"
    with pytest.raises(ValidationError, match="unknown market"):
        Snapshot.model_validate(payload)
    payload = json.loads(sample_snapshot(5).to_json())
    payload["positions"][0]["debt"] = {"WETH": -1}
    with pytest.raises(ValidationError):
        Snapshot.model_validate(payload)


def test_book_from_snapshot_applies_emode_and_units():
    snap = sample_snapshot(400, seed=4)
    book = PositionBook.from_snapshot(snap)
    s = SYMBOLS.index("wstETH")
    emode_rows = [i for i, p in enumerate(snap.positions) if p.emode == 1]
    plain_rows = [i for i, p in enumerate(snap.positions) if p.emode == 0 and p.market == "aave-core" and "wstETH" in p.collateral]
    assert emode_rows
    assert np.all(book.liq_threshold[emode_rows, s] == 0.95)
    assert np.all(book.liq_bonus[emode_rows, s] == 1.01)
    assert all(book.liq_threshold[i, s] == 0.81 for i in plain_rows)
    # raw integer units -> tokens
    i = emode_rows[0]
    raw = snap.positions[i].collateral["wstETH"]
    assert book.collateral[i, s] == pytest.approx(raw / 1e18, rel=1e-15)
    # Morpho rows use the LLTV and the exact LIF
    m = [k for k, p in enumerate(snap.positions) if p.market.startswith("morpho:wstETH")][0]
    assert book.liq_threshold[m, s] == pytest.approx(0.945)
    assert book.liq_bonus[m, s] == pytest.approx(morpho_lif_wad(945 * 10**15) / 1e18)
    assert book.health_factor().min() > 1.0  # the sample starts healthy


def test_vectorized_synthetic_book_equals_the_snapshot_path():
    snap = sample_snapshot(300, seed=9)
    from_snapshot = PositionBook.from_snapshot(snap)
    direct = synthetic_book(300, seed=9)
    np.testing.assert_allclose(direct.collateral, from_snapshot.collateral, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(direct.debt, from_snapshot.debt, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(direct.liq_threshold, from_snapshot.liq_threshold)
    np.testing.assert_allclose(direct.liq_bonus, from_snapshot.liq_bonus, rtol=1e-6)
    np.testing.assert_array_equal(direct.venue, from_snapshot.venue)


def test_morpho_lif_matches_published_values():
    # protocols.md §2.6: LLTV 86% -> 1.0438, 94.5% -> 1.0168, 38.5% -> capped 1.15
    assert morpho_lif_wad(86 * 10**16) / 1e18 == pytest.approx(1.0438, abs=5e-5)
    assert morpho_lif_wad(945 * 10**15) / 1e18 == pytest.approx(1.0168, abs=5e-5)
    assert morpho_lif_wad(385 * 10**15) == 115 * 10**16


def test_same_seed_same_book_different_seed_differs():
    a, b, c = synthetic_book(500, seed=1), synthetic_book(500, seed=1), synthetic_book(500, seed=2)
    np.testing.assert_array_equal(a.collateral, b.collateral)
    assert not np.array_equal(a.collateral, c.collateral)


def test_book_arrays_are_read_only():
    book = synthetic_book(10)
    with pytest.raises(ValueError):
        book.collateral[0, 0] = 1.0


def test_risk_imports_no_io_libraries():
    code = (
        "import sys, risk, risk.bands, risk.cascade, risk.liquidation, risk.book, risk.sample, risk.snapshot\n"
        "import importlib, pkgutil\n"
        "for m in pkgutil.iter_modules(risk.__path__): importlib.import_module('risk.' + m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('web3', 'eth_abi', 'chain', 'requests', 'urllib3', 'aiohttp', 'sqlite3'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"risk/ pulled in I/O modules: {out}"
