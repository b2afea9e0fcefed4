"""What runs where the student's Deep cell lives: build their class, describe its layers, and run it with the
shipped Deep-7 weights copied in.

Nothing here computes an expected value: the checks of :mod:`.cell` compare what these functions return with
Table 4.3 and with the shipped model's scores. Each public function is :func:`~autograder.question.kernel_side`:
in self-check it runs in process; at the grader's judge it runs in the student's kernel (this file is the one
part of the check package that the grading stub carries), and only its plain-data result travels. So it
imports no sibling module and nothing of the reference: the shipped model and the digits are handed to it.

A layer is described as ``{"shape": [out, in], "bias": [name, entries] | None}`` (the modules with a 2-D
``weight``, in order); a part as ``{"count": trainable parameters, "layers": [...]}``, or ``None`` if the
model has no module of that name. The templates ``LAYERS`` and ``RUN`` say so for the judge, which reads
only what has that form.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.feedback import describe_exception
from autograder.question import kernel_side

SEQ = 7
PARTS = ("features", "combine", "recur", "head")

# What the functions below return, as :func:`~autograder.question.conforming` templates.
FAILED = {"failed": str}
LAYERS = {"parameters": int, "parts": {part: (None, {"count": int, "layers": [
    {"shape": [int], "bias": (None, [(str, int)])}]}) for part in PARTS}}
SCORES = ({"scores": torch.Tensor}, {"raised": str, "not_implemented": bool}, {"returned": str})
RUN = (FAILED, {**LAYERS, "transfer?": str, "eval?": SCORES, "again?": SCORES, "train?": SCORES})


def weighted(module):
    """The Linear-like layers of ``module``, in order: modules with a 2-D ``weight``."""
    return [m for m in module.modules() if isinstance(getattr(m, "weight", None), torch.Tensor) and m.weight.dim() == 2]


def bias_of(m):
    """``(name, tensor)`` of a layer's bias (``b`` of a NegBiasLinear, or ``bias``), or ``(None, None)``."""
    for name in ("b", "bias"):
        v = getattr(m, name, None)
        if isinstance(v, torch.Tensor):
            return name, v
    return None, None


def count(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _layer(m) -> dict:
    name, b = bias_of(m)
    return {"shape": list(m.weight.shape), "bias": None if b is None else [name, b.numel()]}


def _describe(model) -> dict:
    parts = {}
    for part in PARTS:
        m = getattr(model, part, None)
        parts[part] = {"count": count(m), "layers": [_layer(w) for w in weighted(m)]} \
            if isinstance(m, torch.nn.Module) else None
    return {"parameters": count(model), "parts": parts}


def _build(cls, seq: int, name: str = "DeepRNN"):
    """``(model, None)``, or ``(None, why)`` in the words of a failed check."""
    if isinstance(cls, torch.nn.Module):
        if seq != SEQ:
            return None, (f"pass the class {name} itself (not an instance), so that the check can build it for "
                          f"SEQ = {seq}")
        return cls, None
    if not callable(cls):
        return None, f"expected the class {name} (a torch.nn.Module), got {type(cls).__name__}"
    try:
        model = cls() if seq == SEQ else cls(seq)
    except NotImplementedError:
        return None, f"{name} is not written yet (building it raises NotImplementedError)"
    except Exception as err:  # noqa: BLE001 - the student's error is the feedback
        return None, f"{name}() raised {describe_exception(err)}" if seq == SEQ else \
            f"{name}({seq}) raised {describe_exception(err)}"
    if not isinstance(model, torch.nn.Module):
        return None, f"{name}() should build a torch.nn.Module, got {type(model).__name__}"
    return model, None


@kernel_side(returns=(FAILED, LAYERS))
def describe(cls, seq: int) -> dict:
    """``{"failed": why}``, or the layers of ``cls`` built for ``seq`` (see the module docstring)."""
    model, failed = _build(cls, seq)
    return {"failed": failed} if failed else _describe(model)


def transfer_weights(model, reference):
    """Copy ``reference``'s weights into ``model``'s layers, part by part and in order.

    A layer with a parameter ``b`` gets ``b`` (its bias is ``-softplus(b)``); a plain ``nn.Linear`` gets
    ``bias = -softplus(b)``, so that both compute the same function as the reference."""
    with torch.no_grad():
        for part in PARTS:
            for m, r in zip(weighted(getattr(model, part)), weighted(getattr(reference, part))):
                m.weight.copy_(r.weight)
                name, b = bias_of(m)
                b.copy_(r.b if name == "b" else -F.softplus(r.b))


def _scores(model, images) -> dict:
    """``{"scores": (B, 10) tensor}``, or ``{"raised": why}`` / ``{"returned": type name}``."""
    try:
        with torch.no_grad():
            out = model(images.clone())
    except Exception as err:  # noqa: BLE001 - NotImplementedError included: described as "not implemented yet"
        return {"raised": describe_exception(err), "not_implemented": isinstance(err, NotImplementedError)}
    if not isinstance(out, torch.Tensor):
        return {"returned": type(out).__name__}
    return {"scores": out.detach()}


@kernel_side(returns=RUN)
def run_with_weights(cls, reference, images) -> dict:
    """Build ``cls()``, copy ``reference``'s weights (the shipped Deep-7) into its layers and run it on ``images``:
    its layers (as :func:`describe`), then the scores in eval mode (``"eval"``), again (``"again"``), and in
    training mode under seed 0 (``"train"``). ``{"failed": why}`` if it cannot be built."""
    model, failed = _build(cls, SEQ)
    if failed:
        return {"failed": failed}
    out = _describe(model)
    try:
        transfer_weights(model, reference)
    except Exception as err:  # noqa: BLE001 - layers that do not fit: the structure check says why
        return {**out, "transfer": describe_exception(err)}
    model.eval()
    out["eval"] = _scores(model, images)
    if "scores" in out["eval"]:
        out["again"] = _scores(model, images)
        model.train()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            out["train"] = _scores(model, images)
        model.eval()
    return out
