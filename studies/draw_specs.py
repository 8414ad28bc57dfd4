"""Draw architectures that span the LSPET search space, for the rank-fidelity set of the study
(issue 11 item 4: at least 10 architectures trained under the final protocol).

Each draw is one random configuration of ``studies/search_lspet.yaml``'s knobs (Optuna's
RandomSampler, seeded, so the same command writes the same files), validated and counted like a
search trial, written to ``studies/specs/span_<k>.yaml`` with its parameters, multiply-adds and
predicted ONNX Runtime latency in a header comment. Draws that repeat an earlier network are
redrawn, and so are draws over ``--max-gmacs`` (default 0.3: about 6x Lite-HRNet-18, 0.05 GMACs at 128x96,
so that one final-protocol run stays within a few CPU-hours). Commands::

    python studies/draw_specs.py                 # N_SPAN (7) draws, seed 0 -> studies/specs/span_0..6.yaml
    python studies/draw_specs.py -n 5            # the first 5 of them (the draws are sequential)
    python studies/draw_specs.py -n 3 --seed 1 --dry-run
"""
from __future__ import annotations

import argparse
from pathlib import Path

import optuna

from final_protocol import N_SPAN

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "studies" / "search_lspet.yaml"


def draw(n: int, seed: int, max_gmacs: float = 0.3) -> list:
    """``n`` distinct valid specs drawn at random from the space (the base network excluded), each
    with at most ``max_gmacs`` multiply-adds (10^9) at the space's input size."""
    import archlab
    from archlab.search.space import SearchSpace
    space = SearchSpace.from_yaml(SPACE)
    seen = {space.base_spec().to_yaml()}
    specs = []
    for _, (params, spec) in zip(range(50 * n), space.draws(seed)):
        if spec is None:         # a draw the spec validator refuses (e.g. impossible widths)
            continue
        key, cost = spec.to_yaml(), archlab.count(spec)
        if key in seen or cost.macs > max_gmacs * 1e9:
            continue
        seen.add(key)
        specs.append((params, spec, cost))
        if len(specs) == n:
            return specs
    raise SystemExit(f"only {len(specs)} distinct valid draws in {50 * n} tries")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=N_SPAN, help="how many draws (default: the study's N_SPAN)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-gmacs", type=float, default=0.3)
    ap.add_argument("--dry-run", action="store_true", help="print the draws, write nothing")
    a = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for k, (params, spec, cost) in enumerate(draw(a.n, a.seed, a.max_gmacs)):
        head = (f"# span_{k}: random draw {k} (seed {a.seed}) of studies/search_lspet.yaml, written by "
                f"studies/draw_specs.py\n# knobs: {params}\n# {cost.params / 1e6:.3f} M parameters, "
                f"{cost.macs / 1e9:.3f} GMACs at {spec.input_size[0]}x{spec.input_size[1]}\n")
        print(head, end="")
        if not a.dry_run:
            (ROOT / "studies" / "specs" / f"span_{k}.yaml").write_text(head + spec.to_yaml())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
