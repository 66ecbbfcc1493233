#!/usr/bin/python3
"""Executes a notebook with a Jupyter kernel through nbclient (Debian's python3-nbclient), printing
progress per cell, and writes the executed notebook. Exits 1 if any cell raised or printed an
error output, naming the cell.

usage: run_notebook.py IN.ipynb OUT.ipynb [--kernel NAME] [--timeout SECONDS] [--cwd DIR]
"""
import argparse
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--kernel", default="qlora-ts")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ap.add_argument("--cwd", default=None, help="working folder of the kernel (default: the notebook's)")
    args = ap.parse_args()

    nb = nbformat.read(args.src, as_version=4)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    started = {}

    def on_cell_start(cell, cell_index):
        started[cell_index] = time.monotonic()
        if cell_index not in code_cells:
            return
        n = code_cells.index(cell_index) + 1
        first = next((l for l in cell.source.splitlines() if l.strip()), "")
        print(f"[{n}/{len(code_cells)}] {first[:90]}", flush=True)

    def on_cell_executed(cell, cell_index, execute_reply):
        if cell_index not in code_cells:
            return
        took = time.monotonic() - started.get(cell_index, time.monotonic())
        print(f"      done in {took:.1f}s", flush=True)

    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        resources={"metadata": {"path": args.cwd or os.path.dirname(os.path.abspath(args.src))}},
        on_cell_start=on_cell_start,
        on_cell_executed=on_cell_executed,
    )
    failed = None
    try:
        client.execute()
    except CellExecutionError as e:
        failed = str(e).splitlines()[-1] if str(e) else "cell error"
    nbformat.write(nb, args.dst)

    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                n = code_cells.index(i) + 1 if i in code_cells else i
                print(f"error in cell {n}: {out.get('ename')}: {out.get('evalue')}", file=sys.stderr)
                failed = failed or "error output"
    if failed:
        print(f"notebook {args.src} failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
