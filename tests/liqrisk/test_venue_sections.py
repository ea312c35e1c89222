"""Venue plugins' report sections (:mod:`liqrisk.venues`) and snapshot payloads through the product:
the Liquity v2 section comes from its own module, lands in report.json under
``venue_sections.liquity_v2`` (valid against docs/report.schema.json), in report.md and report.html;
a run without Liquity has none; a report.json section or a snapshot payload no installed plugin
declares is one clear error. The snapshot is SYNTHETIC (tests/liqrisk/liquity_sample.py); the
devnet's Liquity v2 test double goes through the same section in tests/liqrisk/test_cli.py."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import ValidationError

from liqrisk.report import SCHEMA_PATH, ReportConfig, ReportDoc, compute_report, write_report
from liqrisk.sources import LoadedSnapshot
from liqrisk.venues import ReportSection, register_report_section, report_section, report_sections
from risk.sample import sample_snapshot
from tests.liqrisk.bad_input import C, check_case
from tests.liqrisk.liquity_sample import MARKET_ID, with_liquity_branch


@pytest.fixture(scope="module")
def liquity_report(tmp_path_factory):
    snap = with_liquity_branch(sample_snapshot(120, seed=4))
    result = compute_report(LoadedSnapshot(snap, "sample", "synthetic sample + Liquity branch"),
                            ReportConfig(monte_carlo=None))
    folder, doc = write_report(result, tmp_path_factory.mktemp("liquity-report"))
    return folder, doc


def test_the_liquity_section_registers_from_its_own_module():
    sections = {s.key: s for s in report_sections()}
    assert sections["liquity_v2"].module == "liqrisk.venues.liquity_v2"
    assert sections["liquity_v2"].anchor == "liquity"


def test_report_json_carries_the_section_and_validates(liquity_report):
    folder, _ = liquity_report
    document = json.loads((folder / "report.json").read_text())
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(document)
    (branch,) = document["venue_sections"]["liquity_v2"]["branches"]
    assert branch["market_id"] == MARKET_ID and branch["troves"] == 30
    hit = [s["troves_liquidated"] for s in branch["stress"]]
    assert hit == sorted(hit) and hit[-1] > 0  # deeper drawdowns liquidate more troves
    # the schema knows the section's fields: a wrong one is refused
    document["venue_sections"]["liquity_v2"]["branches"][0]["troves"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validators.validator_for(schema)(schema).validate(document)
    document["venue_sections"] = {"moonlend": {}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validators.validator_for(schema)(schema).validate(document)


def test_markdown_and_html_show_the_section(liquity_report):
    folder, _ = liquity_report
    html = (folder / "report.html").read_text()
    md = (folder / "report.md").read_text()
    for text in (html, md):
        assert "Liquity v2 branches" in text and MARKET_ID in text and "Redistributed" in text
    assert "id='liquity'" in html or 'id="liquity"' in html


def test_a_run_without_the_venue_has_no_section(tmp_path):
    result = compute_report(LoadedSnapshot(sample_snapshot(60, seed=4), "sample", "synthetic"),
                            ReportConfig(monte_carlo=None))
    folder, doc = write_report(result, tmp_path)
    assert doc.venue_sections == {}
    assert json.loads((folder / "report.json").read_text())["venue_sections"] == {}
    assert "Liquity v2 branches" not in (folder / "report.html").read_text()


def test_report_doc_refuses_an_undeclared_or_malformed_section(liquity_report):
    _, doc = liquity_report
    data = json.loads(doc.model_dump_json())
    assert ReportDoc.model_validate(data).venue_sections.keys() == {"liquity_v2"}
    with pytest.raises(ValidationError, match="moonlend: no installed venue plugin declares this report section"):
        ReportDoc.model_validate({**data, "venue_sections": {"moonlend": {}}})
    data["venue_sections"]["liquity_v2"]["branches"][0]["colour"] = "red"
    with pytest.raises(ValidationError, match=r"venue_sections\.liquity_v2\.branches\.0\.colour"):
        ReportDoc.model_validate(data)


def test_a_section_key_is_registered_once():
    liquity = report_section("liquity_v2")
    with pytest.raises(ValueError, match="registered twice"):
        register_report_section(ReportSection("liquity_v2", "x", "x", doc=liquity.doc, build=liquity.build,
                                              render=liquity.render, module="somewhere.else"))
    with pytest.raises(ValueError, match="identifier"):
        register_report_section(ReportSection("not-a-key", "x", "x", doc=liquity.doc, build=liquity.build,
                                              render=liquity.render, module=__name__))


def _snapshot_file(edit) -> str:
    data = json.loads(with_liquity_branch(sample_snapshot(20, seed=4), n_troves=4).to_json())
    edit(data)
    return json.dumps(data)


BAD_SNAPSHOTS = {
    "not-installed": (lambda d: d["venue_state"].update(moonlend={"vaults": []}),
                      ("venue_state", "moonlend", "no installed venue plugin")),
    "unknown-field": (lambda d: d["venue_state"]["liquity_v2"]["branches"][0].update(colour="red"),
                      ("venue_state", "liquity_v2.branches.0.colour", "unknown key")),
    "string-integer": (lambda d: d["venue_state"]["liquity_v2"]["branches"][0].update(price_wad="2000"),
                       ("venue_state", "liquity_v2.branches.0.price_wad")),
    "old-and-new": (lambda d: d.update(liquity_branches=d["venue_state"]["liquity_v2"]["branches"]),
                    ("liquity_branches", "both given")),
}


@pytest.mark.parametrize("name", sorted(BAD_SNAPSHOTS))
def test_a_bad_venue_payload_in_a_snapshot_file_is_one_clear_cli_error(name, tmp_path):
    edit, needles = BAD_SNAPSHOTS[name]
    case = C(f"snapshot-venue-state-{name}", "bands", "--source", "snapshot:{tmp}/snap.json", "-q",
             needles=("{tmp}/snap.json", *needles), files={"snap.json": _snapshot_file(edit)})
    check_case(case, tmp_path, "venue-sections")


def test_an_old_snapshot_file_runs_through_the_cli(tmp_path):
    def to_old(d):
        d["liquity_branches"] = d.pop("venue_state")["liquity_v2"]["branches"]

    case = C("snapshot-legacy-liquity", "bands", "--source", "snapshot:{tmp}/snap.json", "-q",
             files={"snap.json": _snapshot_file(to_old)})
    from tests.liqrisk.bad_input import ACCEPTED, run_case

    ran = run_case(case, tmp_path)
    assert ran.outcome == ACCEPTED, ran.detail
