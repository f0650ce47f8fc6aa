"""Method options: one pydantic model per method, one parser, one way to describe them.

Every method declares ``Options``, a subclass of :class:`MethodOptions` whose fields are the
method's settings: ``Literal`` types for choices, ``Field`` constraints for ranges and a
``description`` that is the option's help text (``valuesim bench --list-methods`` prints it).
:func:`parse_options` validates user input against it (strings from the command line are
coerced: ``k="7"`` becomes ``7``) and turns every failure into one :class:`ConfigError`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo

from valuesim.errors import validation_error


class MethodOptions(BaseModel):
    """Base of every method's options: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=MethodOptions)


def parse_options(model: type[OptionsT], method: str, options: Mapping[str, Any]) -> OptionsT:
    """``model(**options)``, with a validation failure raised as a :class:`ConfigError`."""
    try:
        return model(**options)
    except ValidationError as e:
        allowed = ", ".join(f"{d.name}={d.default_text}" for d in describe_options(model))
        raise validation_error(
            f"option for method {method!r}",
            e,
            f"Options (defaults): {allowed or 'none'}. Meanings: `valuesim bench --list-methods`.",
        ) from None


@dataclass(frozen=True)
class OptionDoc:
    """One option as the user sees it: ``-o name=value``."""

    name: str
    type: str  # "int >= 1", "facts|narrative|raw|none", ...
    default: Any
    help: str

    @property
    def default_text(self) -> str:
        d = self.default
        if isinstance(d, (tuple, list)):
            return ",".join(str(x) for x in d)
        return "null" if d is None else str(d).lower() if isinstance(d, bool) else str(d)


def _type_text(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "|".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [_type_text(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin in (tuple, list):
        inner = args[0] if args else Any
        return f"comma-separated {_type_text(inner)}"
    if origin in (dict, Mapping):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(info: FieldInfo) -> str:
    out = []
    for m in info.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {v}")
    return " ".join(out)


def describe_options(model: type[MethodOptions]) -> list[OptionDoc]:
    """The options of *model* in declaration order, with type, default and help text."""
    docs = []
    for name, info in model.model_fields.items():
        kind = _type_text(info.annotation)
        bounds = _constraints(info)
        default = info.get_default(call_default_factory=True)  # {} for default_factory=dict, not "undefined"
        docs.append(OptionDoc(name, f"{kind} {bounds}".strip(), default, info.description or ""))
    return docs


def with_defaults(base: type[OptionsT], name: str, doc: str | None = None, **defaults: Any) -> type[OptionsT]:
    """A subclass of *base* whose fields keep their type, constraints and help text but
    have other defaults (e.g. the LLM baselines: the ValueSim pipeline with one module)."""
    unknown = sorted(set(defaults) - set(base.model_fields))
    if unknown:
        raise TypeError(f"{base.__name__} has no field(s) {', '.join(unknown)}")
    fields: dict[str, Any] = {}
    for key, value in defaults.items():
        info = FieldInfo.merge_field_infos(base.model_fields[key], default=value)
        fields[key] = (base.model_fields[key].annotation, info)
    model = create_model(name, __base__=base, __doc__=doc or base.__doc__, **fields)
    _DERIVED[model] = base
    return typing.cast(type[OptionsT], model)


_DERIVED: dict[type[MethodOptions], type[MethodOptions]] = {}


def defaults_of(model: type[MethodOptions]) -> type[MethodOptions] | None:
    """The options model *model* was made from by :func:`with_defaults` (None: a model of its own)."""
    return _DERIVED.get(model)
