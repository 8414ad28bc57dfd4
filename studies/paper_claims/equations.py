"""Eqs. (8)-(14) of the SDHRNet paper: the SCR / BasicBlock parameter ratio, checked.

Li et al., *Lightweight Multi-Resolution Network for Human Pose Estimation* (CMES 2023), claim
"``r = 0.52 + 0.25/c ~ 0.52``". :func:`scr_params` / :func:`basic_params` give the closed forms
(sympy) under three counting conventions (:data:`CONVENTIONS`): ``'paper'`` (convolution weights
plus the SE's ``2 c c/4`` fully connected weights -- exactly eq. 12, no BN, no biases, no ECA),
``'bn'`` (plus BatchNorm's weight and bias) and ``'full'`` (every parameter of the module archlab
builds: plus the SE biases and the ECA kernel). :func:`ratio_check_table` compares them with the
real :class:`~archlab.blocks.SCR` and :class:`~archlab.blocks.BasicBlock`; :func:`equation_checks`
checks eqs. (8)-(13) term by term against :func:`archlab.count`; :func:`ratio_curves` gives the
curves of the ratio figure.

The closed forms depend on ``c mod 4`` (the SE's hidden width is ``c // 4``; the paper writes
``c/4``) and on the ECA kernel ``k_e(c)`` of eq. (5), a step function of ``c``
(:func:`eca_kernel_closed_form`). Everything uses ``k = k' = 3`` unless told otherwise.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import sympy as sp
from torch import nn

from archlab.blocks import SCR, BasicBlock
from archlab.cost.analytic import count

__all__ = ["C", "K", "KP", "KE", "CONVENTIONS", "CONVENTION_TEXT", "eca_kernel_closed_form", "eca_kernel_piecewise",
           "sc_conv_params", "scr_params", "basic_params", "paper_eq12", "paper_eq14_stated", "ratio", "ratio_value",
           "ratio_limit", "paper_formula_deviation", "module_param_breakdown", "module_params", "ratio_check_table",
           "equation_checks", "ratio_curves"]

#: symbols: channel count ``c``, kernel ``k`` of the regular convolution, ``k'`` of the depthwise
#: ("cheap") convolution, and the ECA kernel ``k_e`` (eq. 5's ``k_c2``).
C = sp.Symbol("c", positive=True)
K = sp.Symbol("k", positive=True)
KP = sp.Symbol("k'", positive=True)
KE = sp.Symbol("k_e", positive=True)

CONVENTIONS = ("paper", "bn", "full")
CONVENTION_TEXT = {
    "paper": "as eqs. (12)-(13) write it: convolution weights + the SE's 2*c*(c/4) FC weights; no BN, no biases, no ECA",
    "bn": "'paper' + BatchNorm weight and bias (2 per channel of every BN)",
    "full": "every parameter of the module archlab builds: 'bn' + SE biases (c/4 + c) + the ECA kernel k_e",
}


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown counting convention {convention!r}; choose one of {list(CONVENTIONS)}")


def _check_residue(residue: int) -> None:
    if residue not in (0, 2):
        raise ValueError(f"c mod 4 must be 0 or 2 (SC at ratio 0.5 needs an even c), got {residue}")


# ----------------------------------------------------------------------------------------------
# eq. (5): the ECA kernel as a closed form

def eca_kernel_closed_form(c: int) -> int:
    """Eq. (5) with gamma = 2, b = 1 as archlab (and ECA-Net's code) rounds it -- truncate, then
    bump an even value to odd -- in closed form: ``k_e(c) = 2 * floor((log2 c + 1) / 4) + 1``
    ``= 2 * (c.bit_length() // 4) + 1`` for integer ``c >= 1``.

    So ``k_e`` is 1 for c < 8, 3 for 8 <= c < 128, 5 for 128 <= c < 2048, 7 for
    2048 <= c < 32768 (it equals :func:`archlab.blocks.attention.eca_kernel_size`).

    >>> [eca_kernel_closed_form(c) for c in (4, 8, 64, 127, 128, 256, 2048)]
    [1, 3, 3, 3, 5, 5, 7]
    """
    if not isinstance(c, int) or isinstance(c, bool) or c < 1:
        raise ValueError(f"eca_kernel_closed_form: c must be a positive integer, got {c!r}")
    return 2 * (c.bit_length() // 4) + 1


def eca_kernel_piecewise(c=C, upto: int = 32768) -> sp.Piecewise:
    """``k_e(c)`` as a sympy ``Piecewise`` on ``1 <= c < upto`` (ranges ``[2^(4j-1), 2^(4j+3))``)."""
    pieces, j = [], 0
    while True:
        hi = 2 ** (4 * j + 3)
        if hi >= upto:
            pieces.append((2 * j + 1, c < upto))
            break
        pieces.append((2 * j + 1, c < hi))
        j += 1
    return sp.Piecewise(*pieces)


# ----------------------------------------------------------------------------------------------
# eqs. (8), (12), (13): closed-form parameter counts

def sc_conv_params(c=C, k=K, kp=KP):
    """Eq. (8): ``P_s = c * c/2 * k^2 + k'^2 * c/2`` -- the primary ``k x k`` convolution
    (c -> c/2) and the depthwise ``k' x k'`` convolution (c/2 -> c/2) weights of one SC unit."""
    return c * c / 2 * k ** 2 + kp ** 2 * c / 2


def paper_eq12(c=C, k=K, kp=KP):
    """Eq. (12) exactly as printed: ``2 P_s + P_c1`` with ``P_c1 = 2 c (c/4)`` (before the
    paper's simplification to ``(k^2 + 1/2) c^2 + k'^2 c``)."""
    return 2 * sc_conv_params(c, k, kp) + 2 * c * c / 4


def paper_eq14_stated(c):
    """The value eq. (14) prints: ``0.52 + 0.25 / c``."""
    return 0.52 + 0.25 / c


def scr_params(convention: str = "paper", residue: int = 0, *, c=C, k=K, kp=KP, ke=KE):
    """Parameters of ``SCR(c, c)`` (two SC units, SE then ECA, identity shortcut) under
    ``convention``, for ``c = residue (mod 4)`` (the SE's hidden width ``c // 4`` is
    ``(c - residue) / 4``). ``'paper'`` at ``residue=0`` is eq. (12) exactly."""
    _check_convention(convention)
    _check_residue(residue)
    hidden = (c - residue) / sp.Integer(4)
    p = 2 * sc_conv_params(c, k, kp) + 2 * c * hidden           # conv weights + SE FC weights
    if convention in ("bn", "full"):
        p += 2 * (2 * (c / 2) + 2 * (c / 2))                     # per SC: BN(c/2) after each conv
    if convention == "full":
        p += hidden + c + ke                                     # SE fc1/fc2 biases + ECA kernel
    return sp.expand(p)


def basic_params(convention: str = "paper", *, c=C, k=K):
    """Parameters of ``BasicBlock(c, c)``: eq. (13) ``P_0 = 2 k^2 c^2`` (``'paper'``), plus the
    two BNs' ``4 c`` (``'bn'`` and ``'full'``: the block has no other parameters)."""
    _check_convention(convention)
    p = 2 * k ** 2 * c ** 2
    if convention != "paper":
        p += 4 * c
    return sp.expand(p)


def ratio(convention: str = "paper", residue: int = 0, *, k: int = 3, kp: int = 3):
    """``P_SCR(c) / P_Basic(c)`` as a simplified rational function of ``c`` (and ``k_e`` for
    ``'full'``) at kernel sizes ``k``, ``k'``."""
    r = scr_params(convention, residue).subs({K: k, KP: kp}) / basic_params(convention).subs(K, k)
    return sp.factor(sp.cancel(r))


def ratio_value(convention: str, c: int, *, k: int = 3, kp: int = 3) -> Fraction:
    """The exact ratio at an even integer ``c`` (picks the residue and ``k_e(c)``)."""
    if not isinstance(c, int) or c < 2 or c % 2:
        raise ValueError(f"ratio_value: c must be an even integer >= 2 (SC at ratio 0.5), got {c!r}")
    num = scr_params(convention, c % 4).subs({C: c, K: k, KP: kp, KE: eca_kernel_closed_form(c)})
    den = basic_params(convention).subs({C: c, K: k})
    q = sp.Rational(num) / sp.Rational(den)
    return Fraction(int(q.p), int(q.q))


def ratio_limit(convention: str = "paper", *, k: int = 3, kp: int = 3):
    """``lim_{c -> oo}`` of the ratio (``k_e`` grows like ``log c``, so it drops out)."""
    r = ratio(convention, 0, k=k, kp=kp).subs(KE, sp.log(C, 2))
    return sp.limit(r, C, sp.oo)


def paper_formula_deviation() -> dict:
    """Where eq. (14)'s printed ``0.52 + 0.25/c`` comes apart from the paper's own eq. (12)/(13).

    Returns the symbolic pieces: the exact general-``k`` ratio, its value at ``k = k' = 3``
    (``19/36 + 1/(2c)``), the constant and the ``1/c`` coefficient, and the check that eq. (12)'s
    simplification is right."""
    general = sp.apart(sp.cancel(paper_eq12() / basic_params("paper")), C)
    at3 = sp.apart(ratio("paper"), C)
    const = sp.limit(at3, C, sp.oo)
    coef = sp.limit((at3 - const) * C, C, sp.oo)
    eq12_simplified = (K ** 2 + sp.Rational(1, 2)) * C ** 2 + KP ** 2 * C
    one_unit_dw = sp.cancel((C * C * K ** 2 + C ** 2 / 2 + KP ** 2 * C / 2) / basic_params("paper"))
    return {
        "ratio_general": general,
        "ratio_k3": at3,
        "constant": const,
        "constant_float": float(const),
        "inv_c_coefficient": coef,
        "eq12_simplification_correct": sp.expand(paper_eq12() - eq12_simplified) == 0,
        "eq12_simplified": eq12_simplified,
        # 0.25/c is what one gets counting the depthwise weights of only one SC unit (k'^2 c/2):
        "one_unit_depthwise_ratio_k3": sp.apart(one_unit_dw.subs({K: 3, KP: 3}), C),
    }


# ----------------------------------------------------------------------------------------------
# the real modules

def module_param_breakdown(block: str, c: int) -> dict[str, int]:
    """Parameters of the real ``SCR(c, c)`` (``block='scr'``) or ``BasicBlock(c, c)``
    (``'basic'``), built on the meta device, by kind: ``conv_weight`` (2-D convolutions),
    ``conv_bias``, ``linear_weight``, ``linear_bias``, ``bn`` (weight + bias), ``eca`` (the
    1-D convolution) and ``total`` (``sum(p.numel() for p in m.parameters())``)."""
    if block not in ("scr", "basic"):
        raise ValueError(f"module_param_breakdown: block must be 'scr' or 'basic', got {block!r}")
    m = (SCR if block == "scr" else BasicBlock)(c, c, device="meta")
    out = dict.fromkeys(("conv_weight", "conv_bias", "linear_weight", "linear_bias", "bn", "eca"), 0)
    for mod in m.modules():
        own = dict(mod.named_parameters(recurse=False))
        if not own:
            continue
        if isinstance(mod, nn.Conv2d):
            out["conv_weight"] += own["weight"].numel()
            out["conv_bias"] += own["bias"].numel() if "bias" in own else 0
        elif isinstance(mod, nn.Conv1d):
            out["eca"] += sum(p.numel() for p in own.values())
        elif isinstance(mod, nn.Linear):
            out["linear_weight"] += own["weight"].numel()
            out["linear_bias"] += own["bias"].numel() if "bias" in own else 0
        elif isinstance(mod, nn.BatchNorm2d):
            out["bn"] += sum(p.numel() for p in own.values())
        else:
            raise TypeError(f"module_param_breakdown: unexpected parameters in {type(mod).__name__}")
    out["total"] = sum(p.numel() for p in m.parameters())
    if sum(v for key, v in out.items() if key != "total") != out["total"]:
        raise RuntimeError("module_param_breakdown: the kinds do not add up to the module's parameter count")
    return out


def module_params(block: str, c: int, convention: str) -> int:
    """The real module's parameter count under ``convention``."""
    _check_convention(convention)
    b = module_param_breakdown(block, c)
    if convention == "paper":
        return b["conv_weight"] + b["linear_weight"]
    if convention == "bn":
        return b["conv_weight"] + b["linear_weight"] + b["bn"]
    return b["total"]


def ratio_check_table(cs=(18, 32, 40, 48, 64, 128, 256), *, k: int = 3, kp: int = 3):
    """One row per ``c``: closed form vs real module under each convention (SCR and BasicBlock
    parameter counts, equality), the exact ratios, the paper's stated ``0.52 + 0.25/c`` and the
    paper-formula value ``19/36 + 1/(2c)``. Raises if a closed form differs from its module."""
    rows = []
    for c in cs:
        if not isinstance(c, int) or c < 2 or c % 2:
            raise ValueError(f"ratio_check_table: c must be an even integer >= 2 (SC at ratio 0.5), got {c!r}")
        row = {"c": c, "c_mod_4": c % 4, "se_hidden": c // 4, "eca_k": eca_kernel_closed_form(c)}
        subs = {C: c, K: k, KP: kp, KE: row["eca_k"]}
        for conv in CONVENTIONS:
            scr_cf = int(scr_params(conv, c % 4).subs(subs))
            basic_cf = int(basic_params(conv).subs(subs))
            scr_m, basic_m = module_params("scr", c, conv), module_params("basic", c, conv)
            row[f"scr_{conv}_closed"] = scr_cf
            row[f"scr_{conv}_module"] = scr_m
            row[f"basic_{conv}_closed"] = basic_cf
            row[f"basic_{conv}_module"] = basic_m
            row[f"{conv}_equal"] = scr_cf == scr_m and basic_cf == basic_m
            row[f"ratio_{conv}"] = scr_m / basic_m
        row["ratio_paper_eq12"] = float(paper_eq12(c, k, kp) / (2 * k ** 2 * c ** 2))
        row["ratio_paper_stated"] = paper_eq14_stated(c)
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# eqs. (8)-(13) term by term against archlab.count

def _ops_under(report, prefix: str):
    return [o for o in report.ops if o.module == prefix or o.module.startswith(prefix + ".")]


def _weight_params(op) -> int:
    d = dict(op.detail)
    if op.op == "linear":
        return d["in_features"] * d["out_features"]
    if op.op == "conv":
        ks = d["kernel"] if isinstance(d["kernel"], tuple) else (d["kernel"],)
        return d["cout"] * (d["cin"] // d["groups"]) * math.prod(ks)
    return 0


def equation_checks(model: str = "sdhrnet_coco", reference: str = "hrnet_w32_coco", stage: int | None = None,
                    *, k: int = 3, kp: int = 3):
    """Eqs. (8)-(13) term by term for the first block of every branch of one stage (default:
    the last) of ``model`` (SCR blocks) against the same block of ``reference`` (BasicBlocks),
    from :func:`archlab.count`'s op records at the model's input size. One row per
    (equation, quantity, branch): the paper's formula value, archlab's figure, whether they
    are equal, and a note."""
    rep, ref = count(model), count(reference)
    spec = rep.spec
    i = len(spec.stages) - 1 if stage is None else stage
    if spec.stages[i].block != "scr" or ref.spec.stages[i].block != "basic":
        raise ValueError(f"equation_checks: stage {i} of {model!r} must use SCR and of {reference!r} BasicBlock")
    rows = []
    for b, c in enumerate(spec.stages[i].widths):
        path = f"stages.{i}.0.branches.{b}.0"
        ops = _ops_under(rep, path)
        if not ops:
            raise RuntimeError(f"equation_checks: no ops recorded under {path!r}")
        h, w = _branch_hw(rep, i, b)
        terms = [*_scr_terms(ops, path, c, h * w, k, kp), *_basic_terms(ops, _ops_under(ref, path), c, k)]
        rows += [{"equation": eq, "quantity": quantity, "c": c, "HxW": f"{h}x{w}", "paper_formula": paper,
                  "archlab": value, "equal": (paper == value) if paper is not None else None, "note": note}
                 for eq, quantity, paper, value, note in terms]
    return pd.DataFrame(rows)


def _scr_terms(ops, path: str, c: int, hwn: int, k: int, kp: int) -> list[tuple]:
    """Eqs. (8)-(12) for the SCR block at ``path`` (``c`` channels, ``hwn`` = H*W pixels):
    ``(equation, quantity, paper's formula or None, archlab's figure, note)``."""
    conv0 = [o for o in ops if o.op == "conv" and o.module.startswith(path + ".units.0.")]
    prim = [o for o in conv0 if ".primary." in o.module]
    cheap = [o for o in conv0 if ".cheap." in o.module]
    se = [o for o in ops if o.module.startswith(path + ".units.0.reweight")]
    fcs = [o for o in se if o.op == "linear"]
    eca = [o for o in ops if o.module.startswith(path + ".units.1.reweight") and o.op == "conv"]
    ps_paper = int(sc_conv_params(c, k, kp))
    pc1 = 2 * c * (c // 4)
    se_elem = sum(o.numel_in for o in se if o.op == "mean") + sum(o.numel_out for o in se if o.op == "mul")
    all_w = sum(_weight_params(o) for o in ops if o.op in ("conv", "linear") and o not in eca)
    return [
        ("(8)", "P_s: SC conv weights (primary kxk + depthwise k'xk')", ps_paper,
         sum(_weight_params(o) for o in conv0), "primary c*(c/2)*k^2 + depthwise k'^2*c/2"),
        ("(8)", "P_s, depthwise term k'^2*c/2", kp ** 2 * c // 2, sum(_weight_params(o) for o in cheap), ""),
        ("(9)", "G_s: SC conv MACs at stride 1 = H*W*P_s", hwn * ps_paper, sum(o.macs for o in conv0),
         "MACs (multiply-adds), bias adds excluded"),
        ("(9)", "G_s, primary term H*W*c*(c/2)*k^2", hwn * c * (c // 2) * k ** 2, sum(o.macs for o in prim), ""),
        ("(9)", "G_s, depthwise term H*W*k'^2*c/2", hwn * kp ** 2 * c // 2, sum(o.macs for o in cheap), ""),
        ("(10)", "P_c1: SE FC weights 2*c*c_mid (c_mid = c/4)", pc1, sum(_weight_params(o) for o in fcs),
         "weights only"),
        ("(10)", "P_c1 with the FC biases (c_mid + c), as built", None, sum(o.params for o in fcs),
         "eq. (10) leaves the biases out"),
        ("(11)", "G_c1: SE FC MACs = P_c1", pc1, sum(o.macs for o in fcs),
         "true: the FCs act on the pooled 1x1xc vector, MACs = weights (no H*W factor)"),
        ("(11)", "SE element ops the paper omits: GAP reads + reweighting multiplies", None, se_elem,
         "2*c*H*W element operations, not multiply-adds"),
        ("(12)", "P_c2: ECA kernel k_e (eq. 5), 'negligible'", None, sum(o.params for o in eca),
         f"k_e({c}) = {eca_kernel_closed_form(c)}"),
        ("(12)", "G_c2: ECA MACs k_e*c, 'negligible'", None, sum(o.macs for o in eca), ""),
        ("(12)", "2*P_s + P_c1 = (k^2+1/2)c^2 + k'^2 c vs SCR conv + FC weights",
         int((k ** 2 + 0.5) * c * c + kp ** 2 * c), all_w, "the '=' of eq. (12) holds exactly"),
        ("(12)", "SCR parameters as built (BN, biases, ECA)", None, sum(o.params for o in ops),
         "closed form 'full': 19c^2/2 + 57c/4 + k_e (c = 0 mod 4)"),
    ]


def _basic_terms(ops, rops, c: int, k: int) -> list[tuple]:
    """Eq. (13) for the BasicBlock ops ``rops`` and eq. (14)'s MACs ratio against the SCR ops ``ops``."""
    rconv = [o for o in rops if o.op == "conv"]
    return [
        ("(13)", "P_0: BasicBlock conv weights 2*k^2*c^2", 2 * k ** 2 * c * c, sum(_weight_params(o) for o in rconv),
         "no BN"),
        ("(13)", "BasicBlock parameters as built (+ 2 BN = 4c)", 2 * k ** 2 * c * c + 4 * c,
         sum(o.params for o in rops), ""),
        ("(14)", "MACs ratio SCR/BasicBlock at this resolution", None,
         round(sum(o.macs for o in ops) / sum(o.macs for o in rops), 6),
         "-> 1/2 + 1/(2c) (the SE weights do not scale with H*W), not the parameter ratio"),
    ]


def _branch_hw(report, stage: int, branch: int) -> tuple[int, int]:
    h, w = report.input_size
    f = 4 * 2 ** branch
    return h // f, w // f


# ----------------------------------------------------------------------------------------------
# the ratio figure's curves

def ratio_curves(c_min: int = 8, c_max: int = 1024) -> dict:
    """The curves of the ratio figure: the paper's formula ``19/36 + 1/(2c)`` and its stated
    ``0.52 + 0.25/c`` on a log grid of ``c``; the BN-inclusive and full-module ratios (exact,
    from the closed forms) at every multiple of 4 in range; the real modules' ratio at the
    check points; and the limit 19/36."""
    grid = np.unique(np.round(np.geomspace(c_min, c_max, 200), 6))
    four = list(range(max(4, c_min + (-c_min) % 4), c_max + 1, 4))
    bn = sp.lambdify(C, ratio("bn", 0))
    full = sp.lambdify((C, KE), ratio("full", 0))
    checks = [c for c in (18, 32, 40, 48, 64, 128, 256, 512, 1024) if c_min <= c <= c_max]
    return {
        "c": grid.tolist(),
        "paper_formula": (19 / 36 + 1 / (2 * grid)).tolist(),
        "paper_stated": (0.52 + 0.25 / grid).tolist(),
        "c_multiple_of_4": four,
        "bn_inclusive": [float(bn(c)) for c in four],
        "full_module": [float(full(c, eca_kernel_closed_form(c))) for c in four],
        "check_c": checks,
        "check_full_module": [module_params("scr", c, "full") / module_params("basic", c, "full") for c in checks],
        "limit": float(ratio_limit("paper")),
    }
