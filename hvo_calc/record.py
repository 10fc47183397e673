"""Records: what the plan path builds (profiles, kernel data, requests, the plan report) as
frozen dataclasses, so a plan runs without pydantic's model machinery: loading it and building
the models' validators took a one-pool plan about 90 ms, more than half of what the imports it
cannot avoid take (start-up, issue 20).

Their own data is checked where it comes in: `build` takes TOML-shaped data (a profile, the
kernel data, options) and checks every key and type against the record's fields; each
record's `__post_init__` checks what its types cannot say. pydantic stays at the edges, and
is imported only there: a report read back (`read`), a published schema (`adapter`), a
plan report inside another report (inspect, compare). The hooks below tell it what a
dataclass cannot: a field renamed in a major schema version keeps its old name one major
version as a deprecated read-only alias in the JSON (`renamed`: old name -> new), and a
report read back takes either name.

Every field of a report carries a description (`field`), which the schema publishes.

`frozen` and `mutable` are dataclasses for the engine's and the verifier's own values (fields
given in order, no data to check) with the same methods written once.
"""

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, ClassVar, Literal, TypeVar

R = TypeVar("R")
T = TypeVar("T", bound=type)


def field(*, description: str, default: Any = dataclasses.MISSING, default_factory: Any = dataclasses.MISSING) -> Any:
    """A field with its description (and a default, where given): the schema publishes it."""
    return dataclasses.field(metadata={"description": description}, default=default, default_factory=default_factory)


@typing.dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(dataclasses.field, field))
def record(cls: T) -> T:
    """A record class: a dataclass whose fields are given by name, in declaration order, and set
    once. Comparing, hashing, printing and refusing a second assignment are `Record`'s, written
    once: the dataclass methods made for each class (frozen, eq, repr) would cost the plan
    about a millisecond a class at start-up."""
    return typing.cast(T, dataclasses.dataclass(kw_only=True, eq=False, repr=False)(cls))


# What dataclass would make for each class (frozen, eq, repr, hash), written once for every
# record and value class: made per class, they cost start-up about 0.7 ms a class.


def _field_values(item: Any) -> tuple[Any, ...]:
    return tuple(getattr(item, f.name) for f in dataclasses.fields(item))


def _set_once(item: Any, name: str, value: Any) -> None:
    if name not in item.__dataclass_fields__:  # a misspelt field is an error, not a new attribute
        raise AttributeError(f"{type(item).__name__} has no field {name!r}")
    if name in item.__dict__:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(item, name, value)


def _no_delete(item: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _eq(item: Any, other: object) -> bool:
    if other.__class__ is not item.__class__:
        return NotImplemented  # type: ignore[no-any-return]
    return _field_values(item) == _field_values(other)


def _hash(item: Any) -> int:
    return hash((item.__class__, _field_values(item)))


def _repr(item: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(item, f.name)!r}" for f in dataclasses.fields(item))
    return f"{item.__class__.__qualname__}({shown})"


@typing.dataclass_transform(frozen_default=True)
def frozen(cls: T) -> T:
    """A frozen dataclass for the engine's and the verifier's own values, fields given in
    order: set once, compared, hashed and printed by its fields, as dataclass(frozen=True)
    would, by the functions above."""
    made: Any = dataclasses.dataclass(eq=False, repr=False)(cls)
    made.__setattr__, made.__delattr__ = _set_once, _no_delete
    made.__eq__, made.__hash__, made.__repr__ = _eq, _hash, _repr
    return typing.cast(T, made)


@typing.dataclass_transform()
def mutable(cls: T) -> T:
    """A dataclass for state the engine changes as it goes (counts, logs): compared and
    printed by its fields, as dataclass would, and not hashable."""
    made: Any = dataclasses.dataclass(eq=False, repr=False)(cls)
    made.__eq__, made.__hash__, made.__repr__ = _eq, None, _repr
    return typing.cast(T, made)


class RecordError(ValueError):
    """Data that does not fit a record: where (a dotted key) and what is wrong."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where or '(top level)'}: {problem}")
        self.where, self.problem = where, problem


class Record:
    """The base of every record: pydantic, where a record meets it, reads `renamed` too."""

    renamed: ClassVar[dict[str, str]] = {}
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]  # set by `record` on each class
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}  # read back: no unknown keys

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """The dataclass as pydantic reads it, taking the old names; its JSON carries them too."""
        from pydantic_core import core_schema

        schema = handler(source)
        if not cls.renamed:
            return schema

        def aliases(value: Any, serialize: Any) -> Any:
            data = serialize(value)
            if not isinstance(data, dict):
                return data
            return {**data, **{old: data[new] for old, new in cls.renamed.items() if new in data}}

        ref = schema.pop("ref", None)  # other uses of the class refer to the wrapped schema
        return core_schema.no_info_before_validator_function(
            partial(read_renamed, cls.renamed),
            schema,
            ref=ref,
            serialization=core_schema.wrap_serializer_function_ser_schema(aliases, schema=schema),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> Any:
        """The published schema lists each old name as a deprecated read-only alias."""
        result = handler(schema)
        if cls.renamed and handler.mode == "serialization":
            target = handler.resolve_ref_schema(result)
            for old, new in cls.renamed.items():
                if old in target["properties"]:
                    continue  # the schema of a class used twice is the same dict
                target["properties"][old] = {
                    **target["properties"][new],
                    "description": f"deprecated alias of {new} (its 1.x name); gone in 3.0",
                    "readOnly": True,
                    "title": old.replace("_", " ").title(),
                }
                target["properties"][old].pop("default", None)
                target.setdefault("required", []).append(old)
        return result

    __setattr__, __delattr__ = _set_once, _no_delete
    __eq__, __hash__, __repr__ = _eq, _hash, _repr

    def __post_init__(self) -> None:
        """A value given in its written form reads as its field's type (a size "2M" as bytes),
        whether the record is built from data or made in code."""
        for name, parse in _parsers(type(self)):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse(value))


def read_renamed(renamed: Mapping[str, str], data: Any) -> Any:
    """Data read back with a field's old name (`renamed`: old -> new) under the new one; both
    names given must agree."""
    if not renamed or not isinstance(data, dict):
        return data
    data = dict(data)
    for old, new in renamed.items():
        if old in data:
            value = data.pop(old)
            if new in data and data[new] != value:
                raise ValueError(f"{old} (the old name of {new}) is {value!r} and {new} is {data[new]!r}")
            data[new] = value
    return data


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def values(item: Any, names: typing.Iterable[str] | None = None) -> dict[str, Any]:
    """A record's fields (those named, in field order), one level deep: nested records stay records."""
    wanted = None if names is None else set(names)
    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item) if wanted is None or f.name in wanted}


def plain(item: Any) -> Any:
    """A record as JSON data: fields in order, then the deprecated old names; tuples as lists."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        data = {f.name: plain(getattr(item, f.name)) for f in dataclasses.fields(item)}
        renamed: dict[str, str] = getattr(item, "renamed", {})
        return {**data, **{old: data[new] for old, new in renamed.items()}}
    if isinstance(item, (list, tuple)):
        return [plain(v) for v in item]
    if isinstance(item, dict):
        return {k: plain(v) for k, v in item.items()}
    return item


def to_json(item: Any) -> str:
    """A record as its report's JSON: two-space indent, the fields' order, text as UTF-8, as
    pydantic writes the other reports (and a plan inside them: tests/test_record.py holds the
    two to the same bytes)."""
    return json.dumps(plain(item), indent=2, ensure_ascii=False)


# -- data coming in: checked against the record's field types --


def build(cls: type[R], data: Mapping[str, Any], where: str = "") -> R:
    """A record from TOML-shaped data, every key and value checked against its fields."""
    return typing.cast(R, _record(cls, data, where))


def _record(cls: type, data: object, where: str) -> object:
    if not isinstance(data, Mapping):
        raise RecordError(where, f"expected a table, not {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        accepted = ", ".join(fields)
        raise RecordError(_key(where, str(unknown[0])), f"Extra inputs are not permitted; accepted keys: {accepted}")
    missing = [name for name, f in fields.items() if name not in data and _required(f)]
    if missing:
        raise RecordError(_key(where, missing[0]), "missing")
    hints = _hints(cls)
    checked = {name: _value(hints[name], value, _key(where, name)) for name, value in data.items()}
    try:
        return cls(**checked)
    except ValueError as exc:  # a record's own checks
        if isinstance(exc, RecordError):
            raise RecordError(_key(where, exc.where), exc.problem) from None
        raise RecordError(where, str(exc)) from None


_HINTS: dict[type, dict[str, Any]] = {}
_PARSERS: dict[type, tuple[tuple[str, Callable[[Any], Any]], ...]] = {}
_ADAPTERS: dict[type, Any] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, include_extras=True)
    return _HINTS[cls]


def _parsers(cls: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """The fields annotated `Annotated[T, parse]` (or that or None), with their `parse`."""
    if cls not in _PARSERS:
        _PARSERS[cls] = _find_parsers(cls)
    return _PARSERS[cls]


def _find_parsers(cls: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    found = []
    for name, kind in _hints(cls).items():
        kinds = typing.get_args(kind) if typing.get_origin(kind) in (types.UnionType, typing.Union) else (kind,)
        for each in kinds:
            if typing.get_origin(each) is typing.Annotated:
                found += [(name, parse) for parse in typing.get_args(each)[1:] if callable(parse)]
    return tuple(found)


def _required(f: "dataclasses.Field[Any]") -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where and name else where or name


def _value(kind: Any, value: object, where: str) -> object:
    """`value` as `kind` (a type hint), or a RecordError saying what was expected."""
    if kind is Any or kind is object:
        return value
    check = _BY_ORIGIN.get(typing.get_origin(kind))
    if check is not None:
        return check(typing.get_args(kind), value, where)
    if dataclasses.is_dataclass(kind):
        if isinstance(value, typing.cast(type, kind)):
            return value  # a record made already (a request built from another)
        return _record(typing.cast(type, kind), value, where)
    return _scalar(kind, value, where)


def _annotated(args: tuple[Any, ...], value: object, where: str) -> object:
    """Annotated[int, parse]: `parse` reads the value first (a size, "2M")."""
    for parse in args[1:]:
        if callable(parse):
            value = _parsed(parse, value, where)
    return _value(args[0], value, where)


def _literal(args: tuple[Any, ...], value: object, where: str) -> object:
    if value not in args:
        raise RecordError(where, f"expected one of {', '.join(repr(a) for a in args)}, not {value!r}")
    return value


def _table(args: tuple[Any, ...], value: object, where: str) -> object:
    if not isinstance(value, Mapping):
        raise RecordError(where, f"expected a table, not {_name(value)}")
    return {_value(args[0], k, where): _value(args[1], v, _key(where, str(k))) for k, v in value.items()}


def _parsed(parse: Callable[[Any], object], value: object, where: str) -> object:
    try:
        return parse(value)
    except ValueError as exc:
        raise RecordError(where, str(exc)) from None


def _union(args: tuple[Any, ...], value: object, where: str) -> object:
    if value is None and type(None) in args:
        return None
    problems = []
    for arg in (a for a in args if a is not type(None)):
        try:
            return _value(arg, value, where)
        except RecordError as exc:
            problems.append(exc.problem)
    raise RecordError(where, problems[0] if len(problems) == 1 else " or ".join(problems))


def _tuple(args: tuple[Any, ...], value: object, where: str) -> object:
    return _sequence(tuple, args, value, where)


def _list(args: tuple[Any, ...], value: object, where: str) -> object:
    return _sequence(list, args, value, where)


def _sequence(origin: type, args: tuple[Any, ...], value: object, where: str) -> object:
    if not isinstance(value, (list, tuple)):
        raise RecordError(where, f"expected a list, not {_name(value)}")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise RecordError(where, f"expected {len(args)} items, not {len(value)}")
        return tuple(_value(a, v, f"{where}.{i}") for i, (a, v) in enumerate(zip(args, value)))
    items = [_value(args[0], v, f"{where}.{i}") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _scalar(kind: type, value: object, where: str) -> object:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise RecordError(where, f"expected {_NAMES.get(kind, kind.__name__)}, not {_name(value)}")


_BY_ORIGIN: dict[Any, Callable[[tuple[Any, ...], object, str], object]] = {
    typing.Annotated: _annotated,
    types.UnionType: _union,
    typing.Union: _union,
    Literal: _literal,
    tuple: _tuple,
    list: _list,
    dict: _table,
}
_NAMES = {int: "an integer", str: "a string", bool: "true or false", float: "a number"}


def _name(value: object) -> str:
    return f"{type(value).__name__} {value!r}" if isinstance(value, (int, float, str, bool)) else type(value).__name__


# -- the edges: pydantic, imported only here --


def adapter(cls: type) -> Any:
    """pydantic's adapter of a record, built once, where a record is read back or published."""
    if cls not in _ADAPTERS:
        from pydantic import TypeAdapter

        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def read(cls: type[R], data: Any) -> R:
    """A record read back from JSON text (or data): pydantic checks it (pydantic.ValidationError)."""
    if isinstance(data, (str, bytes)):
        return typing.cast(R, adapter(cls).validate_json(data))
    return typing.cast(R, adapter(cls).validate_python(data))


def replace(item: R, **changes: Any) -> R:
    """A copy of a record with some fields changed, checked again."""
    return typing.cast(R, dataclasses.replace(typing.cast(Any, item), **changes))
