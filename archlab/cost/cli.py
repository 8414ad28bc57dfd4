"""``archlab cost``: parameters and multiply-adds of a network, by any counter and profile.

* ``archlab cost NAME_OR_YAML [--input HxW] [--counter C] [--profile P] [--by module|op]
  [--latency] [--csv FILE]`` -- one network;
* ``archlab cost --zoo [--input HxW] [--profile P] [--csv FILE]`` -- every zoo model in one table
  (analytic counter: no module is run).

``--counter`` is ``analytic`` (default: from the spec alone, milliseconds), one of
:data:`archlab.cost.counters.COUNTERS` (builds and runs the model), or ``all`` (every counter side
by side with the analytic prediction of its figure, :mod:`archlab.cost.conventions`).
"""
from __future__ import annotations

import sys

__all__ = ["register", "cmd_cost", "module_table"]

_COUNTER_CHOICES = ("analytic", "fvcore", "thop", "ptflops-pytorch", "ptflops-aten", "torch", "all")


def register(subparsers) -> None:
    from .profiles import PROFILES
    c = subparsers.add_parser("cost", help="parameters and multiply-adds (analytic or a third-party counter)",
                              description=__doc__.split("\n\n")[0])
    c.add_argument("model", nargs="?", help="zoo name or spec YAML (omit with --zoo)")
    c.add_argument("--zoo", action="store_true", help="every zoo model in one table (analytic counter)")
    c.add_argument("--input", help="input size HxW (default: the spec's)")
    c.add_argument("--counter", default="analytic", choices=_COUNTER_CHOICES, help="default analytic")
    c.add_argument("--profile", default="hrnet_paper", choices=sorted(PROFILES),
                   help="counting profile of the headline figure (default hrnet_paper)")
    c.add_argument("--by", choices=("module", "op"), help="also print a breakdown by module or by op class")
    c.add_argument("--depth", type=int, default=2, help="module path depth for --by module (default 2)")
    c.add_argument("--latency", action="store_true", help="also measure CPU latency (batch 1, 1 thread)")
    c.add_argument("--csv", help="write the table (or breakdown) to this CSV file")
    c.set_defaults(func=cmd_cost)


def _zoo(args) -> int:
    import pandas as pd

    from ..nets.zoo import list_models
    from .analytic import count
    from .profiles import PROFILES, format_cost
    prof = PROFILES[args.profile]
    rows = []
    for name in list_models():
        r = count(name, args.input)
        v = r.to(args.profile)
        rows.append({"model": name, "input": f"{r.input_size[0]}x{r.input_size[1]}",
                     "params (M)": round(r.params / 1e6, 3), "MACs (G, 10^9)": round(r.macs / 1e9, 3),
                     f"{args.profile} [{prof.short_unit}]": round(float(v.value), 3)})
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    print(df.to_string(index=False))
    print(f"\n{args.profile}: {prof.description}. e.g. {format_cost(v)} for {rows[-1]['model']}")
    return 0


def module_table(r, depth: int, profile: str):
    """Parameters and the cost under ``profile`` per module group (the first ``depth`` path
    components), in forward order, with their shares of the total. Each group is counted as its
    own :class:`~archlab.cost.analytic.CostReport`, so the column is in the profile's unit (e.g.
    ``hrnet_paper`` GFLOPs, not raw MACs); groups with no parameters and no cost (a container
    that only concatenates) are left out.

    >>> from archlab.cost.analytic import count
    >>> t = module_table(count("sdhrnet_coco"), 1, "hrnet_paper")
    >>> list(t.index), round(float(t["hrnet_paper [GFLOPs]"].sum()), 2)
    (['stem', 'transitions', 'stages', 'sem', 'head'], 4.5)
    """
    import pandas as pd

    from .analytic import CostReport, _group_key
    from .profiles import get_profile
    prof = get_profile(profile)
    groups: dict[str, list] = {}
    for op in r.ops:
        groups.setdefault(_group_key(op.module, depth), []).append(op)
    rows = {}
    for g, ops in groups.items():
        cost = CostReport(r.spec, r.input_size, ops=ops, name=g).to(profile)
        rows[g] = {"params": sum(o.params for o in ops), "count": cost.count, "value": cost.value}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df = df[(df["params"] != 0) | (df["count"] != 0)]
    total = r.to(profile)
    col = f"{profile} [{prof.short_unit}]"
    out = pd.DataFrame({"params": df["params"], "params %": 100 * df["params"] / r.params,
                        col: df["value"], f"{profile} %": 100 * df["count"] / total.count if total.count else 0.0})
    out.index.name = "group"
    return out


def _print_module_table(table) -> None:
    value_col = table.columns[2]
    value_fmt = "{:,.4f}" if table[value_col].dtype.kind == "f" else "{:,}"
    shown = table.copy().astype(object)
    for col, fmt in (("params", "{:,}"), ("params %", "{:.1f}"), (value_col, value_fmt), (table.columns[3], "{:.1f}")):
        shown[col] = [fmt.format(v) for v in table[col]]
    print(shown.to_string())


def cmd_cost(args) -> int:
    import pandas as pd

    from ..nets.factory import create_model
    from .analytic import count
    from .profiles import format_cost, get_profile
    if args.zoo:
        return _zoo(args)
    if not args.model:
        print("archlab cost: give a model name / YAML, or --zoo", file=sys.stderr)
        return 2
    r = count(args.model, args.input)
    h, w = r.input_size
    print(f"{r.name} @ {h}x{w}, batch 1: {r.params:,} parameters ({r.params / 1e6:.3f} M)")
    print(f"  analytic: {r.macs:,} MACs (conv + linear + bmm, no bias)   {format_cost(r.to(args.profile))}")
    table = None
    if args.counter != "analytic":
        from .conventions import predict
        from .counters import COUNTERS, run_counter
        model = create_model(args.model, input_size=(h, w)).eval()
        names = list(COUNTERS) if args.counter == "all" else [args.counter]
        rows = []
        for name in names:
            res = run_counter(name, model, (h, w))
            pred = predict(name, r)
            rows.append({"counter": name, "version": res.version, "unit": res.unit, "total": res.total,
                         "analytic prediction": pred.total, "exact": res.total == pred.total,
                         "seconds": round(res.seconds, 3),
                         "unsupported": ", ".join(f"{k} x{v}" for k, v in res.unsupported.items())})
        table = pd.DataFrame(rows)
        print(table.to_string(index=False))
    if args.by == "module":
        table = module_table(r, args.depth, args.profile)
        _print_module_table(table)
        print(f"(by module path depth {args.depth}; {args.profile}: {get_profile(args.profile).formula})")
    elif args.by == "op":
        table = pd.DataFrame({"count": r.macs_by_op}).rename_axis("op class")
        print(table.to_string())
        print("(convolution/linear/matmul: MACs; pooling: input elements; others: output elements)")
    if args.latency:
        from .latency import measure_latency
        lat = measure_latency(create_model(args.model, input_size=(h, w)), (h, w))
        print(f"  CPU latency (batch 1, {lat.threads} thread): median {lat.median_ms:.2f} ms, IQR {lat.iqr_ms:.2f} ms "
              f"over {lat.repeats} runs")
    if args.csv and table is not None:
        table.to_csv(args.csv)
    return 0
