"""The previous search's accuracy proxy, scored for every model of the LSPET study, so that the
rank-fidelity table has its "current 2-epoch proxy" row (issue 11 item 4).

The proxy is the training budget of ``studies/search_train.yaml`` (2 epochs on 1,600 training
images, batch 32, PCK@0.2 on 200 validation images, best epoch), moved onto the study's splits:
it trains on the first 1,600 images of ``fit`` and scores the first 200 of ``search_val``
(report-test is never seen), 1 torch thread, 1 loader worker, seed 0 -- the same code path as a
search trial (:func:`archlab.search.objective.short_train`). One row per model is appended to
``reports/search_lspet/legacy_proxy.csv``::

    model, score (PCK@0.2 %, a proxy), seconds (wall = CPU seconds at 1 thread), options (JSON)

A model already in the table is skipped, and an interrupted model resumes from its checkpoint in
``runs/legacy_proxy/MODEL`` (ignored by git). Commands::

    python studies/legacy_proxy.py                  # every model of studies/final_protocol.py
    python studies/legacy_proxy.py litehrnet_18     # some of them
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import final_protocol as fp  # noqa: E402

OUT = fp.OUT / "legacy_proxy.csv"
WORK = fp.ROOT / "runs" / "legacy_proxy"
#: search_train.yaml's budget on the protocol's splits and thread count
OPTIONS = {"data": "lspet", "input_size": "128x96", "epochs": 2, "batch": 32, "limit_train": 1600,
           "limit_val": 200, "workers": 1, "seed": 0, "train_split": "fit", "val_split": "search_val"}


def score(model: str, data_root=None) -> dict:
    """Train ``model`` under the legacy proxy budget (resuming) and return its table row."""
    import torch

    from archlab.search.objective import short_train
    torch.set_num_threads(fp.THREADS)
    spec = fp.model_spec(model)
    opts = {**OPTIONS, **({"data_root": str(data_root)} if data_root else {})}
    t0 = time.time()
    value = short_train(spec, opts, WORK / model)
    return {"model": model, "score": value, "seconds": time.time() - t0, "options": json.dumps(OPTIONS)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", help="short names from studies/final_protocol.py (default: all)")
    ap.add_argument("--data-root", default=None)
    a = ap.parse_args(argv)
    unknown = [m for m in a.models if m not in fp.MODELS]
    if unknown:
        raise SystemExit(f"unknown model {unknown[0]!r}; the study's models: {', '.join(fp.MODELS)}")
    table = pd.read_csv(OUT) if OUT.is_file() else pd.DataFrame(columns=["model", "score", "seconds", "options"])
    for m in a.models or list(fp.MODELS):
        if m in set(table["model"]):
            continue
        row = score(m, a.data_root)
        print(f"{m}: legacy 2-epoch proxy PCK@0.2 {row['score']:.2f} in {row['seconds']:.0f} s", flush=True)
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
        table.to_csv(OUT, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
