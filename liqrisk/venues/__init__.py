"""Report sections contributed by venue plugins: a venue whose risk needs more than the shared
tables (bands, markets, cascade) adds its own section to report.json and report.html/.md from its
own files, with no edit to :mod:`liqrisk.report`.

A section (:class:`ReportSection`) declares:

- ``key``: its key under ``ReportDoc.venue_sections`` in report.json (by convention the rule name);
- ``doc``: the pydantic model of its JSON document (part of ``docs/report.schema.json``: the schema
  lists every registered section under ``venue_sections``);
- ``build(result)``: the document from the :class:`liqrisk.report.ReportResult` (the snapshot,
  e.g. its ``Snapshot.venue_state``, the driver, betas and drawdowns), or None when the run has
  nothing of the venue (then the section is left out);
- ``render(doc)``: the section's paragraphs and tables (header, rows), drawn in the HTML and
  Markdown report after the Markets section, in key order;
- ``title`` / ``anchor``: the heading and the HTML anchor.

Registration: every module of this package (``liqrisk/venues/*.py``, sorted by name) and every entry
point of group ``liqrisk.report_sections`` is imported on first use and calls
:func:`register_report_section`. A report.json section whose key no installed plugin declares is an
error naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

ENTRY_POINT_GROUP = "liqrisk.report_sections"

Table = tuple[list[str], list[list[str]]]
"""A report table: header cells, rows of cells."""


@dataclass(frozen=True)
class ReportSection:
    """A venue plugin's report section (see the module docstring)."""

    key: str
    title: str
    anchor: str
    doc: type[BaseModel]
    build: Callable[[Any], BaseModel | None]
    render: Callable[[Any], tuple[list[str], list[Table]]]
    module: str


_SECTIONS: dict[str, ReportSection] = {}
_LOADED = False


def register_report_section(new: ReportSection) -> ReportSection:
    """Register a section (at import of the venue's module). A key registered twice by different
    modules, a non-identifier key or a ``doc`` that is not a pydantic model is an error."""
    if not new.key.isidentifier():
        raise ValueError(f"report section key {new.key!r} must be an identifier")
    if not (isinstance(new.doc, type) and issubclass(new.doc, BaseModel)):
        raise TypeError(f"report section {new.key!r}: doc must be a pydantic model")
    existing = _SECTIONS.get(new.key)
    if existing is not None and existing.module != new.module:
        raise ValueError(f"report section {new.key!r} is registered twice ({existing.module} and {new.module})")
    _SECTIONS[new.key] = new
    return new


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from risk.plugins import plugin_module_names

    for module in plugin_module_names(__name__, __path__, ENTRY_POINT_GROUP):
        importlib.import_module(module)


def report_sections() -> tuple[ReportSection, ...]:
    """Registered sections, sorted by key."""
    _load()
    return tuple(_SECTIONS[k] for k in sorted(_SECTIONS))


def report_section(key: str) -> ReportSection:
    """The registered section ``key``; an unknown key is a ValueError naming the registered ones."""
    _load()
    found = _SECTIONS.get(key)
    if found is None:
        raise ValueError(f"venue_sections.{key}: no installed venue plugin declares this report section "
                         f"(declared: {', '.join(sorted(_SECTIONS)) or 'none'})")
    return found


def build_sections(result: Any) -> dict[str, BaseModel]:
    """Every registered section's document for a report result (sections with nothing left out)."""
    out: dict[str, BaseModel] = {}
    for section in report_sections():
        doc = section.build(result)
        if doc is not None:
            out[section.key] = doc
    return out


def validate_sections(raw: Any) -> dict[str, BaseModel]:
    """``ReportDoc.venue_sections`` from its input, each document validated by its section's model."""
    if not isinstance(raw, Mapping):
        raise ValueError("venue_sections must be an object: section key -> document")
    out: dict[str, BaseModel] = {}
    for key in sorted(raw):
        model, value = report_section(key).doc, raw[key]
        try:
            out[key] = value if isinstance(value, model) else model.model_validate(value)
        except ValidationError as exc:
            raise ValueError("; ".join(f"venue_sections.{key}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                       for e in exc.errors())) from None
    return out


def sections_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (the report's JSON schema) with ``venue_sections`` listing every registered section's
    document schema (their definitions joined into ``$defs``)."""
    defs = schema.setdefault("$defs", {})
    props: dict[str, Any] = {}
    for section in report_sections():
        sub = section.doc.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        defs[section.doc.__name__] = sub
        props[section.key] = {"$ref": f"#/$defs/{section.doc.__name__}"}
    node = schema["properties"]["venue_sections"]
    node.update({"type": "object", "properties": props, "additionalProperties": False})
    schema["$defs"] = dict(sorted(defs.items()))
    return schema


__all__ = ["ENTRY_POINT_GROUP", "ReportSection", "Table", "build_sections", "register_report_section",
           "report_section", "report_sections", "sections_schema", "validate_sections"]
