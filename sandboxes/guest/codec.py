"""A closed, type-exact value codec: what an untrusted child may send back as a program's output, and how the
ground truth is stored (JSON, never pickle).

Encoded values are JSON arrays `[tag, ...]`:
  ["N"] None · ["B", 0|1] bool · ["I", hex] int · ["F", float.hex] float (nan, ±inf included) · ["C", re, im]
  complex · ["S", str] · ["Y", base64] bytes · ["L", [..]] list · ["T", [..]] tuple · ["D", [[k, v], ..]] dict ·
  ["E", [..]] set · ["Z", [..]] frozenset ·
  ["np", dtype, value]  a numpy bool/int/float/complex scalar (compared as numpy compares it);
  ["sub", qualname, value]  an instance of a subclass of one of the types above that does not define its own
      equality (namedtuple, defaultdict, OrderedDict, Counter, an enum of int ...): compared as its base type,
      but `type(out) == type(exp)` is false, as it is for the original object;
  ["opaque", qualname]  anything else (a generator, a re.Match, an object with its own __eq__): not a value; it
      only says the output was not None.
Decoding builds only the built-in types (and fresh, equality-free subclasses for "sub"), checks every tag and
bounds depth and size: whatever bytes a child sends, the judge compares plain data with no code of the child's.
Standard library only: the worker imports it inside minimal images and under Python 3.10.
"""

from __future__ import annotations

import base64
import json
from json.encoder import encode_basestring_ascii as _json_str  # what json.dumps writes for a str

MAX_DEPTH = 100
MAX_NODES = 5_000_000
MAX_BYTES = 256 << 20  # of one encoded output
_EQUALITY = ("__eq__", "__ne__", "__hash__", "__cmp__")
# stdlib subclasses whose __eq__ against their base type is the base type's (OrderedDict/Counter vs a dict)
_KNOWN_EQ = {"collections.OrderedDict", "collections.Counter"}


class CodecError(ValueError):
    pass


def _qualname(kind: type) -> str:
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}"


def encode(value) -> list:
    """`value` as codec data. Walks only with the built-in types' own methods (never the value's), so a subclass
    cannot change what is read."""
    return json.loads(_text(value))


def dumps(value) -> str:
    """`value` as codec text, in `dumps_data`'s canonical form. Written directly rather than as json.dumps(data):
    building the nested lists first made encoding three times slower, and the child encodes every output
    (HumanEval/130's canonical outputs are 1.6 M-item lists, 300 MB of text per check)."""
    text = _text(value)
    if len(text) > MAX_BYTES:
        raise CodecError("output too large to check")
    return text


def dumps_data(data: list) -> str:
    """Codec data as the text `dumps` writes: one canonical form, so equal texts are equal data."""
    return json.dumps(data, separators=(",", ":"))


def _text(value) -> str:
    parts: list[str] = []
    _write(value, 0, [0], parts)
    return "".join(parts)


def _write(value, depth: int, nodes: list, out: list) -> None:
    """Append the codec text of `value` to `out`: what json.dumps(data, separators=(",", ":")) writes for its
    codec data (strings through json's own ASCII escaper)."""
    nodes[0] += 1
    if nodes[0] > MAX_NODES or depth > MAX_DEPTH:
        raise CodecError("output too large or too deep to check")
    kind = type(value)
    if value is None:
        out.append('["N"]')
    elif kind is bool:
        out.append('["B",1]' if value else '["B",0]')
    elif kind is int:
        out.append('["I","' + int.__format__(value, "x") + '"]')
    elif kind is float:
        out.append('["F","' + float.hex(value) + '"]')
    elif kind is complex:
        out.append('["C","' + float.hex(complex.real.__get__(value)) + '","'
                   + float.hex(complex.imag.__get__(value)) + '"]')
    elif kind is str:
        out.append('["S",' + _json_str(value) + "]")
    elif kind is bytes:
        out.append('["Y","' + base64.b64encode(value).decode() + '"]')
    elif kind is list or kind is tuple or kind is set or kind is frozenset:
        out.append(_CONTAINER_OPEN[kind])
        _write_items(kind.__iter__(value), depth + 1, nodes, out)
        out.append("]]")
    elif kind is dict:
        out.append('["D",[')
        first = True
        for key, item in dict.items(value):
            out.append("[" if first else ",[")
            first = False
            _write(key, depth + 1, nodes, out)
            out.append(",")
            _write(item, depth + 1, nodes, out)
            out.append("]")
        out.append("]]")
    else:
        _write_other(value, kind, depth, nodes, out)


def _write_items(items, depth: int, nodes: list, out: list) -> None:
    """The items of a list/tuple/set, comma-separated. Exact ints and floats are written here without a call per
    item (the common large output is a long list of numbers); everything else goes through `_write`."""
    if depth > MAX_DEPTH:
        raise CodecError("output too large or too deep to check")
    append, first, count = out.append, True, nodes[0]
    for item in items:
        if not first:
            append(",")
        first = False
        kind = type(item)
        if kind is int or kind is float:
            count += 1
            if count > MAX_NODES:
                raise CodecError("output too large or too deep to check")
            append(('["I","' + int.__format__(item, "x") if kind is int else '["F","' + float.hex(item)) + '"]')
        else:
            nodes[0] = count
            _write(item, depth, nodes, out)
            count = nodes[0]
    nodes[0] = count


_CONTAINER_OPEN = {list: '["L",[', tuple: '["T",[', set: '["E",[', frozenset: '["Z",['}


def _write_other(value, kind: type, depth: int, nodes: list, out: list) -> None:
    """numpy scalars, equality-free subclasses of the value types, and everything else as a non-value."""
    if getattr(kind, "__module__", "") == "numpy" and hasattr(value, "dtype") and hasattr(value, "item"):
        char = getattr(value.dtype, "kind", "")
        if char in "biufc" and getattr(value, "shape", None) == ():
            out.append('["np",' + _json_str(str(value.dtype)) + ",")
            _write(_numpy_item(value), depth + 1, nodes, out)
            out.append("]")
            return
    base = _base_of(kind)
    if base is not None and not _defines_equality(kind, base):
        out.append('["sub",' + _json_str(_qualname(kind)) + ",")
        _write(_as_base(value, base), depth + 1, nodes, out)
        out.append("]")
        return
    out.append('["opaque",' + _json_str(_qualname(kind)) + "]")


def _base_of(kind: type):
    for base in (bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset):
        if issubclass(kind, base):
            return base
    return None


def _defines_equality(kind: type, base: type) -> bool:
    for klass in kind.__mro__:
        if klass is base:
            return False
        if any(name in vars(klass) for name in _EQUALITY) and _qualname(klass) not in _KNOWN_EQ:
            return True
    return False


def _numpy_item(value):
    item = value.item()
    kind = {"b": bool, "i": int, "u": int, "f": float, "c": complex}[value.dtype.kind]
    return kind(item)


def _as_base(value, base: type):
    """A built-in copy of a subclass instance, read with the base type's own methods."""
    if base in (list, tuple, set, frozenset):
        return base(base.__iter__(value))
    if base is dict:
        return dict(dict.items(value))
    if base is bool:
        return bool(int.__int__(value))
    if base is int:
        return int.__int__(value)
    if base is float:
        return float.__float__(value)
    if base is complex:
        return complex(complex.real.__get__(value), complex.imag.__get__(value))
    if base is str:
        return str.__str__(value)
    return bytes(bytes.__bytes__(value))




# --- decoding (the judge's side) --------------------------------------------------------------------------


class Opaque:
    """A non-value output: only its type's name is known (and that it was not None). No equality of its own
    beyond identity, so it equals nothing the ground truth holds."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self):
        return f"<output of type {self.type_name}>"


_SUBCLASSES: dict[tuple[str, type], type] = {}


def _subclass(name: str, base: type) -> type:
    """A fresh subclass of `base` named `name`, without equality of its own (bool cannot be subclassed: int)."""
    if base is bool:
        base = int
    key = (name, base)
    if key not in _SUBCLASSES:
        _SUBCLASSES[key] = type(name.rsplit(".", 1)[-1], (base,), {"__module__": "codec.sub"})
    return _SUBCLASSES[key]


def decode(data, depth: int = 0):
    """Codec data -> value; CodecError for anything malformed."""
    if depth > MAX_DEPTH + 2:
        raise CodecError("too deep")
    if type(data) is not list or not data or type(data[0]) is not str:
        raise CodecError("not codec data")
    tag, rest = data[0], data[1:]
    try:
        if tag == "N" and not rest:
            return None
        if tag == "B" and rest in ([0], [1]):
            return bool(rest[0])
        if tag == "I" and _strs(rest, 1):
            return int(rest[0], 16)
        if tag == "F" and _strs(rest, 1):
            return float.fromhex(rest[0])
        if tag == "C" and _strs(rest, 2):
            return complex(float.fromhex(rest[0]), float.fromhex(rest[1]))
        if tag == "S" and _strs(rest, 1):
            return rest[0]
        if tag == "Y" and _strs(rest, 1):
            return base64.b64decode(rest[0], validate=True)
        if tag in ("L", "T", "E", "Z") and len(rest) == 1 and type(rest[0]) is list:
            items = [decode(item, depth + 1) for item in rest[0]]
            return {"L": list, "T": tuple, "E": set, "Z": frozenset}[tag](items)
        if tag == "D" and len(rest) == 1 and type(rest[0]) is list:
            pairs = rest[0]
            if not all(type(p) is list and len(p) == 2 for p in pairs):
                raise CodecError("malformed dict")
            return {decode(k, depth + 1): decode(v, depth + 1) for k, v in pairs}
        if tag == "np" and len(rest) == 2 and type(rest[0]) is str:
            import numpy

            dtype = numpy.dtype(rest[0])
            if dtype.kind not in "biufc":  # numbers only: no object, string or structured scalars
                raise CodecError(f"numpy scalar of dtype {rest[0]!r}")
            return dtype.type(decode(rest[1], depth + 1))
        if tag == "sub" and len(rest) == 2 and type(rest[0]) is str:
            inner = decode(rest[1], depth + 1)
            base = _base_of(type(inner))
            if base is None:
                raise CodecError("subclass of a non-value")
            return _subclass(rest[0], base)(inner)
        if tag == "opaque" and _strs(rest, 1):
            return Opaque(rest[0])
    except (TypeError, ValueError, OverflowError) as exc:  # unhashable keys, bad hex/base64, bad dtype
        raise CodecError(f"malformed {tag}: {exc}") from None
    raise CodecError(f"unknown tag {tag!r}")


def _strs(rest: list, count: int) -> bool:
    return len(rest) == count and all(type(x) is str for x in rest)


def loads_data(text: str | bytes):
    """The codec data of an encoded text, not yet decoded (JSON only, with the size bound)."""
    if len(text) > MAX_BYTES:
        raise CodecError("output too large to check")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"not JSON: {exc}") from None


def loads(text: str | bytes):
    return decode(loads_data(text))


def type_name(data) -> str:
    """The type an encoded value stands for (for "output of type X cannot be checked")."""
    if type(data) is list and data and data[0] in ("opaque", "sub"):
        return str(data[1])
    if type(data) is list and data and data[0] == "np":
        return f"numpy.{data[1]}"
    return {"N": "NoneType", "B": "bool", "I": "int", "F": "float", "C": "complex", "S": "str", "Y": "bytes",
            "L": "list", "T": "tuple", "D": "dict", "E": "set", "Z": "frozenset"}.get(
        data[0] if type(data) is list and data else None, "?")
