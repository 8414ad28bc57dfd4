"""The SDHRNet paper's cost claims, checked against archlab's modules and analytic counts.

Li et al., *Lightweight Multi-Resolution Network for Human Pose Estimation* (CMES 2023) make
four kinds of cost claim; each has a function here (the study ``studies/paper_claims.py``
writes them into ``reports/paper_claims.md``):

1. **Eqs. (8)-(14)**: the SCR / BasicBlock parameter ratio, "``r = 0.52 + 0.25/c ~ 0.52``".
   :func:`scr_params` / :func:`basic_params` give the closed forms (sympy) under three counting
   conventions (:data:`CONVENTIONS`): ``'paper'`` (convolution weights plus the SE's
   ``2 c c/4`` fully connected weights -- exactly eq. 12, no BN, no biases, no ECA),
   ``'bn'`` (plus BatchNorm's weight and bias) and ``'full'`` (every parameter of the module
   archlab builds: plus the SE biases and the ECA kernel). :func:`ratio_check_table` compares
   them with the real :class:`~archlab.blocks.SCR` and :class:`~archlab.blocks.BasicBlock`;
   :func:`equation_checks` checks eqs. (8)-(13) term by term against :func:`archlab.count`.
2. **"41% fewer parameters, 36% (36.6%) less complexity" than HRNet**: :func:`reductions`.
3. **Tables 1-3 cost columns**: :func:`paper_table_rows`.
4. **Where the parameters and multiply-adds go**: :func:`cost_groups`.

The closed forms depend on ``c mod 4`` (the SE's hidden width is ``c // 4``; the paper writes
``c/4``) and on the ECA kernel ``k_e(c)`` of eq. (5), a step function of ``c``
(:func:`eca_kernel_closed_form`). Everything uses ``k = k' = 3`` unless told otherwise.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import sympy as sp

__all__ = ["C", "K", "KP", "KE", "CONVENTIONS", "CONVENTION_TEXT", "eca_kernel_closed_form", "eca_kernel_piecewise",
           "sc_conv_params", "scr_params", "basic_params", "paper_eq12", "paper_eq14_stated", "ratio", "ratio_value",
           "ratio_limit", "module_param_breakdown", "module_params", "ratio_check_table", "equation_checks",
           "paper_formula_deviation", "gflops", "reductions", "PAPER_TABLES", "paper_table_rows", "cost_groups",
           "DASP_ROW_READINGS", "fitted_parts", "table_counts",
           "breakdown_table", "HRNET_PAPER_DIVISOR"]

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

#: HRNet's "GFLOPs" are convolution + linear multiply-adds divided by this (see the README).
HRNET_PAPER_DIVISOR = 2 ** 30


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
    from torch import nn
    from ..blocks import SCR, BasicBlock
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
    import pandas as pd
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
    import pandas as pd
    from .analytic import count
    rep, ref = count(model), count(reference)
    spec = rep.spec
    i = len(spec.stages) - 1 if stage is None else stage
    if spec.stages[i].block != "scr" or ref.spec.stages[i].block != "basic":
        raise ValueError(f"equation_checks: stage {i} of {model!r} must use SCR and of {reference!r} BasicBlock")
    rows = []

    def add(eq, quantity, c, hw, paper, archlab_value, note=""):
        rows.append({"equation": eq, "quantity": quantity, "c": c, "HxW": f"{hw[0]}x{hw[1]}",
                     "paper_formula": paper, "archlab": archlab_value,
                     "equal": (paper == archlab_value) if paper is not None else None, "note": note})

    for b in range(len(spec.stages[i].widths)):
        path = f"stages.{i}.0.branches.{b}.0"
        ops = _ops_under(rep, path)
        if not ops:
            raise RuntimeError(f"equation_checks: no ops recorded under {path!r}")
        c = spec.stages[i].widths[b]
        conv0 = [o for o in ops if o.op == "conv" and o.module.startswith(path + ".units.0.")]
        prim = [o for o in conv0 if ".primary." in o.module]
        cheap = [o for o in conv0 if ".cheap." in o.module]
        h, w = _branch_hw(rep, i, b)
        hw = (h, w)
        hwn = h * w
        ps_paper = int(sc_conv_params(c, k, kp))
        add("(8)", "P_s: SC conv weights (primary kxk + depthwise k'xk')", c, hw, ps_paper,
            sum(_weight_params(o) for o in conv0), "primary c*(c/2)*k^2 + depthwise k'^2*c/2")
        add("(8)", "P_s, depthwise term k'^2*c/2", c, hw, kp ** 2 * c // 2, sum(_weight_params(o) for o in cheap))
        add("(9)", "G_s: SC conv MACs at stride 1 = H*W*P_s", c, hw, hwn * ps_paper, sum(o.macs for o in conv0),
            "MACs (multiply-adds), bias adds excluded")
        add("(9)", "G_s, primary term H*W*c*(c/2)*k^2", c, hw, hwn * c * (c // 2) * k ** 2, sum(o.macs for o in prim))
        add("(9)", "G_s, depthwise term H*W*k'^2*c/2", c, hw, hwn * kp ** 2 * c // 2, sum(o.macs for o in cheap))
        se = [o for o in ops if o.module.startswith(path + ".units.0.reweight")]
        fcs = [o for o in se if o.op == "linear"]
        pc1 = 2 * c * (c // 4)
        add("(10)", "P_c1: SE FC weights 2*c*c_mid (c_mid = c/4)", c, hw, pc1, sum(_weight_params(o) for o in fcs),
            "weights only")
        add("(10)", "P_c1 with the FC biases (c_mid + c), as built", c, hw, None, sum(o.params for o in fcs),
            "eq. (10) leaves the biases out")
        add("(11)", "G_c1: SE FC MACs = P_c1", c, hw, pc1, sum(o.macs for o in fcs),
            "true: the FCs act on the pooled 1x1xc vector, MACs = weights (no H*W factor)")
        se_elem = sum(o.numel_in for o in se if o.op == "mean") + sum(o.numel_out for o in se if o.op == "mul")
        add("(11)", "SE element ops the paper omits: GAP reads + reweighting multiplies", c, hw, None, se_elem,
            "2*c*H*W element operations, not multiply-adds")
        eca = [o for o in ops if o.module.startswith(path + ".units.1.reweight") and o.op == "conv"]
        ke = eca_kernel_closed_form(c)
        add("(12)", "P_c2: ECA kernel k_e (eq. 5), 'negligible'", c, hw, None, sum(o.params for o in eca),
            f"k_e({c}) = {ke}")
        add("(12)", "G_c2: ECA MACs k_e*c, 'negligible'", c, hw, None, sum(o.macs for o in eca))
        all_w = sum(_weight_params(o) for o in ops if o.op in ("conv", "linear") and o not in eca)
        add("(12)", "2*P_s + P_c1 = (k^2+1/2)c^2 + k'^2 c vs SCR conv + FC weights", c, hw,
            int((k ** 2 + 0.5) * c * c + kp ** 2 * c), all_w, "the '=' of eq. (12) holds exactly")
        add("(12)", "SCR parameters as built (BN, biases, ECA)", c, hw, None, sum(o.params for o in ops),
            "closed form 'full': 19c^2/2 + 57c/4 + k_e (c = 0 mod 4)")
        rops = _ops_under(ref, path)
        rconv = [o for o in rops if o.op == "conv"]
        add("(13)", "P_0: BasicBlock conv weights 2*k^2*c^2", c, hw, 2 * k ** 2 * c * c,
            sum(_weight_params(o) for o in rconv), "no BN")
        add("(13)", "BasicBlock parameters as built (+ 2 BN = 4c)", c, hw, 2 * k ** 2 * c * c + 4 * c,
            sum(o.params for o in rops))
        scr_macs = sum(o.macs for o in ops)
        basic_macs = sum(o.macs for o in rops)
        add("(14)", "MACs ratio SCR/BasicBlock at this resolution", c, hw, None, round(scr_macs / basic_macs, 6),
            "-> 1/2 + 1/(2c) (the SE weights do not scale with H*W), not the parameter ratio")
    return pd.DataFrame(rows)


def _branch_hw(report, stage: int, branch: int) -> tuple[int, int]:
    h, w = report.input_size
    f = 4 * 2 ** branch
    return h // f, w // f


# ----------------------------------------------------------------------------------------------
# network-level claims

def gflops(report, profile: str = "hrnet_paper") -> float | None:
    """A :class:`~archlab.cost.analytic.CostReport`'s "GFLOPs" under a counting profile of
    :mod:`archlab.cost.profiles`. ``'hrnet_paper'`` is conv + linear multiply-adds / 2^30 (computed
    from the op list if the profiles module is unavailable); other profiles give ``None`` where
    they are unavailable."""
    try:
        from . import profiles
    except ImportError:
        profiles = None
    if profiles is not None and profile in getattr(profiles, "PROFILES", {}):
        try:
            return _profile_value(report.to(profile))
        except TypeError:
            if profile != "hrnet_paper":
                return None
    if profile == "hrnet_paper":
        return sum(o.macs for o in report.ops if o.op in ("conv", "linear")) / HRNET_PAPER_DIVISOR
    return None


def _profile_value(res) -> float:
    """The headline number of what ``CostReport.to(profile)`` returns."""
    if isinstance(res, (int, float)):
        return float(res)
    for attr in ("value", "gflops", "total", "gmacs"):
        v = getattr(res, attr, None)
        if isinstance(v, (int, float)):
            return float(v)
    raise TypeError(f"gflops: cannot read a number from {type(res).__name__}")


@lru_cache(maxsize=64)
def _count(name: str, size: tuple | None = None):
    from .analytic import count
    return count(name, size)


def reductions():
    """Reductions of SDHRNet against HRNet-W32 under every pairing the paper could have used:
    archlab's exact counts (COCO 256x192, MPII 256x256, and the mixed COCO-vs-MPII pairing of
    Table 3) and the tables' printed, rounded figures. ``reduction = 1 - new / old``."""
    import pandas as pd
    rows = []

    def add(quantity, source, new_label, new, old_label, old, unit):
        rows.append({"quantity": quantity, "source": source, "SDHRNet": new_label, "HRNet": old_label,
                     "sdhrnet_value": new, "hrnet_value": old, "unit": unit, "reduction": 1 - new / old,
                     "reduction_pct": round(100 * (1 - new / old), 2)})

    for ds in ("coco", "mpii"):
        s, h = _count(f"sdhrnet_{ds}"), _count(f"hrnet_w32_{ds}")
        size = "x".join(map(str, s.input_size))
        add("params", f"archlab, {ds.upper()} {size}", f"sdhrnet_{ds}", s.params, f"hrnet_w32_{ds}", h.params,
            "parameters")
    for ds in ("coco", "mpii"):
        s, h = _count(f"sdhrnet_{ds}"), _count(f"hrnet_w32_{ds}")
        size = "x".join(map(str, s.input_size))
        add("GFLOPs", f"archlab, {ds.upper()} {size}", f"sdhrnet_{ds}", gflops(s), f"hrnet_w32_{ds}", gflops(h),
            "conv+linear MACs / 2^30")
    s, h = _count("sdhrnet_coco"), _count("hrnet_w32_mpii")
    add("GFLOPs", "archlab, mixed: SDHRNet COCO 256x192 vs HRNet MPII 256x256 (Table 3's pairing)",
        "sdhrnet_coco", gflops(s), "hrnet_w32_mpii", gflops(h), "conv+linear MACs / 2^30")
    add("params", "printed, Tables 1-3", "16.8 M", 16.8, "28.5 M", 28.5, "M parameters")
    add("GFLOPs", "printed, Table 2 (COCO)", "4.5", 4.5, "7.1", 7.1, "printed GFLOPs")
    add("GFLOPs", "printed, Table 1 (MPII)", "6.0", 6.0, "9.5", 9.5, "printed GFLOPs")
    add("GFLOPs", "printed, Table 3 (SDHRNet COCO vs HRNet row)", "4.5", 4.5, "9.5", 9.5, "printed GFLOPs")
    df = pd.DataFrame(rows)
    df["matches_41pct"] = df["quantity"].eq("params") & (df["reduction_pct"].apply(math.floor) == 41)
    df["matches_36pct"] = df["quantity"].eq("GFLOPs") & (df["reduction_pct"].apply(math.floor) == 36)
    df["matches_36.6pct"] = df["quantity"].eq("GFLOPs") & (df["reduction_pct"].round(1) == 36.6)
    return df


#: The cost columns of the paper's Tables 1-3 for HRNet, Lite-HRNet and SDHRNet, as printed.
#: (table, row, zoo model, printed params (M), printed GFLOPs, the convention to read it in)
PAPER_TABLES = (
    ("Table 1 (MPII)", "HRNet-W32", "hrnet_w32_mpii", "28.5", "9.5", "hrnet_paper"),
    ("Table 1 (MPII)", "Lite-HRNet-18", "litehrnet_18_mpii", "1.1", "0.27", "litehrnet_paper"),
    ("Table 1 (MPII)", "Lite-HRNet-30", "litehrnet_30_mpii", "1.8", "0.42", "litehrnet_paper"),
    ("Table 1 (MPII)", "SDHRNet", "sdhrnet_mpii", "16.8", "6.0", "hrnet_paper"),
    ("Table 2 (COCO)", "HRNet-W32", "hrnet_w32_coco", "28.5", "7.1", "hrnet_paper"),
    ("Table 2 (COCO)", "Lite-HRNet-18", "litehrnet_18_coco", "1.1", "0.2", "litehrnet_paper"),
    ("Table 2 (COCO)", "Lite-HRNet-30", "litehrnet_30_coco", "1.8", "0.3", "litehrnet_paper"),
    ("Table 2 (COCO)", "SDHRNet", "sdhrnet_coco", "16.8", "4.5", "hrnet_paper"),
    ("Table 3 (COCO)", "HRNet", "hrnet_w32_coco", "28.5", "9.5", "hrnet_paper"),
    ("Table 3 (COCO)", "SCR", "sdhrnet_coco_scr", "16.7", "4.4", "hrnet_paper"),
    ("Table 3 (COCO)", "DASP (as ticked: HRNet-W32 + DASP)", "hrnet_w32_coco_dasp", "16.7", "4.5", "hrnet_paper"),
    ("Table 3 (COCO)", "DASP (read as SCR + DASP)", "sdhrnet_coco_dasp", "16.7", "4.5", "hrnet_paper"),
    ("Table 3 (COCO)", "SCR + DASP + SEM", "sdhrnet_coco", "16.8", "4.5", "hrnet_paper"),
)


def _decimals(s: str) -> int:
    return len(s.split(".")[1]) if "." in s else 0


def _matches(value: float | None, printed: str) -> bool:
    """``value`` rounded to the printed precision equals the printed figure."""
    if value is None:
        return False
    return round(value, _decimals(printed)) == float(printed)


_EXPLAIN = {
    ("Table 3 (COCO)", "HRNet"): (
        "the 9.5 is HRNet-W32's MPII 256x256 figure (hrnet_w32_mpii: {mpii:.2f}); at COCO 256x192 it is "
        "{coco:.2f} (Table 2 prints 7.1): Table 3 mixes input sizes"),
    ("Table 3 (COCO)", "DASP (as ticked: HRNet-W32 + DASP)"): (
        "as ticked (DASP alone on HRNet-W32) the model has {p:.2f} M parameters and {g:.2f} GFLOPs; the printed "
        "16.7 M / 4.5 needs SCR in the backbone (next row)"),
    ("Table 3 (COCO)", "DASP (read as SCR + DASP)"): (
        "reproduced only under the README's reading that the row also has SCR (archlab.nets.zoo."
        "PAPER_TABLE3_DASP_ROW)"),
}


#: Table 3's DASP row is one printed row read two ways: ``literal`` (as ticked) and
#: ``favourable`` (SCR + DASP); every other row is read the same way under both.
DASP_ROW_READINGS = {"DASP (as ticked: HRNet-W32 + DASP)": "literal", "DASP (read as SCR + DASP)": "favourable"}


def fitted_parts(model: str) -> str:
    """The parts of a zoo model whose unstated details archlab chose so that the paper's cost
    columns would come out (``''`` when none): the DASP head's widths (not given in the paper;
    picked inside the window Tables 2-3 leave) and the SEM placement they were picked with.
    A row with such parts is *fitted*: matching it shows consistency, not an independent
    reproduction.

    >>> fitted_parts("sdhrnet_coco"), fitted_parts("hrnet_w32_coco")
    ('DASP widths, SEM placement', '')
    """
    from ..nets.zoo import get_spec
    spec = get_spec(model)
    parts = (["DASP widths"] if spec.head.type == "dasp" else []) + \
        (["SEM placement"] if any(st.sem for st in spec.stages) else [])
    return ", ".join(parts)


def table_counts(tables) -> dict:
    """Reproduced rows of :func:`paper_table_rows` under each reading of Table 3's DASP row
    (the two readings are one printed row, so each reading has ``len(tables) - 1`` rows), and
    how many reproduced rows are fitted (:func:`fitted_parts`)."""
    out = {}
    for reading in ("literal", "favourable"):
        t = tables[tables["reading"].isin(("both", reading))]
        rep = t[t["verdict"] == "reproduced"]
        out[reading] = {"rows": len(t), "reproduced": len(rep), "fitted": int(rep["fitted"].ne("").sum())}
    return out


def paper_table_rows():
    """Tables 1-3's params and GFLOPs columns, archlab's figures beside them in the paper's
    convention (params in M to the printed precision; GFLOPs in the row's profile:
    ``hrnet_paper`` = conv+linear MACs / 2^30, Lite-HRNet rows in ``litehrnet_paper``), the
    ``hrnet_paper`` figure for every row, a verdict with an explanation, which reading of Table
    3's DASP row the row belongs to (``reading``) and what in it was fitted (``fitted``)."""
    import pandas as pd
    rows = []
    for table, row, model, p_print, g_print, profile in PAPER_TABLES:
        r = _count(model)
        g = gflops(r, profile)
        g_hr = gflops(r, "hrnet_paper")
        pm = r.params / 1e6
        p_ok = _matches(pm, p_print)
        g_ok = _matches(g, g_print)
        verdict = "reproduced" if p_ok and g_ok else "not reproduced"
        note = ""
        key = (table, row)
        if key in _EXPLAIN:
            note = _EXPLAIN[key].format(mpii=gflops(_count("hrnet_w32_mpii")), coco=gflops(_count("hrnet_w32_coco")),
                                        p=pm, g=g_hr)
        elif row.startswith("Lite-HRNet"):
            size = "x".join(map(str, r.input_size))
            other = "256x192" if size == "256x256" else "256x256"
            alt = gflops(_count(model, tuple(map(int, other.split("x")))), profile)
            note = (f"Lite-HRNet's own convention at {size}; at {other} it would be "
                    + (f"{alt:.3f}" if alt is not None else "n/a")
                    + f" (x{(4 / 3) if size == '256x192' else (3 / 4):.3f}, the pixel ratio); "
                    f"HRNet's convention gives {g_hr:.3f}")
            if g is None:
                note = f"profile {profile!r} unavailable; " + note
        if verdict == "not reproduced" and not note:
            note = "see the report"
        rows.append({"table": table, "row": row, "model": model, "input": "x".join(map(str, r.input_size)),
                     "paper_params_M": p_print, "archlab_params": r.params, "archlab_params_M": round(pm, 3),
                     "params_match": p_ok, "paper_GFLOPs": g_print, "convention": profile,
                     "archlab_GFLOPs": None if g is None else round(g, 4), "GFLOPs_match": g_ok,
                     "hrnet_paper_GFLOPs": round(g_hr, 4), "verdict": verdict,
                     "reading": DASP_ROW_READINGS.get(row, "both"), "fitted": fitted_parts(model),
                     "explanation": note})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# where the cost goes

def _group_of(path: str) -> str:
    parts = path.split(".")
    top = parts[0]
    if top == "stages" and len(parts) > 1:
        s = int(parts[1]) + 2                       # stages.0 is the paper's stage 2
        if "fuse_layers" in parts or len(parts) <= 3 or parts[3] != "branches":
            return f"stage {s} fuse"
        return f"stage {s} branch {int(parts[4])}" if len(parts) > 4 and parts[4].isdigit() else f"stage {s}"
    if top == "transitions":
        return "transitions"
    if top == "sem":
        return "SEM"
    if top == "head":
        return "head (DASP / final)"
    return top


def cost_groups(name: str, input_size=None):
    """Parameters and multiply-adds of a network grouped as stem, transitions, stage ``s``
    branch ``b`` (HRNet's stage numbering: ``stages.0`` is stage 2; branches 0-based as in
    module paths and ``StageSpec.sem``, 0 = highest resolution; blocks over all modules), stage ``s`` fuse (``...fuse_layers...`` and the
    exchange adds), SEM (``sem.*``) and head (``head.*``), from ``count(name).ops``.
    Columns: ``params``, ``macs`` (conv + linear, the hrnet_paper numerator), ``bmm_macs``."""
    import pandas as pd
    r = _count(name, None if input_size is None else tuple(input_size))
    acc: dict[str, list[int]] = {}
    for o in r.ops:
        g = _group_of(o.module)
        row = acc.setdefault(g, [0, 0, 0])
        row[0] += o.params
        if o.op in ("conv", "linear"):
            row[1] += o.macs
        elif o.op == "bmm":
            row[2] += o.macs
    df = pd.DataFrame.from_dict(acc, orient="index", columns=["params", "macs", "bmm_macs"])
    df.index.name = "group"
    if int(df["params"].sum()) != r.params:
        raise RuntimeError(f"cost_groups: grouped parameters of {name!r} do not add up")
    return df


def breakdown_table(models=("hrnet_w32_coco", "sdhrnet_coco")):
    """:func:`cost_groups` of several models side by side (long format, one row per model and
    group, with shares of the model's total)."""
    import pandas as pd
    frames = []
    for m in models:
        df = cost_groups(m).reset_index()
        df.insert(0, "model", m)
        df["params_share"] = df["params"] / df["params"].sum()
        df["macs_share"] = df["macs"] / df["macs"].sum()
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# figures

def ratio_curves(c_min: int = 8, c_max: int = 1024) -> dict:
    """The curves of the ratio figure: the paper's formula ``19/36 + 1/(2c)`` and its stated
    ``0.52 + 0.25/c`` on a log grid of ``c``; the BN-inclusive and full-module ratios (exact,
    from the closed forms) at every multiple of 4 in range; the real modules' ratio at the
    check points; and the limit 19/36."""
    import numpy as np
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


def plot_ratio(path, c_min: int = 8, c_max: int = 1024) -> list:
    """Figure (a): SCR / BasicBlock parameter ratio against ``c`` (log x). PNG + SVG + JSON."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns
    from ..plots import save_figure
    d = ratio_curves(c_min, c_max)
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ax.plot(d["c"], d["paper_formula"], c="#00798c", lw=2, label="paper's eqs. (12)/(13): 19/36 + 1/(2c)")
    ax.plot(d["c"], d["paper_stated"], c="#d1495b", lw=1.6, ls="--", label="paper's eq. (14) as printed: 0.52 + 0.25/c")
    ax.plot(d["c_multiple_of_4"], d["bn_inclusive"], c="#edae49", lw=1.6, label="with BatchNorm: (19c+26)/(36c+8)")
    ax.plot(d["c_multiple_of_4"], d["full_module"], c="#30638e", lw=1.2, ls="-.",
            label="full module (BN, SE biases, ECA k_e(c)), c = 0 mod 4")
    ax.scatter(d["check_c"], d["check_full_module"], s=22, c="#30638e", zorder=5,
               label="real SCR / BasicBlock parameter counts")
    ax.axhline(d["limit"], c="#555555", lw=1, ls=":", label="limit c -> oo: 19/36 = 0.5278")
    ax.axhline(0.52, c="#d1495b", lw=0.8, ls=":", alpha=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xlim(c_min, c_max)
    ax.set_xlabel("channel count c (SCR(c, c) vs BasicBlock(c, c), k = k' = 3)")
    ax.set_ylabel("parameter ratio P_SCR / P_Basic")
    ax.set_title("Eq. (14): SCR / BasicBlock parameter ratio")
    ax.legend(fontsize=7.5, loc="upper right")
    return save_figure(fig, path, d)


def plot_breakdown(path, models=("hrnet_w32_coco", "sdhrnet_coco")) -> list:
    """Figure (b): where the parameters and the multiply-adds go, model beside model, by group
    (:func:`cost_groups`). PNG + SVG + JSON."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import seaborn as sns
    from ..plots import save_figure
    tables = {m: cost_groups(m) for m in models}
    order: list[str] = []
    for m in reversed(models):                     # the richest model first (SDHRNet has SEM)
        for g in tables[m].index:
            if g not in order:
                pos = len(order)
                prev = list(tables[m].index)
                i = prev.index(g)
                if i > 0 and prev[i - 1] in order:
                    pos = order.index(prev[i - 1]) + 1
                order.insert(pos, g)
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.36 * len(order) + 1.8), sharey=True)
    y = np.arange(len(order))
    hgt = 0.8 / len(models)
    colors = ["#9aa7b8", "#d1495b", "#00798c", "#edae49"]
    data = {"groups": order, "models": list(models), "params_M": {}, "GMACs_2^30": {}}
    for j, m in enumerate(models):
        t = tables[m].reindex(order).fillna(0)
        pm = (t["params"] / 1e6).tolist()
        gm = (t["macs"] / HRNET_PAPER_DIVISOR).tolist()
        data["params_M"][m] = pm
        data["GMACs_2^30"][m] = gm
        off = (j - (len(models) - 1) / 2) * hgt
        r = _count(m)
        axes[0].barh(y + off, pm, height=hgt, color=colors[j % 4], label=f"{m} ({r.params / 1e6:.2f} M)")
        axes[1].barh(y + off, gm, height=hgt, color=colors[j % 4], label=f"{m} ({gflops(r):.2f})")
    axes[0].set_yticks(y, order)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("parameters [M = 10^6]")
    axes[0].set_title("Parameters by group")
    axes[1].set_xlabel("conv + linear multiply-adds [G = 2^30, hrnet_paper]")
    axes[1].set_title("Multiply-adds by group")
    for ax in axes:
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Where the cost goes: COCO 256x192, batch 1 (stage s = stages.{s-2}; branch b = branches.{b}, "
                 "0-based: branch 0 = highest resolution)",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, data)


# ----------------------------------------------------------------------------------------------
# the study: report + CSVs + figures

STUDY_COMMAND = "python studies/paper_claims.py --out reports"


def convention_table(models=("hrnet_w32_coco", "hrnet_w48_coco", "hrnet_w32_mpii", "sdhrnet_coco",
                             "litehrnet_18_coco")):
    """The same networks' cost under several conventions: conv+linear MACs / 2^30
    (``hrnet_paper``), / 10^9, FLOPs = 2 x MACs / 10^9, and every profile of
    :mod:`archlab.cost.profiles` that is available."""
    import pandas as pd
    try:
        from . import profiles
        names = list(getattr(profiles, "PROFILES", {}))
    except ImportError:
        names = []
    rows = []
    for m in models:
        r = _count(m)
        cl = sum(o.macs for o in r.ops if o.op in ("conv", "linear"))
        row = {"model": m, "input": "x".join(map(str, r.input_size)), "params": r.params,
               "conv+linear MACs / 2^30": cl / 2 ** 30, "conv+linear MACs / 10^9": cl / 1e9,
               "2 x conv+linear MACs / 10^9": 2 * cl / 1e9}
        for p in names:
            row[f"profile {p}"] = gflops(r, p)
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(v, floatfmt: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "yes" if v else "no"
    if isinstance(v, int) or type(v).__name__.startswith("int"):
        return f"{int(v):,}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) >= 1000:
            return f"{int(v):,}"
        return format(v, floatfmt)
    return str(v)


def _equation_summary(eqs):
    """:func:`equation_checks` pivoted: one row per (equation, quantity), one column per branch."""
    import pandas as pd
    rows: dict = {}
    for _, r in eqs.iterrows():
        key = (r.equation, r.quantity)
        v = r.archlab
        txt = f"{v:.4f}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v):,}"
        if r.equal is True:
            txt += " ✓"
        elif r.equal is False:
            txt += f" ✗ (paper {int(r.paper_formula):,})"
        rows.setdefault(key, {})[f"c={r.c} @ {r.HxW}"] = txt
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index = pd.MultiIndex.from_tuples(df.index, names=["equation", "quantity"])
    return df.reset_index()


def _md(df, floatfmt=".4f", index=False, fmt: dict | None = None) -> str:
    """Markdown table with every cell formatted here (ints with thousands separators, floats with
    ``floatfmt`` or a per-column ``fmt``, booleans yes/no) and tabulate's number parsing off."""
    fmt = fmt or {}
    if index:
        df = df.reset_index()
    body = df.astype(object).copy()
    for col in body.columns:
        ff = fmt.get(col, floatfmt)
        body[col] = [_cell(v, ff) for v in body[col]]
    return body.to_markdown(index=False, disable_numparse=True)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def run_study(out) -> dict:
    """Write ``out/paper_claims.md``, the CSVs and the figures (PNG + SVG + JSON) under
    ``out/paper_claims/``. Returns the headline numbers."""
    from pathlib import Path
    import pandas as pd
    out = Path(out)
    sub = out / "paper_claims"
    sub.mkdir(parents=True, exist_ok=True)

    # 1. eq. (14)
    dev = paper_formula_deviation()
    checks = ratio_check_table()
    if not checks[[f"{c}_equal" for c in CONVENTIONS]].all().all():
        raise RuntimeError("a closed form differs from the real module's parameter count")
    eqs = equation_checks()
    limits = {c: ratio_limit(c) for c in CONVENTIONS}
    forms = {(conv, res): (scr_params(conv, res).subs({K: 3, KP: 3}), basic_params(conv).subs(K, 3),
                           ratio(conv, res)) for conv in CONVENTIONS for res in (0, 2)}
    # network level: SCR-for-BasicBlock swap over stages 2-4
    br = breakdown_table()
    is_branch = br["group"].str.contains("branch")
    blk = br[is_branch].groupby("model")[["params", "macs"]].sum()
    block_ratio_params = blk.loc["sdhrnet_coco", "params"] / blk.loc["hrnet_w32_coco", "params"]
    block_ratio_macs = blk.loc["sdhrnet_coco", "macs"] / blk.loc["hrnet_w32_coco", "macs"]

    # 2./3.
    red = reductions()
    tables = paper_table_rows()
    conv_t = convention_table()

    # CSVs
    checks.to_csv(sub / "eq14_ratio_checks.csv", index=False)
    eqs.to_csv(sub / "eq8_13_term_checks.csv", index=False)
    red.to_csv(sub / "reductions.csv", index=False)
    tables.to_csv(sub / "paper_tables.csv", index=False)
    br.to_csv(sub / "cost_breakdown.csv", index=False)
    conv_t.to_csv(sub / "conventions.csv", index=False)
    pd.DataFrame([{"convention": conv, "c_mod_4": res, "P_SCR": str(f[0]), "P_Basic": str(f[1]),
                   "ratio": str(f[2]), "limit": str(limits[conv])} for (conv, res), f in forms.items()]
                 ).to_csv(sub / "eq14_closed_forms.csv", index=False)
    fig_a = plot_ratio(sub / "fig_ratio_vs_channels")
    fig_b = plot_breakdown(sub / "fig_cost_breakdown")

    # report
    c32 = checks.set_index("c").loc[32]
    red_i = red.set_index("source")
    p_coco = red_i.loc["archlab, COCO 256x192"]
    g_coco = red[(red.quantity == "GFLOPs") & (red.source == "archlab, COCO 256x192")].iloc[0]
    g_mpii = red[(red.quantity == "GFLOPs") & (red.source == "archlab, MPII 256x256")].iloc[0]
    p_coco = red[(red.quantity == "params") & (red.source == "archlab, COCO 256x192")].iloc[0]
    p_mpii = red[(red.quantity == "params") & (red.source == "archlab, MPII 256x256")].iloc[0]
    g_t2 = red[red.source == "printed, Table 2 (COCO)"].iloc[0]
    g_t1 = red[red.source == "printed, Table 1 (MPII)"].iloc[0]
    g_mix = red[red.source.str.startswith("archlab, mixed")].iloc[0]
    g_t3 = red[red.source.str.startswith("printed, Table 3")].iloc[0]
    p_pr = red[red.source == "printed, Tables 1-3"].iloc[0]
    counts = table_counts(tables)
    lit, fav = counts["literal"], counts["favourable"]
    n_indep = fav["reproduced"] - fav["fitted"]
    lite_missing = tables["archlab_GFLOPs"].isna().any()

    def f(e):
        return f"`{sp.sstr(e)}`"

    ke_pw = eca_kernel_piecewise()
    L = []
    L += ["# The SDHRNet paper's cost claims, checked", "",
          f"Regenerate: `{STUDY_COMMAND}` (CPU, seconds). Logic: `archlab/cost/claims.py`; "
          "tests: `python -m pytest tests/test_claims.py`.", "",
          "Paper: Li et al., *Lightweight Multi-Resolution Network for Human Pose Estimation*, CMES 2023 "
          "(§3.1 eqs. 8-14, §4.3 Tables 1-2, §4.4 Table 3).", "",
          "**Units and conventions.** *params* are parameter counts (`sum(p.numel())` of the built module; "
          "*M* = 10^6). *MACs* are multiply-accumulates of convolutions and linear layers at batch 1, bias adds "
          "excluded. *GFLOPs* in the SDHRNet/HRNet rows are the paper's (HRNet's) convention, the "
          "`hrnet_paper` profile: conv + linear MACs / 2^30; Lite-HRNet rows are in Lite-HRNet's own "
          "convention, the `litehrnet_paper` profile. Kernel sizes k = k' = 3 throughout.", "",
          "## Verdicts", "",
          "| claim | verdict | numbers |", "|---|---|---|",
          f"| Eq. (14): SCR/BasicBlock parameter ratio r = 0.52 + 0.25/c ≈ 0.52 | **not as printed**; ≈ 0.53 | "
          f"the paper's own eqs. (12)/(13) give r = 19/36 + 1/(2c) exactly (limit 19/36 = {float(dev['constant']):.4f}, "
          f"i.e. 0.53); at c = 32: {c32.ratio_paper:.4f} (paper's terms), {c32.ratio_bn:.4f} (with BN), "
          f"{c32.ratio_full:.4f} (full module); the printed formula gives {c32.ratio_paper_stated:.4f} |",
          f"| Eqs. (8)-(13) as formulas | **correct** (eq. 12's '≈' drops the ECA kernel and the SE biases) | "
          f"all {int(eqs['equal'].eq(True).sum())} checked terms equal archlab's counts exactly |",
          f"| 41% fewer parameters than HRNet (Tables 1 and 2 text) | **reproduced** | "
          f"1 - 16,766,975/28,536,113 = {_pct(p_coco.reduction)} (COCO), {_pct(p_mpii.reduction)} (MPII) |",
          f"| 36% less complexity (Table 1 text, MPII) | **reproduced as {100 * g_mpii.reduction:.1f}%** (the paper "
          f"truncates it to 36%; it rounds to 37%) | {_pct(g_mpii.reduction)} "
          f"(MPII, conv+linear MACs / 2^30), {_pct(g_coco.reduction)} (COCO) |",
          f"| 36.6% less complexity (Table 2 text, COCO) | **an artifact of rounding** | only the printed, "
          f"rounded 4.5 / 7.1 give {_pct(g_t2.reduction)}; the unrounded figures give {_pct(g_coco.reduction)} |",
          f"| Tables 1-3 cost columns (HRNet, Lite-HRNet, SDHRNet) | **{lit['reproduced']} of {lit['rows']} rows "
          f"reproduced read literally, {fav['reproduced']} of {fav['rows']} under the favourable reading** of "
          f"Table 3's DASP row; **{fav['fitted']} of those are fitted** | {lit['rows']} printed rows (the DASP "
          "row is one row read two ways, counted once per reading). Not reproduced: Table 3's HRNet row "
          "(9.5 is the MPII 256x256 figure) and, read literally, its DASP row (HRNet-W32 + DASP = 28.56 M). "
          "The SDHRNet rows are fitted: the paper does not give DASP's widths, and archlab's were chosen (with "
          f"the SEM placement) to land on Tables 2-3, so they show consistency, not independent reproduction. "
          f"Independent reproductions: {n_indep} rows (HRNet-W32, Lite-HRNet, the SCR ablation); see §3 |", ""]

    L += ["## 1. Eq. (14): the SCR / BasicBlock parameter ratio", "",
          "### Closed forms (sympy)", "",
          "SCR(c, c) = two SC units (SE with reduction 4, then ECA) in a residual with an identity shortcut; "
          "BasicBlock(c, c) = two 3x3 conv + BN. The SE's hidden width is `c // 4`, so the forms depend on "
          "`c mod 4` (SC at ratio 0.5 needs an even c); `k_e` is the ECA kernel of eq. (5), "
          "`k_e(c) = 2*floor((log2(c) + 1)/4) + 1` = " + f"{f(ke_pw)}" + " (1 for c < 8, 3 for 8 <= c < 128, "
          "5 for 128 <= c < 2048, ...).", ""]
    for conv in CONVENTIONS:
        L += [f"**({'abc'[CONVENTIONS.index(conv)]}) `{conv}`** -- {CONVENTION_TEXT[conv]}:", ""]
        for res in (0, 2):
            s, b, r = forms[(conv, res)]
            L += [f"* c = {res} (mod 4): P_SCR = {f(s)}, P_Basic = {f(b)}, "
                  f"r = {f(r)}" + (f" = {f(sp.apart(r, C))}" if conv != "full" else "")]
        L += [f"* limit c -> oo: {f(limits[conv])} = {float(limits[conv]):.6f}", ""]
    L += ["The paper's eq. (12) uses c/4 for the SE width whatever c is; the `paper` form for c = 0 (mod 4) is "
          "eq. (12) exactly. For general k, k': r = " + f(dev["ratio_general"]) + ".", "",
          "### Closed form vs the real modules", "",
          "Each closed form evaluated at c against `sum(p.numel() for p in SCR(c, c).parameters())` and "
          "`BasicBlock(c, c)` (restricted to the convention's parameter kinds for `paper` and `bn`). "
          "All equal exactly (columns `*_equal`).", ""]
    show = checks[["c", "c_mod_4", "se_hidden", "eca_k", "scr_paper_module", "basic_paper_module", "paper_equal",
                   "scr_bn_module", "basic_bn_module", "bn_equal", "scr_full_module", "basic_full_module",
                   "full_equal"]]
    L += [_md(show), "",
          "Ratios (dimensionless). `ratio_paper_eq12` is eq. (12)/(13) with the paper's c/4 (differs from the "
          "module only at c = 2 mod 4, e.g. c = 18 where c // 4 = 4 < 4.5); `ratio_paper_stated` is the printed "
          "0.52 + 0.25/c.", "",
          _md(checks[["c", "ratio_paper", "ratio_bn", "ratio_full", "ratio_paper_eq12", "ratio_paper_stated"]]), "",
          "### Where eq. (14)'s numbers deviate", "",
          f"* Eq. (12)'s algebra is right: 2·P_s + P_c1 = 2(c·c/2·k² + k'²·c/2) + 2·c·c/4 = (k² + 1/2)c² + k'²c "
          f"(sympy: `expand(lhs - rhs) == 0` is {dev['eq12_simplification_correct']}); for k = k' = 3 that is 9.5c² + 9c.",
          "* Eq. (13) P_0 = 2k²c² = 18c² is BasicBlock's convolution weights (BN's 4c left out).",
          f"* Eq. (14): ((k² + 1/2)c² + k'²c) / (2k²c²) = {f(dev['ratio_k3'])} for k = k' = 3. The constant is "
          f"19/36 = {float(dev['constant']):.5f}, which rounds to **0.53**; the paper prints **0.52** (truncated). "
          f"The 1/c coefficient is k'²/(2k²) = **1/2**; the paper prints **0.25**, which is what one gets by "
          f"counting the depthwise weights of only one SC unit (k'²c/2 instead of k'²c): "
          f"{f(dev['one_unit_depthwise_ratio_k3'])}.",
          f"* So the printed 0.52 + 0.25/c understates the ratio at every c: at HRNet-W32's widths c = 32, 64, 128, "
          f"256 the paper's own formula gives {', '.join(f'{v:.4f}' for v in checks.set_index('c').loc[[32, 64, 128, 256], 'ratio_paper'])} "
          f"and the module as built {', '.join(f'{v:.4f}' for v in checks.set_index('c').loc[[32, 64, 128, 256], 'ratio_full'])}, "
          f"vs the printed {', '.join(f'{v:.4f}' for v in checks.set_index('c').loc[[32, 64, 128, 256], 'ratio_paper_stated'])}. "
          "The conclusion (SCR has about half a BasicBlock's parameters) stands: ≈ 0.53 instead of 0.52.",
          f"* Network level: swapping BasicBlock for SCR in stages 2-4 of HRNet-W32 (COCO) takes those blocks from "
          f"{blk.loc['hrnet_w32_coco', 'params']:,} to {blk.loc['sdhrnet_coco', 'params']:,} parameters "
          f"(ratio {block_ratio_params:.4f}) and their conv + linear MACs by a ratio of {block_ratio_macs:.4f}: "
          "the MACs ratio tends to 1/2 + 1/(2c), not 19/36, because the SE's weights act on a pooled vector "
          "(no H·W factor).", "",
          "### Eqs. (8)-(13) term by term", "",
          "The first SCR block of every branch of SDHRNet's last stage (`stages.2.0.branches.b.0`, COCO 256x192), "
          "from `archlab.count('sdhrnet_coco').ops`, against the same block of `hrnet_w32_coco` (BasicBlock). "
          "Parameter rows are parameter counts; G rows are MACs (stride 1); 'element ops' are elementwise reads "
          "/ multiplies, not MACs.", "",
          _md(_equation_summary(eqs)), "",
          "Cells: archlab's figure; ✓ = equal to the paper's formula at that c; (no mark) = the paper gives "
          "no number. Every row and the paper-formula values are in `paper_claims/eq8_13_term_checks.csv`.", "",
          "* Eq. (9) G_s = H·W·P_s holds exactly at stride 1: primary term H·W·c·(c/2)·k² plus depthwise term "
          "H·W·k'²·c/2.",
          "* Eqs. (10)/(11): P_c1 = G_c1 = 2·c·c_mid is right for the FC weights/MACs (the FCs see the pooled "
          "1x1xc vector); the built SE also has c_mid + c bias parameters, and the global average pool and "
          "the reweighting multiply cost 2·c·H·W element operations that the paper does not count.",
          "* n = 2 (ECA): k_e parameters and k_e·c MACs: negligible indeed.", "",
          "![ratio vs c](paper_claims/fig_ratio_vs_channels.png)", "",
          "Figure (a) `paper_claims/fig_ratio_vs_channels.{png,svg,json}`: the ratio against c (log axis, 8 to "
          "1024); dots are real module counts.", ""]

    L += ["## 2. The 41% / 36% / 36.6% reductions against HRNet", "",
          "reduction = 1 - SDHRNet / HRNet-W32. archlab rows use exact counts (params; GFLOPs = conv+linear MACs "
          "/ 2^30); 'printed' rows use the tables' rounded figures.", "",
          _md(red[["quantity", "source", "SDHRNet", "HRNet", "sdhrnet_value", "hrnet_value", "unit", "reduction_pct",
                   "matches_41pct", "matches_36pct", "matches_36.6pct"]], floatfmt=".4f", fmt={"reduction_pct": ".2f"}), "",
          f"* **41%** (parameters): every pairing gives it -- {_pct(p_coco.reduction)} exact on COCO, "
          f"{_pct(p_mpii.reduction)} on MPII (the heads differ by 17 vs 16 joints), {_pct(p_pr.reduction)} from "
          "the printed 16.8 / 28.5.",
          f"* **36%** (Table 1 text, MPII): the exact MPII figure is {_pct(g_mpii.reduction)} (6.00 / 9.49); "
          f"the printed 6.0 / 9.5 give {_pct(g_t1.reduction)}. The reduction is {100 * g_mpii.reduction:.1f}%; "
          "the paper's 36% truncates it (it rounds to 37%).",
          f"* **36.6%** (Table 2 text, COCO): only the printed, rounded 4.5 / 7.1 give it ({_pct(g_t2.reduction)}); "
          f"the unrounded COCO figures (4.500 / 7.120) give {_pct(g_coco.reduction)}.",
          f"* Table 3's own pairing (SDHRNet 4.5 vs its HRNet row's 9.5) would be {_pct(g_t3.reduction)} "
          f"({_pct(g_mix.reduction)} exact): the text does not use it.", ""]

    L += ["## 3. Tables 1-3: cost columns", "",
          "archlab's figure beside the paper's. `archlab_params_M` is params / 10^6; a match means archlab's "
          "figure rounded to the printed precision equals the printed one. `archlab_GFLOPs` is in the row's "
          "`convention` (hrnet_paper: conv+linear MACs / 2^30; litehrnet_paper: Lite-HRNet's own); "
          "`hrnet_paper_GFLOPs` is HRNet's convention for every row.", "",
          _md(tables[["table", "row", "model", "input", "paper_params_M", "archlab_params_M", "params_match",
                      "paper_GFLOPs", "convention", "archlab_GFLOPs", "GFLOPs_match", "hrnet_paper_GFLOPs",
                      "verdict", "reading", "fitted"]], floatfmt=".3f"), "",
          "How to count: the tables print 12 cost rows; Table 3's DASP row appears twice above, once per "
          "reading (`reading`: `literal` = as ticked, `favourable` = SCR + DASP, `both` = every other row). "
          f"Read literally, {lit['reproduced']} of {lit['rows']} rows reproduce; under the favourable reading, "
          f"{fav['reproduced']} of {fav['rows']}.", "",
          "Fitted rows (`fitted` not empty): the paper does not give the DASP head's widths. archlab's "
          "(`growth=8, proj=32, llf_proj=32, fuse=32`, `archlab.nets.zoo.SDHRNET_DASP`) were chosen, with the SEM "
          "on the deepest branch entering the last stage, so that SCR + DASP stays at 16.7 M / <= 4.5 and the full "
          "model lands on 16.8 M / 4.5 (COCO) and 6.0 (MPII). Those rows match because they were made to; "
          f"they are consistency checks, not independent reproductions ({fav['fitted']} of the "
          f"{fav['reproduced']} reproduced rows under the favourable reading, {lit['fitted']} of {lit['reproduced']} "
          f"read literally). The {n_indep} rows without fitted parts (HRNet-W32, Lite-HRNet, the SCR ablation) "
          "reproduce from the published architectures and archlab's reading of SC/SCR (README, 'How the paper "
          "was read').", "",
          "Explanations:", ""]
    for _, r in tables.iterrows():
        if r.explanation:
            L.append(f"* {r.table}, {r.row} ({r.verdict}): {r.explanation}.")
    L += ["* Lite-HRNet, Table 1 vs Table 2: 0.27 / 0.42 (MPII, 256x256) and 0.20 / 0.31 (Lite-HRNet's "
          "paper at COCO 256x192, printed 0.2 / 0.3 here) are the same networks at different input sizes: the "
          "cost scales with the pixel count, 256·256 / (256·192) = 4/3.",
          "* Lite-HRNet in HRNet's convention: " + ", ".join(
              f"{r.model} {r.hrnet_paper_GFLOPs:.3f}" for _, r in tables.iterrows() if r.row.startswith("Lite"))
          + " -- at the printed precision of Table 2 (one decimal) these also round to 0.2 / 0.3, but not to "
            "Table 1's 0.27 / 0.42: Lite-HRNet's figures are in its own convention (`litehrnet_paper`), not HRNet's.", ""]
    if lite_missing:
        L += ["*Note: the `litehrnet_paper` profile was not available when this report was generated; the "
              "Lite-HRNet GFLOPs rows are marked not reproduced for that reason only.*", ""]
    L += ["### Which convention the 'GFLOPs' are in", "",
          _md(conv_t, floatfmt=".4f"), "",
          "Only conv + linear MACs / 2^30 reproduces HRNet's 7.1 (W32) and 14.6 (W48) and the paper's 4.5 / 6.0.", ""]

    L += ["## 4. Where SDHRNet's and HRNet-W32's parameters and multiply-adds go", "",
          "Groups from `archlab.count(name).ops` module paths: `stem` (two stride-2 3x3 convs + the bottleneck "
          "layer1), `transitions.*`, stage s branch b = `stages.{s-2}.<m>.branches.{b}` over all modules "
          "(branches 0-based, as in module paths and `StageSpec.sem`: branch 0 is the highest resolution, "
          "1/4 of the input; stage numbers are HRNet's, stage 1 being the stem's bottleneck layer1), "
          "stage s fuse = `...fuse_layers...` and the exchange adds, `SEM` = `sem.*`, head = `head.*` "
          "(DASP for SDHRNet, a 1x1 conv for HRNet). params in M (10^6), MACs = conv + linear multiply-adds in "
          "G = 2^30 (`bmm_macs`: the SEM's attention matrix products, not in hrnet_paper).", ""]
    wide = br.pivot_table(index="group", columns="model", values=["params", "macs"], sort=False)
    wide = pd.DataFrame({
        "HRNet-W32 params (M)": wide[("params", "hrnet_w32_coco")] / 1e6,
        "SDHRNet params (M)": wide[("params", "sdhrnet_coco")] / 1e6,
        "HRNet-W32 MACs (G, 2^30)": wide[("macs", "hrnet_w32_coco")] / 2 ** 30,
        "SDHRNet MACs (G, 2^30)": wide[("macs", "sdhrnet_coco")] / 2 ** 30}).fillna(0.0)
    order = list(dict.fromkeys(br[br.model == "sdhrnet_coco"]["group"]))
    wide = wide.reindex(order).fillna(0.0)
    wide.loc["total"] = wide.sum()
    L += [_md(wide, index=True), "",
          f"* The SCR swap is where the savings are: the stage 2-4 branch blocks drop from "
          f"{blk.loc['hrnet_w32_coco', 'params'] / 1e6:.2f} M to {blk.loc['sdhrnet_coco', 'params'] / 1e6:.2f} M "
          f"parameters and from {blk.loc['hrnet_w32_coco', 'macs'] / 2 ** 30:.2f} to "
          f"{blk.loc['sdhrnet_coco', 'macs'] / 2 ** 30:.2f} G MACs; stem, transitions and fuse layers are "
          "unchanged, which is why the network-level MACs reduction (36.8%) is smaller than the parameter "
          "reduction (41.2%): the unchanged stem alone is "
          f"{br[(br.model == 'sdhrnet_coco') & (br.group == 'stem')].macs_share.iloc[0]:.1%} of SDHRNet's MACs.",
          "* SEM and DASP together add "
          f"{br[(br.model == 'sdhrnet_coco') & br.group.isin(['SEM', 'head (DASP / final)'])].params.sum():,} "
          "parameters.", "",
          "![cost breakdown](paper_claims/fig_cost_breakdown.png)", "",
          "Figure (b) `paper_claims/fig_cost_breakdown.{png,svg,json}`.", "",
          "## Files", "",
          "`paper_claims/`: `eq14_closed_forms.csv`, `eq14_ratio_checks.csv`, `eq8_13_term_checks.csv`, "
          "`reductions.csv`, `paper_tables.csv`, `conventions.csv`, `cost_breakdown.csv`, "
          "`fig_ratio_vs_channels.{png,svg,json}`, `fig_cost_breakdown.{png,svg,json}`.", ""]
    report = out / "paper_claims.md"
    report.write_text("\n".join(L))
    return {"report": report, "figures": [*fig_a, *fig_b], "ratio_limit": limits["paper"],
            "param_reduction_coco": float(p_coco.reduction), "gflops_reduction_coco": float(g_coco.reduction),
            "param_reduction_mpii": float(p_mpii.reduction), "gflops_reduction_mpii": float(g_mpii.reduction),
            "tables_literal": lit, "tables_favourable": fav}
