"""``archlab`` command line: ``models``, ``show``, ``cost``, ``latency``, ``train``, ``eval``.

Each command family lives beside its code (``archlab/cost/cli.py``, ``archlab/train/cli.py``)
and registers itself here with ``register(subparsers)``.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def _param_count(spec) -> int:
    """Parameters from the spec alone (the analytic count equals the built module's, see
    tests/test_zoo.py), without building the network."""
    from .cost import count
    return count(spec).params


def cmd_models(args) -> int:
    import pandas as pd

    from .nets.zoo import get_spec, list_models
    rows = []
    for name in list_models(args.pattern):
        spec = get_spec(name)
        stage_blocks = sorted({s.block for s in spec.stages})
        rows.append({
            "model": name,
            "params (M)": round(_param_count(spec) / 1e6, 3),
            "input HxW": f"{spec.input_size[0]}x{spec.input_size[1]}",
            "joints": spec.num_joints,
            "widths": "/".join(map(str, spec.stages[-1].widths)),
            "blocks": ",".join(stage_blocks),
            "head": spec.head.type,
            "description": spec.description,
        })
    if not rows:
        print(f"no zoo model matches {args.pattern!r}", file=sys.stderr)
        return 1
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    print(df.to_markdown(index=False) if args.markdown else df.to_string(index=False))
    return 0


def cmd_show(args) -> int:
    from .nets.factory import resolve_spec
    from .nets import build_network
    spec = resolve_spec(args.model)
    print(f"# {spec.name}: {spec.description}".rstrip(": "))
    print(spec.to_yaml(), end="")
    model = build_network(spec, device="meta")
    total = sum(p.numel() for p in model.parameters())
    print("\n# module summary (parameters)")
    groups: dict[str, int] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        key = ".".join(parts[: args.depth])
        groups[key] = groups.get(key, 0) + p.numel()
    width = max(len(k) for k in groups) if groups else 10
    for k, v in groups.items():
        print(f"{k:<{width}}  {v:>12,d}  {100 * v / total:6.2f}%")
    print(f"{'total':<{width}}  {total:>12,d}  params ({total / 1e6:.3f} M)")
    if args.modules:
        print("\n" + str(model))
    return 0


def cmd_report(args) -> int:
    from .report import regenerate
    try:
        status = regenerate(args.dir, args.names or None)
    except KeyError as e:
        raise ValueError(e.args[0]) from None
    for name, st in status.items():
        print(f"{name:>22}: {st}")
    print(f"index: {args.dir}/README.md")
    return 1 if any(st.startswith("failed") for st in status.values()) else 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(prog="archlab", description="Design, count, train and search HRNet-family "
                                "pose networks.")
    p.add_argument("--version", action="version", version=f"archlab {__version__}")
    sp = p.add_subparsers(dest="cmd", metavar="COMMAND")
    m = sp.add_parser("models", help="the model zoo as a table")
    m.add_argument("pattern", nargs="?", default="*", help="shell-style name filter (default: all)")
    m.add_argument("--csv", help="also write the table to this CSV file")
    m.add_argument("--markdown", action="store_true", help="print a markdown table")
    m.set_defaults(func=cmd_models)
    s = sp.add_parser("show", help="a spec (zoo name or YAML file) as YAML plus a module summary")
    s.add_argument("model", help="zoo name (see `archlab models`) or path to a spec YAML")
    s.add_argument("--depth", type=int, default=2, help="group parameters by this many name levels")
    s.add_argument("--modules", action="store_true", help="also print the full module tree")
    s.set_defaults(func=cmd_show)
    r = sp.add_parser("report", help="regenerate reports/ from recorded results and write its index")
    r.add_argument("names", nargs="*", help="only these reports (default: all)")
    r.add_argument("--dir", default="reports", help="reports folder (default: reports)")
    r.set_defaults(func=cmd_report)
    for modname in ("archlab.cost.cli", "archlab.cost.latency_cli", "archlab.train.cli", "archlab.search.cli"):
        import importlib
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:  # a subpackage not installed in this build
            if e.name not in (modname, modname.rsplit('.', 1)[0]):
                raise
            continue
        mod.register(sp)
    return p


def main(argv=None) -> int:
    from .spec import SpecError
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (SpecError, KeyError, FileNotFoundError, ValueError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"archlab {args.cmd}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
