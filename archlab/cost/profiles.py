"""Counting profiles: how a :class:`~archlab.cost.analytic.CostReport` becomes one headline number.

A :class:`Profile` names a counting convention, the unit it reports in and the divisor applied.
``report.to(name)`` (``PROFILES[name].apply(report)``) returns a :class:`ProfiledCost`
(``.value`` in the profile's unit, ``.count`` before division).

========================  =========================================================  =========
profile                   count                                                      divisor
========================  =========================================================  =========
``macs``                  conv + linear + bmm multiply-accumulates (bias excluded)   1
``gmacs``                 the same                                                   10^9
``flops``                 2 x ``macs`` (one multiply + one add per MAC)              1
``hrnet_paper``           conv + linear MACs ("GFLOPs" of HRNet / SDHRNet papers)    2^30
``sdhrnet_paper``         the same convention, named for the SDHRNet paper           2^30
``litehrnet_paper``       MACs + 2 x BN elements + ReLU/sigmoid elements             2^30
``fvcore`` ... ``torch``  exactly what that counter reports (conventions module)     1
========================  =========================================================  =========

How the paper figures come out (batch 1; printed as the papers print them):

* ``hrnet_paper``: HRNet-W32 COCO 256x192 7.12 -> **7.1**, W48 14.61 -> **14.6**, W32 MPII
  256x256 9.49 -> **9.5**; SDHRNet COCO 4.50 -> **4.5**, MPII 6.00 -> **6.0**, SCR only 4.43 ->
  **4.4**. HRNet's tables print ``MACs / 2^30`` and call it GFLOPs (``/1e9`` would give 7.6 for
  W32, which no paper prints).
* ``litehrnet_paper``: Lite-HRNet's figures (paper Table 1: 0.20 / 0.31 GFLOPs at 256x192; its
  repository README: 205.2M / 319.2M FLOPs on COCO 256x192, 273.4M / 425.3M on MPII 256x256;
  the SDHRNet paper's Table 1 quotes 0.27 / 0.42 for MPII) come from ``tools/summary_network.py``
  of HRNet/Lite-HRNet, which uses a vendored *torchstat*. torchstat's "Flops" column counts per
  leaf module: conv MACs, BatchNorm 2 per element, ReLU 1 per element, and prints "M" with a
  binary divisor (1024^2). The reading ``(MACs + 2 x BN elements + ReLU/sigmoid elements) / 2^30``
  gives 205.20M / 319.17M / 273.40M / 425.35M (binary M) and 0.2004 / 0.3117 / 0.2670 / 0.4154
  GFLOPs: all six published figures at their printed precision. The other readings fail:
  plain MACs / 10^9 gives 0.199 / 0.309 for COCO (right) but 0.265 / 0.412 for MPII (0.26 / 0.41,
  wrong); plain MACs / 2^30 gives 0.18 / 0.29; the mmcv ``get_flops`` reading (a ptflops fork:
  conv + bias, 2 x BN, ReLU, ``nn.Upsample``, pooling modules) gives 0.217 / 0.338 G (/10^9) or
  0.202 / 0.315 (/2^30: 0.32, wrong). The best-fitting reading leaves conv bias out (it is 0.05M
  here) and counts the sigmoid gates as activations; the Lite-HRNet-30 values land 0.03M under
  and 0.05M over the README's one-decimal figures, within its rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = ["Profile", "ProfiledCost", "PROFILES", "format_cost", "get_profile"]

_ACT = ("relu", "sigmoid", "hardsigmoid")


@dataclass(frozen=True)
class Profile:
    """A counting convention: ``count(report)`` (an integer in base units) divided by ``divisor``
    gives the figure in ``unit``. ``short_unit`` is what to print after the number and
    ``formula`` a one-line statement of what is counted."""

    name: str
    description: str
    unit: str
    divisor: float
    count: Callable
    short_unit: str = ""
    formula: str = ""
    digits: int = 2

    def apply(self, report) -> "ProfiledCost":
        """The report's cost under this profile."""
        n = self.count(report)
        return ProfiledCost(self.name, n, n / self.divisor if self.divisor != 1 else n, self.unit, self.divisor)


@dataclass(frozen=True)
class ProfiledCost:
    """A cost under a profile: ``value = count / divisor`` in ``unit``."""

    profile: str
    count: int | float
    value: int | float
    unit: str
    divisor: float

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return format_cost(self)


def _linear_total(report, prices: dict) -> int:
    """``sum(a * macs + b * numel_in + c * numel_out)`` over the report's ops, with
    ``prices[op] = (a, b, c)`` (ops not in ``prices`` cost 0), from the report's per-op totals."""
    n = 0
    for k, (macs, nin, nout) in report.op_totals.items():
        p = prices.get(k)
        if p is not None:
            n += p[0] * macs + p[1] * nin + p[2] * nout
    return n


_CONV_LINEAR = {"conv": (1, 0, 0), "linear": (1, 0, 0)}
#: torchstat's "Flops" as the Lite-HRNet figures use them: MACs, 2 per BN element, 1 per activation element
_LITEHRNET = {"conv": (1, 0, 0), "linear": (1, 0, 0), "bmm": (1, 0, 0), "batch_norm": (0, 0, 2),
              **{a: (0, 0, 1) for a in _ACT}}


def _conv_linear(report) -> int:
    return _linear_total(report, _CONV_LINEAR)


def _litehrnet(report) -> int:
    return _linear_total(report, _LITEHRNET)


def _convention_total(counter: str, report) -> int:
    """``CONVENTIONS[counter](report.ops).total``, without materialising the op list where it can:
    a convention that prices each op by its name alone (``conventions.PRICES``) is a sum over the
    report's per-op totals; any other is priced module by module, each distinct (shared) module
    segment once."""
    from . import conventions
    prices = conventions.PRICES.get(counter)
    if prices is not None and hasattr(report, "op_totals"):
        return _linear_total(report, prices)
    fn = conventions.CONVENTIONS[counter]
    segments = getattr(report, "_segments", None)
    if segments is None or getattr(report, "_ops", None) is not None:
        return fn(report.ops).total
    memo: dict = {}
    total = 0
    for seg in segments:
        key = id(seg[1])
        if key not in memo:   # the report's own class materialises one segment (no import of analytic)
            memo[key] = fn(type(report)(report.spec, report.input_size, _segments=(seg,)).ops).total
        total += memo[key]
    return total


def _counter_profile(counter: str) -> Profile:
    from . import conventions
    unit = "FLOPs" if counter == "torch" else "MACs"
    fn = conventions.CONVENTIONS[counter]
    return Profile(counter, f"what {counter} reports for this network ({conventions.__name__}.{fn.__name__})",
                   unit, 1, lambda r, _c=counter: _convention_total(_c, r), unit, f"{counter} convention", 0)


PROFILES: dict[str, Profile] = {
    "macs": Profile("macs", "multiply-accumulates of conv, linear and bmm; bias adds, BN, activations, "
                    "element-wise ops, pooling and resampling not counted", "MACs", 1, lambda r: r.macs,
                    "MACs", "conv+linear+bmm MACs", 0),
    "gmacs": Profile("gmacs", "the 'macs' count in units of 10^9", "GMACs (10^9 MACs)", 1e9, lambda r: r.macs,
                     "GMACs", "conv+linear+bmm MACs / 10^9"),
    "flops": Profile("flops", "2 x MACs: one multiply and one add per multiply-accumulate (bias, BN, "
                     "activations not counted)", "FLOPs", 1, lambda r: 2 * r.macs, "FLOPs", "2 x MACs", 0),
    "hrnet_paper": Profile("hrnet_paper", "HRNet papers' 'GFLOPs': conv + linear multiply-accumulates divided by "
                           "2^30 (HRNet-W32 COCO 7.1, W48 14.6, W32 MPII 9.5)", "GFLOPs (paper: MACs/2^30)",
                           2 ** 30, _conv_linear, "GFLOPs", "conv+linear MACs / 2^30"),
    "sdhrnet_paper": Profile("sdhrnet_paper", "SDHRNet paper's 'GFLOPs' (Tables 1-3), the HRNet convention: conv + "
                             "linear multiply-accumulates / 2^30 (SDHRNet COCO 4.5, MPII 6.0)",
                             "GFLOPs (paper: MACs/2^30)", 2 ** 30, _conv_linear, "GFLOPs",
                             "conv+linear MACs / 2^30"),
    "litehrnet_paper": Profile("litehrnet_paper", "Lite-HRNet paper / README figures (torchstat 'Flops'): MACs + 2 "
                               "per BatchNorm element + 1 per ReLU/sigmoid element, / 2^30 (Lite-HRNet-18 0.20, "
                               "-30 0.31 at 256x192; 0.27 / 0.42 on MPII 256x256)",
                               "GFLOPs (Lite-HRNet paper: torchstat Flops/2^30)", 2 ** 30, _litehrnet, "GFLOPs",
                               "MACs + 2 BN + act elements / 2^30"),
}
for _c in ("fvcore", "thop", "ptflops-pytorch", "ptflops-aten", "torch"):
    PROFILES[_c] = _counter_profile(_c)


def get_profile(name: str) -> Profile:
    """``PROFILES[name]`` with a clear error."""
    if name not in PROFILES:
        raise ValueError(f"unknown cost profile {name!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[name]


def format_cost(value, profile: str | Profile | None = None, digits: int | None = None) -> str:
    """``'4.50 GFLOPs [hrnet_paper: conv+linear MACs / 2^30]'``.

    ``value`` is a :class:`ProfiledCost` (its profile is used) or a number already in the
    profile's unit (then ``profile`` is required)."""
    if isinstance(value, ProfiledCost):
        prof = get_profile(value.profile)
        v = value.value
    else:
        if profile is None:
            raise ValueError("format_cost: give the profile for a plain number")
        prof = profile if isinstance(profile, Profile) else get_profile(profile)
        v = value
    d = prof.digits if digits is None else digits
    num = f"{v:,.{d}f}" if d else f"{int(round(v)):,}"
    return f"{num} {prof.short_unit} [{prof.name}: {prof.formula}]"
