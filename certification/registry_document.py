"""A registry document (`pts registry load FILE`) read into records, before any database work.

The document is a YAML mapping of sections, each a list of records: `providers`,
`accounts`, `approved_meters`, `systems`, `meters` (docs/certification.md). Every record is
checked against its schema here and every problem collected, so one refusal names them all
(`registry_refused`); text that is not such a mapping (not YAML, nested too deep, aliases,
too large: schemas.yaml_document) is `registry_unreadable`. Pure: text or data in, a
RegistryDocument or a Refused out. The rules that need the stored registry (a meter's system
exists, approved models, GIS units) are certification.workflows.load_registry's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from certification.errors import Refused
from certification.roles import Role
from schemas.registry import AccuracyClass, DasProvider, Meter, System
from schemas.yaml_document import YamlRefused, load_yaml

SECTIONS = ("providers", "accounts", "approved_meters", "systems", "meters")
_SHOWN = 120  # characters of a bad record quoted in a problem

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RegistryDocument:
    providers: list[DasProvider] = field(default_factory=list)
    systems: list[System] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)
    accounts: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, role, name, email
    approved: dict[str, AccuracyClass] = field(default_factory=dict)  # model → class


def read_registry_text(text: str | bytes, where: str = "registry") -> RegistryDocument:
    """The document of a registry file's text, or Refused saying what is wrong."""
    try:
        data = load_yaml(text, where)
    except YamlRefused as exc:
        raise Refused("registry_unreadable", str(exc)) from None
    return read_registry_document(data, where)


def load_yaml_registry(text: str | bytes, where: str = "registry") -> dict[str, Any] | None:
    """The parsed data of a registry file's text once every record passed its schema (what
    the workflows load), or Refused saying what is wrong."""
    try:
        data = load_yaml(text, where)
    except YamlRefused as exc:
        raise Refused("registry_unreadable", str(exc)) from None
    read_registry_document(data, where)
    return data  # type: ignore[no-any-return]


def read_registry_document(data: Any, where: str = "registry") -> RegistryDocument:
    """The document of parsed YAML data (None: empty), or Refused naming every problem."""
    if data is None:
        return RegistryDocument()
    if not isinstance(data, dict):
        raise Refused(
            "registry_unreadable",
            f"{where} must be a mapping of sections ({', '.join(SECTIONS)}), not "
            f"{type(data).__name__}",
        )
    problems: list[str] = []
    unknown = [str(k) for k in data if k not in SECTIONS]
    if unknown:
        problems.append(f"unknown sections {_shown(unknown)}; the sections are {list(SECTIONS)}")

    def records(section: str) -> list[Any]:
        found = data.get(section)
        if found is None:
            return []
        if not isinstance(found, list):
            problems.append(f"{section} must be a list of records, not {type(found).__name__}")
            return []
        return found

    def parse(section: str, build: Callable[[dict[str, Any]], _T], raw: Any) -> _T | None:
        if not isinstance(raw, dict):
            problems.append(f"{section}: {_shown(raw)} is not a record (key: value, …)")
            return None
        try:
            return build(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            place = ".".join(str(p) for p in error["loc"]) or "record"
            problems.append(f"{section} {_shown(raw)}: {place}: {error['msg']}")
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(f"{section} {_shown(raw)}: {_reason(exc)}")
        return None

    def model(kind: type[_M]) -> Callable[[dict[str, Any]], _M]:
        return kind.model_validate

    providers = [parse("providers", model(DasProvider), r) for r in records("providers")]
    systems = [parse("systems", model(System), r) for r in records("systems")]
    meters = [parse("meters", model(Meter), r) for r in records("meters")]
    accounts = [parse("accounts", _account, r) for r in records("accounts")]
    approved = [parse("approved_meters", _approved, r) for r in records("approved_meters")]
    if problems:
        raise Refused("registry_refused", f"{where}: " + "; ".join(problems))
    return RegistryDocument(
        providers=[p for p in providers if p is not None],
        systems=[s for s in systems if s is not None],
        meters=[m for m in meters if m is not None],
        accounts=[a for a in accounts if a is not None],
        approved=dict(a for a in approved if a is not None),
    )


def _text(raw: dict[str, Any], key: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if value is None:
        raise KeyError(key)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise TypeError(f"{key} must be text, not {type(value).__name__}")
    return str(value)


def _account(raw: dict[str, Any]) -> tuple[str, str, str, str]:
    role = _text(raw, "role")
    if role not in {r.value for r in Role}:
        raise ValueError(f"role {role!r} is not one of {[r.value for r in Role]}")
    return (_text(raw, "account_id"), role, _text(raw, "name", ""), _text(raw, "email", ""))


def _approved(raw: dict[str, Any]) -> tuple[str, AccuracyClass]:
    accuracy = _text(raw, "accuracy_class")
    if accuracy not in {a.value for a in AccuracyClass}:
        raise ValueError(
            f"accuracy_class {accuracy!r} is not one of {[a.value for a in AccuracyClass]}"
        )
    return _text(raw, "model"), AccuracyClass(accuracy)


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"{exc.args[0]} is missing"
    return str(exc)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
