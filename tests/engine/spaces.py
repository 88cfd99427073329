"""Space documents shared by the engine tests."""

from __future__ import annotations

from typing import Any


def doc(*nodes: dict[str, Any]) -> dict[str, Any]:
    """A version-1 space document with these top-level nodes."""
    return {"version": 1, "space": list(nodes)}


def number(name: str, dist: str | None = None, **fields: Any) -> dict[str, Any]:
    """A number node; ``auto`` when a distribution is given."""
    node: dict[str, Any] = {"name": name, "type": "number", "default": fields.pop("default", 0)}
    if dist is not None:
        node.update(auto=True, distribution=dist)
    node.update(fields)
    return node


EVERY_KIND = doc(
    {"name": "tag", "type": "string", "default": "baseline"},
    number("lr", "loguniform", min=1e-4, max=0.1, default=0.01),
    number("wd", "qloguniform", min=1e-5, max=1e-2, step=1e-5, default=1e-4),
    number("dropout", "uniform", min=0.0, max=0.5, default=0.1),
    number("drop_q", "quniform", min=0.1, max=0.9, step=0.2, default=0.5),
    number("layers", "randint", min=1, max=4, default=2),
    number("units", "quniform", min=16, max=128, step=16, integer=True, default=64),
    number("depth", "uniform", min=1, max=6, integer=True, default=3),
    number("noise", "normal", mu=0.0, sigma=1.0, default=0.0),
    number("noise_q", "qnormal", mu=10.0, sigma=3.0, step=0.5, default=10.0),
    number("scale", "lognormal", mu=0.0, sigma=0.5, default=1.0),
    number("scale_q", "qlognormal", mu=2.0, sigma=0.5, step=1, default=7.0),
    {"name": "use_bn", "type": "boolean", "auto": True, "default": False},
    {"name": "fixed_flag", "type": "boolean", "default": True},
    {"name": "batch", "type": "choice", "auto": True, "values": [16, 32, 64], "default": 32},
    {"name": "act", "type": "choice", "auto": True, "values": ["relu", "tanh"], "default": "relu"},
    {"name": "first_dense", "type": "group", "children": [
        number("neurons", "quniform", min=32, max=256, step=32, integer=True, default=64),
        {"name": "inner", "type": "group", "children": [
            {"name": "bias", "type": "boolean", "auto": True, "default": True},
        ]},
    ]},
    {"name": "optimizer", "type": "choice", "auto": True, "default": "adam", "values": [
        {"name": "sgd", "type": "group", "children": [
            number("lr", "loguniform", min=1e-3, max=1.0, default=0.1),
            number("momentum", "uniform", min=0.0, max=0.99, default=0.9),
        ]},
        {"name": "adam", "type": "group", "children": [
            number("lr", "loguniform", min=1e-5, max=1e-2, default=1e-3),
            number("beta1", default=0.9),
        ]},
    ]},
)

GRIDDABLE = doc(
    {"name": "tag", "type": "string", "default": "x"},
    number("layers", "randint", min=1, max=3, default=2),  # 3
    number("drop", "quniform", min=0.1, max=0.5, step=0.1, default=0.2),  # 5
    {"name": "use_bn", "type": "boolean", "auto": True, "default": False},  # 2
    {"name": "fixed", "type": "boolean", "default": True},  # 1
    {"name": "act", "type": "choice", "auto": True, "values": ["relu", "tanh", "gelu"],
     "default": "relu"},  # 3
    {"name": "optimizer", "type": "choice", "auto": True, "default": "adam", "values": [
        {"name": "sgd", "type": "group", "children": [
            number("momentum", "quniform", min=0, max=0.9, step=0.3, default=0.3),  # 4
            {"name": "nesterov", "type": "boolean", "auto": True, "default": False},  # 2
        ]},
        {"name": "adam", "type": "group", "children": [
            number("beta1", "quniform", min=0.8, max=0.9, step=0.05, default=0.9),  # 3
        ]},
        {"name": "plain", "type": "group", "children": []},  # 1
    ]},  # 8 + 3 + 1 = 12
)
GRIDDABLE_SIZE = 3 * 5 * 2 * 1 * 3 * 12
