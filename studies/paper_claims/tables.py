"""What the SDHRNet paper prints, as data: the cost columns of Tables 1-3 (``paper_tables.csv``
beside this file, read by :func:`read_paper_tables` into :data:`PAPER_TABLES`), which printed
figures its "41% / 36% / 36.6%" reductions could come from (:data:`PRINTED_REDUCTIONS`), the two
readings of Table 3's DASP row (:data:`DASP_ROW_READINGS`) and the explanations of the rows that do
not reproduce (:data:`EXPLAIN`). The checks are in :mod:`network`.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

__all__ = ["PaperRow", "read_paper_tables", "PAPER_TABLES", "paper_row", "PRINTED_REDUCTIONS",
           "DASP_ROW_READINGS", "EXPLAIN"]

TABLES_CSV = Path(__file__).with_name("paper_tables.csv")


class PaperRow(NamedTuple):
    """One cost row of Tables 1-3 as printed: ``params_M`` and ``GFLOPs`` stay text (their printed
    precision is what a match is judged at); ``model`` is the zoo model it is checked against and
    ``convention`` the cost profile its GFLOPs are read in."""

    table: str
    row: str
    model: str
    params_M: str
    GFLOPs: str
    convention: str


def read_paper_tables(path=TABLES_CSV) -> tuple[PaperRow, ...]:
    """The rows of ``path`` (``#`` lines are comments), checked for the columns of :class:`PaperRow`."""
    with open(path, newline="") as f:
        reader = csv.DictReader(line for line in f if not line.startswith("#"))
        if reader.fieldnames != list(PaperRow._fields):
            raise ValueError(f"{path}: columns must be {list(PaperRow._fields)}, got {reader.fieldnames}")
        return tuple(PaperRow(**r) for r in reader)


#: The cost columns of the paper's Tables 1-3 for HRNet, Lite-HRNet and SDHRNet, as printed.
PAPER_TABLES = read_paper_tables()


def paper_row(table: str, row: str) -> PaperRow:
    """The printed row ``row`` of ``table``, with a clear error when there is none."""
    for r in PAPER_TABLES:
        if (r.table, r.row) == (table, row):
            return r
    raise KeyError(f"no row {row!r} in {table!r} of {TABLES_CSV.name}")


#: The printed figures a reduction against HRNet could be computed from:
#: (quantity, source label, table, SDHRNet's row, HRNet's row).
PRINTED_REDUCTIONS = (
    ("params", "printed, Tables 1-3", "Table 1 (MPII)", "SDHRNet", "HRNet-W32"),
    ("GFLOPs", "printed, Table 2 (COCO)", "Table 2 (COCO)", "SDHRNet", "HRNet-W32"),
    ("GFLOPs", "printed, Table 1 (MPII)", "Table 1 (MPII)", "SDHRNet", "HRNet-W32"),
    ("GFLOPs", "printed, Table 3 (SDHRNet COCO vs HRNet row)", "Table 3 (COCO)", "SCR + DASP + SEM", "HRNet"),
)

#: Table 3's DASP row is one printed row read two ways: ``literal`` (as ticked) and
#: ``favourable`` (SCR + DASP); every other row is read the same way under both.
DASP_ROW_READINGS = {"DASP (as ticked: HRNet-W32 + DASP)": "literal", "DASP (read as SCR + DASP)": "favourable"}

#: Why a row of Table 3 does (not) reproduce; formatted with ``mpii`` / ``coco`` (HRNet-W32's
#: GFLOPs at MPII 256x256 / COCO 256x192) and the row's ``p`` (M parameters) and ``g`` (GFLOPs).
EXPLAIN = {
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
