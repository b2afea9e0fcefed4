"""Frames over a byte stream, and the values they carry, with nothing that runs code when read.

A **frame** is::

    b"XAIF"  header length (4 bytes, big-endian)  payload count (4 bytes)
    header   (UTF-8 JSON: objects, arrays, strings, numbers, true/false/null)
    payload  (8-byte big-endian length, then the bytes), repeated payload-count times

within ``MAX_HEADER`` bytes of header, ``MAX_PAYLOADS`` payloads and ``MAX_PAYLOAD`` bytes each.

A **value** is a JSON tree in the header, binary data in the payloads (the tree names them by index):

============================  ==============================================================
``None``, bool, int, str      themselves
float                         ``{"float": float.hex(x)}`` (exact; inf and nan too)
complex                       ``{"complex": [hex, hex]}``
``...``                       ``{"ellipsis": true}``
list, tuple, set, frozenset   ``{"list": [...]}``, ``{"tuple": [...]}``, ``{"set": ...}``, ``{"frozenset": ...}``
dict                          ``{"dict": [[key, value], ...]}`` (any encodable keys, in order)
numpy array / number          ``{"npy": i}`` (``"scalar": true`` for a numpy number): payload ``i`` in
                              ``.npy`` format, written and read with ``allow_pickle=False``; numbers,
                              booleans and text only, never an object or structured dtype
numpy object array            ``{"objects": [...items], "shape": [...]}``
torch tensor                  ``{"tensor": i, "dtype": "torch.float64", "requires_grad": b}`` (its
                              values as ``.npy``; the autograd graph does not travel)
a torch layer of ``LAYERS``   ``{"torch_module": "Linear", "args": {...}, "children": [[name, ...], ...],
                              "state": [[name, tensor], ...]}``: rebuilt as ``torch.nn.Linear(**args)`` (a
                              ``Sequential`` from its children), in the dtype of its parameters, then
                              ``load_state_dict(strict=True)``; any other module is opaque
a class of ``RECORDS``        ``{"record": "reference.maxnets.MaxNet", "fields": [[name, value], ...]}``:
                              rebuilt by calling the class with its fields (a network a check hands to the
                              student's function, with its methods); the fields of a data class, or of a
                              torch module its constructor's parameters, which then also sends ``"state"``
                              (loaded strictly) and ``"training"``; any other class is opaque
SymPy object                  ``{"sympy": i}``: payload ``i`` is ``sympy.srepr`` text, read back by
                              :mod:`autograder.remote.srepr` (never ``eval``)
a callable                    ``{"function": ...}``: what the ``functions`` hook of :func:`encode`
                              returns for it (a handle), turned back by the hook of :func:`decode`; a
                              class only if the notebook defined it (``__main__``)
anything else                 ``{"opaque": "TypeName"}``: decoded as an instance of an empty class of
                              that name, so that a check's "expected an array, got a Foo" still reads
============================  ==============================================================

A frame or value that breaks these rules (a pickled ``.npy``, a zip, a length beyond the limits, a
frame cut short, an ``srepr`` calling ``__import__``) is a :class:`WireError` saying what is wrong.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import inspect
import io
import json
import struct
import sys

import numpy as np
import sympy

from . import srepr

MAGIC = b"XAIF"
MAX_HEADER = 8 << 20
MAX_PAYLOADS = 4096
MAX_PAYLOAD = 256 << 20
MAX_DEPTH = 100
MAX_LAYER_SIZE = 1 << 24   # weights of one torch layer a frame may ask to build
NPY_KINDS = "biufcmMUS"   # booleans, numbers, dates, text: no objects, no structured records
# Classes that travel as their name and fields (a data class's fields, a torch module's constructor arguments
# and state; nothing else of them is sent, and the receiver calls the class it has itself).
RECORDS = frozenset({"reference.maxnets.MaxNet", "reference.torch_functions.Linear",
                     "reference.torch_functions.TanhSum", "reference.torch_functions.Score",
                     "reference.torch_functions.InputShare",
                     "reference.black_boxes.CurvedBoundary", "reference.black_boxes.Polynomial",
                     "reference.gap_cnn.GapCNN", "reference.thesis.cells.RecurrentClassifier",
                     "reference.thesis.cells.NegBiasLinear"})
# torch layers that travel as their class name, constructor arguments and state (what each argument is read from).
LAYERS = {
    "Linear": ("in_features", "out_features", ("bias", lambda m: m.bias is not None)),
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", ("bias", lambda m: m.bias is not None)),
    "ReLU": (), "Tanh": (), "Sigmoid": (), "Softplus": ("beta", "threshold"), "Flatten": ("start_dim", "end_dim"),
    "AdaptiveAvgPool2d": ("output_size",), "Dropout": ("p",), "Identity": (), "Sequential": (),
}
_PREFIX = struct.Struct(">4sII")
_LENGTH = struct.Struct(">Q")


class WireError(ValueError):
    """A frame or an encoded value that this codec refuses."""


# --- frames ------------------------------------------------------------------------------------

def _read_exactly(stream, n: int, what: str) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            if got == 0 and what == "frame prefix":
                raise EOFError("the stream ended")
            raise WireError(f"truncated frame: the {what} needs {n} bytes, the stream ended after {got}")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def write_frame(stream, header: dict, payloads: list[bytes] = ()) -> None:
    """Write one frame (see the module docstring) and flush."""
    text = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    if len(text) > MAX_HEADER or len(payloads) > MAX_PAYLOADS or any(len(p) > MAX_PAYLOAD for p in payloads):
        raise WireError(f"frame too large: a header of {len(text)} bytes, {len(payloads)} payloads "
                        f"(limits {MAX_HEADER}, {MAX_PAYLOADS} of {MAX_PAYLOAD} bytes)")
    parts = [_PREFIX.pack(MAGIC, len(text), len(payloads)), text]
    for p in payloads:
        parts += [_LENGTH.pack(len(p)), bytes(p)]
    stream.write(b"".join(parts))
    stream.flush()


def read_frame(stream) -> tuple[dict, list[bytes]]:
    """``(header, payloads)`` of the next frame; ``EOFError`` if the stream ended before it began."""
    magic, size, count = _PREFIX.unpack(_read_exactly(stream, _PREFIX.size, "frame prefix"))
    if magic != MAGIC:
        raise WireError(f"not a frame: it starts with {magic!r}, not {MAGIC!r}")
    if size > MAX_HEADER:
        raise WireError(f"a header of {size} bytes is longer than the limit of {MAX_HEADER}")
    if count > MAX_PAYLOADS:
        raise WireError(f"{count} payloads are more than the limit of {MAX_PAYLOADS}")
    try:
        header = json.loads(_read_exactly(stream, size, "header").decode("utf-8"),
                            parse_constant=lambda name: _refuse(f"{name} in the header"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WireError(f"the header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise WireError(f"the header is a {type(header).__name__}, not an object")
    payloads = []
    for i in range(count):
        (length,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size, f"length of payload {i}"))
        if length > MAX_PAYLOAD:
            raise WireError(f"payload {i} of {length} bytes is longer than the limit of {MAX_PAYLOAD}")
        payloads.append(_read_exactly(stream, length, f"payload {i}"))
    return header, payloads


def _refuse(why: str):
    raise WireError(why)


# --- arrays ------------------------------------------------------------------------------------

def _npy(array: np.ndarray) -> bytes:
    """``array`` in ``.npy`` format (version 1.0, as ``np.save`` writes it); the header of each dtype and shape
    is made once (numpy's own writer), the data is the array's bytes."""
    fortran = bool(array.flags.f_contiguous and not array.flags.c_contiguous)
    try:
        header = _npy_header(array.dtype, array.shape, fortran)
    except (TypeError, ValueError):   # an object or structured dtype, or a header too long for 1.0
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    return header + array.tobytes("F" if fortran else "C")


@functools.lru_cache(maxsize=1024)
def _npy_header(dtype: np.dtype, shape: tuple, fortran: bool) -> bytes:
    if dtype.hasobject:
        raise TypeError("an object array has no .npy without pickle")
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                  "fortran_order": fortran, "shape": shape})
    return buffer.getvalue()


def _from_npy(data: bytes) -> np.ndarray:
    """An array from ``.npy`` bytes, its header checked before anything is allocated."""
    if data[:6] != b"\x93NUMPY" or len(data) < 12:
        raise WireError("not an .npy array: it does not start with the .npy magic")
    size, start = {1: (int.from_bytes(data[8:10], "little"), 10),
                   2: (int.from_bytes(data[8:12], "little"), 12)}.get(data[6], (None, None))
    if size is None or data[7] != 0:
        raise WireError(f"an .npy of version {data[6]}.{data[7]}, expected 1.0 or 2.0")
    shape, fortran, dtype = _npy_layout(bytes(data[:start + size]))
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need != len(data) - start - size:
        raise WireError(f"an .npy of shape {shape} and dtype {dtype} needs {need} bytes of data, "
                        f"it has {len(data) - start - size}")
    try:
        flat = np.frombuffer(data, dtype=dtype, count=need // dtype.itemsize, offset=start + size).copy()
    except (ValueError, ZeroDivisionError) as err:   # e.g. a dtype of no size, "|S0"
        raise WireError(f"not a readable .npy array: {err}") from None
    return flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)


@functools.lru_cache(maxsize=1024)
def _npy_layout(header: bytes) -> tuple[tuple, bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of an ``.npy`` header, read by numpy's own parser (once per header:
    the arrays of a check repeat a few shapes)."""
    fp = io.BytesIO(header)
    try:
        version = np.lib.format.read_magic(fp)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}[version]
        shape, fortran, dtype = read(fp)
    except Exception as err:  # noqa: BLE001 - numpy's own complaint about the header
        raise WireError(f"not an .npy array: {err}") from None
    if dtype.hasobject or dtype.kind not in NPY_KINDS or dtype.fields:
        raise WireError(f"an .npy of dtype {dtype} (objects would need pickle; only numbers, booleans and text)")
    return shape, fortran, dtype


# --- values ------------------------------------------------------------------------------------

def _torch():
    return sys.modules.get("torch")


def encode(value, payloads: list, *, functions=None, depth: int = 0):
    """The JSON tree of ``value``; its binary parts are appended to ``payloads``. ``functions(f)``
    describes a callable (a JSON tree); without it a callable is opaque."""
    def sub(v):
        return encode(v, payloads, functions=functions, depth=depth + 1)

    if depth > MAX_DEPTH:
        raise WireError(f"the value is nested deeper than {MAX_DEPTH}")
    torch = _torch()
    if value is None or isinstance(value, (bool, str)) or type(value) is int:
        return value
    if type(value) is float:
        return {"float": value.hex()}
    if type(value) is complex:
        return {"complex": [value.real.hex(), value.imag.hex()]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, (np.ndarray, np.generic)):
        if isinstance(value, np.ndarray) and value.dtype.hasobject:
            return {"objects": [sub(v) for v in value.ravel().tolist()], "shape": list(value.shape)}
        if value.dtype.kind not in NPY_KINDS or value.dtype.fields:
            return {"opaque": type(value).__name__}
        payloads.append(_npy(np.asarray(value)))
        return {"npy": len(payloads) - 1, **({"scalar": True} if isinstance(value, np.generic) else {})}
    if torch is not None and isinstance(value, torch.Tensor):
        plain = value.detach().cpu()
        if plain.dtype == torch.bfloat16:
            plain = plain.to(torch.float32)
        payloads.append(_npy(plain.resolve_conj().resolve_neg().numpy()))
        return {"tensor": len(payloads) - 1, "dtype": str(value.dtype), "requires_grad": bool(value.requires_grad)}
    if isinstance(value, (sympy.Basic, sympy.MatrixBase)):
        payloads.append(sympy.srepr(value).encode())
        return {"sympy": len(payloads) - 1}
    if isinstance(value, (list, tuple, set, frozenset)):
        kind = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset"}.get(type(value))
        if kind is not None:
            return {kind: [sub(v) for v in value]}
    if type(value) is dict:
        return {"dict": [[sub(k), sub(v)] for k, v in value.items()]}
    if _record_name(type(value)) in RECORDS:
        return _encode_record(value, sub)
    if torch is not None and type(value).__module__.startswith("torch.nn") and type(value).__name__ in LAYERS:
        return _encode_layer(value, sub)
    if callable(value) and functions is not None and (not isinstance(value, type) or value.__module__ == "__main__"):
        return {"function": functions(value)}   # a function, or a class of the notebook's (``__main__``)
    return {"opaque": type(value).__name__}


def _encode_layer(module, sub) -> dict:
    args = {}
    for spec in LAYERS[type(module).__name__]:
        name, read = spec if isinstance(spec, tuple) else (spec, lambda m, n=spec: getattr(m, n))
        args[name] = sub(read(module))
    children = [[name, sub(child)] for name, child in module.named_children()] if type(module).__name__ == "Sequential" else []
    state = [] if children else [[k, sub(v)] for k, v in module.state_dict().items()]
    grads = {k: p.requires_grad for k, p in module.named_parameters()} if not children else {}
    return {"torch_module": type(module).__name__, "args": args, "children": children, "state": state,
            "requires_grad": grads, "training": module.training}


def _record_name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _record_fields(cls) -> list[str]:
    """A record's fields: a data class's fields, or the parameters of a torch module's constructor (which
    keeps each as an attribute of the same name)."""
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return list(inspect.signature(cls.__init__).parameters)[1:]


def _encode_record(value, sub) -> dict:
    tree = {"record": _record_name(type(value)),
            "fields": [[name, sub(getattr(value, name))] for name in _record_fields(type(value))]}
    torch = _torch()
    if torch is not None and isinstance(value, torch.nn.Module):
        tree |= {"state": [[k, sub(v)] for k, v in value.state_dict().items()], "training": value.training}
    return tree


def _record(name, fields, tree):
    """An instance of the class ``name`` of :data:`RECORDS`, called with exactly its fields; a torch
    module's state (``tree["state"]``) is then loaded strictly."""
    if name not in RECORDS:
        raise WireError(f"a record of class {str(name)[:80]!r}, which is not one of {sorted(RECORDS)}")
    module, _, qualname = name.rpartition(".")
    cls = getattr(importlib.import_module(module), qualname)
    names = _record_fields(cls)
    if type(fields) is not dict or sorted(fields) != sorted(names):
        raise WireError(f"a record of {name} must have exactly the fields {names}")
    torch = _torch()
    if torch is None or not issubclass(cls, torch.nn.Module):
        return cls(**fields)
    _check_size(name, fields.values())
    # Built on the meta device first: its initial weights (tens of ms of random numbers for a thesis cell) would
    # be overwritten by the state anyway. A module that keeps a tensor the state does not hold is built again
    # for real.
    value = _build(cls, name, fields, torch.device("meta"))
    _load_state(value, name, tree, assign=True)
    if _has_meta(value):
        value = _build(cls, name, fields, None)
        _load_state(value, name, tree)
    return value.train(bool(tree.get("training", True)))


def _build(cls, name, fields, device):
    """``cls(**fields)`` under ``device`` (None: for real), the RNG state untouched; a class that cannot be
    built on the meta device is built for real."""
    torch = _torch()
    try:
        with torch.random.fork_rng(devices=[]), torch.device(device) if device else contextlib.nullcontext():
            return cls(**fields)   # the seed is left alone: its initial weights are overwritten
    except (RuntimeError, NotImplementedError) as err:
        if device is not None:
            return _build(cls, name, fields, None)
        raise WireError(f"a {name} that cannot be built: {str(err)[:200]}") from None


def _has_meta(module) -> bool:
    """Whether any tensor of ``module`` (parameters, buffers, plain attributes) is still on the meta device."""
    torch = _torch()
    return any(isinstance(v, torch.Tensor) and v.is_meta
               for m in module.modules() for v in (*vars(m).values(), *m.parameters(recurse=False),
                                                   *m.buffers(recurse=False)))


def _check_size(kind, values):
    """Refuse to build a layer whose integer arguments multiply to more than ``MAX_LAYER_SIZE`` weights."""
    sizes = [v for a in values for v in (a if isinstance(a, tuple) else (a,)) if type(v) is int]
    if int(np.prod([max(v, 1) for v in sizes], dtype=object)) > MAX_LAYER_SIZE:
        raise WireError(f"a torch {kind} of sizes {sizes}: more than {MAX_LAYER_SIZE} weights")


def _load_state(module, kind, tree, *, assign: bool = False):
    """``module.load_state_dict`` (strict) from the frame's ``state``, in the dtype of that state; with
    ``assign`` the module takes the state's tensors themselves (a module built on the meta device)."""
    state = {str(k): v for k, v in tree.get("state", [])}
    torch = _torch()
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WireError(f"a torch {kind} whose state is not all tensors")
    if state:
        module.to(next(iter(state.values())).dtype)
    try:
        module.load_state_dict(state, strict=True, assign=assign)
    except RuntimeError as err:
        raise WireError(f"a torch {kind} whose state does not fit it: {str(err)[:200]}") from None


def _opaque(name: str):
    name = name if isinstance(name, str) and name.isidentifier() else "object"
    return type(name, (), {"__repr__": lambda self: f"<{name}>"})()


def decode(tree, payloads: list[bytes], *, functions=None, depth: int = 0):
    """The value that :func:`encode` wrote as ``tree``; ``functions(description)`` turns a described
    callable back into one (without it, a callable is refused)."""
    def sub(v):
        return decode(v, payloads, functions=functions, depth=depth + 1)

    def payload(i):
        if type(i) is not int or not 0 <= i < len(payloads):
            raise WireError(f"payload {i!r} does not exist ({len(payloads)} were sent)")
        return payloads[i]

    if depth > MAX_DEPTH:
        raise WireError(f"the value is nested deeper than {MAX_DEPTH}")
    if tree is None or isinstance(tree, (bool, str)) or type(tree) is int:
        return tree
    if type(tree) is not dict or len(tree) < 1:
        raise WireError(f"not an encoded value: {str(tree)[:80]}")
    tag = next(iter(tree))
    body = tree[tag]
    try:
        if tag == "float":
            return float.fromhex(body)
        if tag == "complex":
            return complex(float.fromhex(body[0]), float.fromhex(body[1]))
        if tag == "ellipsis":
            return Ellipsis
        if tag == "npy":
            array = _from_npy(payload(body))
            return array[()] if tree.get("scalar") else array
        if tag == "objects":
            shape = tuple(tree["shape"])
            items = [sub(v) for v in body]
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(shape)
        if tag == "tensor":
            return _tensor(_from_npy(payload(body)), tree.get("dtype"), tree.get("requires_grad"))
        if tag == "sympy":
            try:
                return srepr.read(payload(body).decode("utf-8"))
            except (UnicodeDecodeError, srepr.SreprError) as err:
                raise WireError(f"a SymPy expression that cannot be read: {err}") from None
        if tag in ("list", "tuple", "set", "frozenset"):
            if type(body) is not list:
                raise WireError(f"{tag}: expected a list of items")
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](sub(v) for v in body)
        if tag == "dict":
            return {sub(k): sub(v) for k, v in body}
        if tag == "torch_module":
            return _layer(body, tree, sub)
        if tag == "record":
            if type(body) is not str or type(tree.get("fields")) is not list:
                raise WireError("a record: expected a class name and a list of fields")
            fields = {_field(k): sub(v) for k, v in tree["fields"]}
            return _record(body, fields, {**tree, "state": [[k, sub(v)] for k, v in tree.get("state", [])]})
        if tag == "function":
            if functions is None:
                raise WireError("a function where none may be sent")
            return functions(body)
        if tag == "opaque":
            return _opaque(body)
    except WireError:
        raise
    except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as err:
        raise WireError(f"a malformed {tag!r} value: {type(err).__name__}: {str(err)[:200]}") from None
    raise WireError(f"unknown value tag {tag!r}")


def _layer(kind, tree, sub):
    """A torch layer of :data:`LAYERS` from its encoded class name, arguments and state."""
    import torch

    if kind not in LAYERS:
        raise WireError(f"a torch module of class {str(kind)[:80]!r}, which is not one of {sorted(LAYERS)}")
    allowed = {s[0] if isinstance(s, tuple) else s for s in LAYERS[kind]}
    parts = {"args": dict, "children": list, "state": list, "requires_grad": dict, "training": bool}
    wrong = [k for k, kind_of in parts.items() if k in tree and type(tree[k]) is not kind_of]
    if wrong:
        raise WireError(f"a torch {kind} whose {', '.join(wrong)} is not a "
                        f"{' / '.join(parts[k].__name__ for k in wrong)}")
    args = {_field(k): sub(v) for k, v in tree.get("args", {}).items()}
    if set(args) - allowed:
        raise WireError(f"a torch {kind} with arguments {sorted(set(args) - allowed)}, not among {sorted(allowed)}")
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    _check_size(kind, args.values())
    if kind == "Sequential":
        children = [(_child(name), sub(child)) for name, child in tree.get("children", [])]
        if not all(isinstance(c, torch.nn.Module) for _, c in children):
            raise WireError("a torch Sequential whose children are not all torch layers")
        from collections import OrderedDict

        module = torch.nn.Sequential(OrderedDict(children))
    else:
        try:
            with torch.random.fork_rng(devices=[]):   # as for a record: the student's seed stays where it was
                module = getattr(torch.nn, kind)(**args)
        except RuntimeError as err:   # e.g. a negative size
            raise WireError(f"a torch {kind} that cannot be built from {args}: {str(err)[:200]}") from None
        _load_state(module, kind, {"state": [[k, sub(v)] for k, v in tree.get("state", [])]})
        for name, p in module.named_parameters():
            p.requires_grad_(bool(tree.get("requires_grad", {}).get(name, True)))
    return module.train(bool(tree.get("training", True)))


def _child(name):
    if type(name) is not str or not (name.isidentifier() or name.isdigit()):
        raise WireError(f"a torch Sequential's child name must be an identifier or an index, not {str(name)[:40]!r}")
    return name


def _field(name):
    if type(name) is not str or not name.isidentifier():
        raise WireError(f"a record's field name must be an identifier, not {str(name)[:40]!r}")
    return name


def _tensor(array, dtype, requires_grad):
    import torch

    out = torch.from_numpy(np.array(array))
    if isinstance(dtype, str) and dtype.startswith("torch.") and isinstance(getattr(torch, dtype[6:], None), torch.dtype):
        out = out.to(getattr(torch, dtype[6:]))
    if requires_grad:
        if not (out.is_floating_point() or out.is_complex()):
            raise WireError(f"a tensor of dtype {out.dtype} cannot require grad")
        out.requires_grad_(True)
    return out


# --- messages: a header with named values ----------------------------------------------------

def send(stream, message: dict, values: dict | None = None, *, functions=None) -> None:
    """Write ``message`` (plain JSON) with ``values`` (name -> any value) encoded into it as
    ``message["values"]``."""
    payloads: list[bytes] = []
    tree = {name: encode(v, payloads, functions=functions) for name, v in (values or {}).items()}
    write_frame(stream, {**message, "values": tree}, payloads)


def receive(stream, *, functions=None) -> tuple[dict, dict]:
    """``(message, values)`` of the next frame written by :func:`send`."""
    header, payloads = read_frame(stream)
    tree = header.pop("values", {})
    if type(tree) is not dict:
        raise WireError("the values of a message must be an object")
    return header, {name: decode(v, payloads, functions=functions) for name, v in tree.items()}
