"""Per-venue extra state on the Snapshot: the channel a venue plugin uses for what is not a market,
a position or a skip (``Snapshot.venue_state``).

Some venues need more than markets and positions to be modelled: Liquity v2 keeps per-branch
Stability Pool deposits, totals and the troves in redemption order; Sky keeps the Dog's global
liquidation limit. Such a venue declares a *state type* from its own files
(:func:`register_venue_state`, normally in its ``risk/venues/<venue>.py`` module, which
:mod:`risk.rules` imports before any Snapshot exists):

- ``key``: the key under ``Snapshot.venue_state`` (a JSON object key; by convention the rule name);
- ``model``: a :class:`VenueState` subclass (a frozen pydantic model, unknown fields refused like the
  rest of the snapshot, NaN/inf refused): how the payload is validated, serialised (``to_json``) and
  loaded (``from_json``, strict: ``"2000"`` where an integer belongs is an error);
- ``legacy_field``: optionally, a former top-level Snapshot field that held this state, so a snapshot
  file written before the venue moved onto this channel still loads (converted by ``from_legacy``
  at one boundary, ``Snapshot.from_json``, through :func:`convert_legacy_json`).

A payload whose key no installed plugin declares is an error naming the key and the declared ones
(the snapshot was written by a plugin that is not installed here); it is never dropped silently.

Several sources of one venue in a scan (two Liquity deployments) each give a payload; the scan joins
them with the model's :meth:`VenueState.combine` (by default more than one is an error).

This module imports only pydantic: ``risk/venues/*`` modules import it at module level.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError


class VenueState(BaseModel):
    """Base of a venue plugin's Snapshot payload (frozen, unknown fields refused, no NaN/inf)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @classmethod
    def combine(cls, states: Sequence["VenueState"]) -> "VenueState":
        """Join the payloads of several sources of this venue in one scan (source order). The
        default allows one; a venue whose state can be joined (lists of branches) overrides it."""
        if len(states) != 1:
            raise ValueError(f"{cls.__name__}: {len(states)} sources gave this venue state; it holds one "
                             "(override VenueState.combine to join them)")
        return states[0]


@dataclass(frozen=True)
class VenueStateType:
    """A declared payload: ``key`` under ``Snapshot.venue_state``, its ``model``, the declaring
    ``module``; ``legacy_field`` / ``from_legacy``: a former top-level Snapshot field and how its
    value becomes the payload's input (None: nothing to keep, e.g. an empty list)."""

    key: str
    model: type[VenueState]
    module: str
    legacy_field: str = ""
    from_legacy: Callable[[Any], Any | None] | None = None


class VenueStateError(ValueError):
    """A payload no installed plugin declares, or one its plugin's model refuses."""


_TYPES: dict[str, VenueStateType] = {}


def register_venue_state(new: VenueStateType) -> VenueStateType:
    """Declare a venue's Snapshot payload (at import of the venue's own module). A key declared
    twice by different modules, a non-identifier key or a model that is not a :class:`VenueState`
    is an error."""
    if not new.key.isidentifier():
        raise ValueError(f"venue state key {new.key!r} must be an identifier")
    if not (isinstance(new.model, type) and issubclass(new.model, VenueState)):
        raise TypeError(f"venue state {new.key!r}: model must subclass risk.venue_state.VenueState")
    if bool(new.legacy_field) != (new.from_legacy is not None):
        raise ValueError(f"venue state {new.key!r}: legacy_field and from_legacy go together")
    existing = _TYPES.get(new.key)
    if existing is not None and existing.module != new.module:
        raise ValueError(f"venue state {new.key!r} is registered twice ({existing.module} and {new.module})")
    clash = [t.key for t in _TYPES.values() if new.legacy_field and t.legacy_field == new.legacy_field and t.key != new.key]
    if clash:
        raise ValueError(f"venue state {new.key!r}: legacy field {new.legacy_field!r} is {clash[0]!r}'s already")
    _TYPES[new.key] = new
    return new


def _loaded() -> None:
    import risk.rules  # noqa: F401 - imports every risk/venues/* module and the liqrisk.rules entry points


def venue_state_types() -> tuple[VenueStateType, ...]:
    """Declared payloads, sorted by key."""
    _loaded()
    return tuple(_TYPES[k] for k in sorted(_TYPES))


def venue_state_type(key: str) -> VenueStateType:
    """The declared payload ``key``; an undeclared key raises :class:`VenueStateError`."""
    _loaded()
    found = _TYPES.get(key)
    if found is None:
        declared = ", ".join(sorted(_TYPES)) or "none"
        raise VenueStateError(f"{key}: no installed venue plugin declares this venue state (declared: "
                              f"{declared}); the snapshot was written with a venue plugin that is not installed here")
    return found


def _where(error: ValidationError, key: str) -> str:
    """The payload's problems, each as ``<key>.<field path>: <what>`` (the Snapshot's error names
    ``venue_state`` before it)."""
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item.get("loc", ()))
        text = (f"unknown key (not part of the {key} venue state; check the spelling)"
                if item.get("type") == "extra_forbidden" else item.get("msg", ""))
        parts.append(f"{key}{'.' + loc if loc else ''}: {text}")
    return "; ".join(parts)


def validate_venue_state(raw: Any, *, from_json: bool) -> dict[str, VenueState]:
    """``Snapshot.venue_state`` from its input: each payload validated by its declared model (from a
    JSON file strictly, as the rest of the snapshot), keys sorted."""
    if not isinstance(raw, Mapping):
        raise VenueStateError("venue_state must be an object: venue state key -> payload")
    out: dict[str, VenueState] = {}
    for key in sorted(raw):
        model = venue_state_type(key).model
        value = raw[key]
        if isinstance(value, model):
            out[key] = value
            continue
        try:
            # From a file the value is parsed JSON: validate it as JSON, strictly (tuples from arrays,
            # no "2000" for an integer), exactly as Snapshot.from_json validates its own fields.
            out[key] = (model.model_validate_json(json.dumps(value), strict=True) if from_json
                        else model.model_validate(value))
        except ValidationError as exc:
            raise VenueStateError(_where(exc, key)) from None
    return out


def convert_legacy_json(text: str | bytes) -> str | bytes:
    """Snapshot JSON written before a venue moved onto ``venue_state`` (the one conversion boundary,
    :meth:`risk.snapshot.Snapshot.from_json`): each declared legacy top-level field becomes its
    payload. Text without any legacy field name is returned as is, unparsed."""
    raw = text.encode() if isinstance(text, str) else text
    names = [t.legacy_field for t in venue_state_types() if t.legacy_field]
    if not any(f'"{name}"'.encode() in raw for name in names):
        return text
    try:
        data = json.loads(raw)
    except ValueError:
        return text  # not JSON: the snapshot's own parser says so
    converted = convert_legacy_fields(data)
    return text if converted is data else json.dumps(converted)


def convert_legacy_fields(data: Any) -> Any:
    """Parsed Snapshot JSON with each declared legacy top-level field moved to its payload under
    ``venue_state`` (a new dict), or ``data`` itself when it has none."""
    if not isinstance(data, dict):
        return data
    types = [t for t in venue_state_types() if t.legacy_field and t.legacy_field in data]
    if not types:
        return data
    data = dict(data)
    state = dict(data.get("venue_state") or {})
    for t in types:
        value = data.pop(t.legacy_field)
        assert t.from_legacy is not None
        converted = t.from_legacy(value)
        if converted is None:
            continue
        if t.key in state:  # a ValidationError like every other problem of the file (loaders catch it)
            raise ValidationError.from_exception_data("Snapshot", [{
                "type": PydanticCustomError("legacy_conflict", "{msg}", {"msg": (
                    f"{t.legacy_field} and venue_state.{t.key} are both given (the first is the old name of the "
                    "second): keep one")}),
                "loc": (t.legacy_field,), "input": value}])
        state[t.key] = converted
    data["venue_state"] = state
    return data


def combine_venue_states(by_key: Mapping[str, Sequence[VenueState]]) -> dict[str, VenueState]:
    """The scan's ``venue_state``: the payloads each source gave, joined per key by the model."""
    return {key: venue_state_type(key).model.combine(list(states)) for key, states in sorted(by_key.items()) if states}


__all__ = ["VenueState", "VenueStateError", "VenueStateType", "combine_venue_states", "convert_legacy_fields", "convert_legacy_json",
           "register_venue_state", "validate_venue_state", "venue_state_type", "venue_state_types"]
