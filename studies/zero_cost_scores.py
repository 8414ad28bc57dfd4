"""Zero-cost proxy scores of the LSPET search study's models (issue: a search whose accuracy ranks models).

Scores every model of ``studies/final_protocol.py``'s ``MODELS`` (plus any spec YAMLs or zoo names
given on the command line) with :mod:`archlab.search.zero_cost` -- synflow, NASWOT, jacob_cov,
grad_norm, snip -- at the final protocol's input size (128x96) and 14 joints, on a seeded minibatch
of LSPET ``fit`` images (1-7000; never search-validation or report-test), 1 torch thread, and writes
one row per (model, seed, proxy)::

    model, proxy, score, seconds (CPU s of that proxy alone), wall_seconds, seed, batch_size,
    input_size, threads, source, images (the LSPET image numbers, 1-based)

to ``reports/search_lspet/zero_cost.csv``. Rank fidelity (Kendall tau with bootstrap) is computed
from this table by ``studies/search_lspet.py``. Commands::

    python studies/zero_cost_scores.py                                 # the study's models, seed 0
    python studies/zero_cost_scores.py my_net.yaml --seeds 0 1 2       # more models, more seeds
    python studies/zero_cost_scores.py --proxies synflow naswot --out /tmp/zc.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import final_protocol as fp  # noqa: E402

ROOT = fp.ROOT
OUT = fp.OUT / "zero_cost.csv"


def models_to_score(extra=()) -> dict:
    """The study's models (short name -> zoo name or absolute YAML path) plus ``extra`` specs."""
    models = {m: (str(ROOT / s) if s.endswith((".yaml", ".yml")) else s) for m, s in fp.MODELS.items()}
    for s in extra:
        p = Path(s)
        if s.endswith((".yaml", ".yml")):
            if not p.is_file():
                raise SystemExit(f"spec file not found: {s}")
            name, src = p.stem, str(p.resolve())
        else:
            name, src = s, s
        if name in models and models[name] != src:
            raise SystemExit(f"two models are named {name!r}: {models[name]} and {src}")
        models[name] = src
    return models


def score_all(models: dict, proxies=None, seeds=(0,), batch_size: int = 16, input_size=(128, 96),
              threads: int = 1, data_root=None) -> pd.DataFrame:
    """One row per (model, seed, proxy); the minibatch of each seed is drawn once and shared."""
    import torch
    from tqdm import tqdm

    from archlab.search.zero_cost import check_proxies, lspet_batch, score_spec
    names = check_proxies(proxies)
    torch.set_num_threads(threads)
    rows = []
    for seed in seeds:
        batch = lspet_batch(batch_size, seed, input_size, data_root)
        images = " ".join(str(i + 1) for i in batch["index"])
        for model, src in tqdm(models.items(), desc=f"seed {seed}", unit="model"):
            res = score_spec(src, names, batch_size, seed, input_size, batch=batch)
            rows += [{"model": model, "proxy": p, "score": r["score"], "seconds": round(r["cpu_s"], 3),
                      "wall_seconds": round(r["wall_s"], 3), "seed": seed, "batch_size": batch_size,
                      "input_size": f"{input_size[0]}x{input_size[1]}", "threads": threads,
                      "source": Path(src).relative_to(ROOT).as_posix() if Path(src).is_absolute()
                      and Path(src).is_relative_to(ROOT) else src, "images": images}
                     for p, r in res.items()]
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("specs", nargs="*", help="more models to score: spec YAML paths or zoo names")
    ap.add_argument("--proxies", nargs="+", default=None,
                    help="proxies to compute (default: synflow naswot jacob_cov grad_norm snip)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0],
                    help="seeds: each fixes the initialisation and the minibatch (default: 0)")
    ap.add_argument("--batch-size", type=int, default=16, help="images in the minibatch (default 16)")
    ap.add_argument("--threads", type=int, default=fp.THREADS, help=f"torch threads (default {fp.THREADS})")
    ap.add_argument("--data-root", default=None, help="shared data folder (default: found automatically)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"CSV to write (default {OUT.relative_to(ROOT)})")
    a = ap.parse_args(argv)
    try:
        table = score_all(models_to_score(a.specs), a.proxies, a.seeds, a.batch_size,
                          tuple(fp.PROTOCOL["input_size"]), a.threads, a.data_root)
    except ValueError as e:
        raise SystemExit(str(e))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(a.out, index=False)
    wide = table.pivot_table(index="model", columns="proxy", values="score", aggfunc="mean")
    print(wide.to_string(float_format=lambda v: f"{v:.4g}"))
    print(f"CPU seconds per model (all proxies, mean over seeds): "
          f"{table.groupby(['model', 'seed'])['seconds'].sum().groupby('model').mean().round(2).to_dict()}")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
