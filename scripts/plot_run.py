#!/usr/bin/env python3
"""Plot an mfcl run file with h5py and matplotlib: the example of reading its schema.

    python3 scripts/plot_run.py RUN.h5 --out fig.png

Top: the cosine similarities m_j(t) and the squared norm R(t). Bottom: the density of x
given each xi-atom at up to six snapshots (all coordinates together for more than four
atoms). `mfcl plot` draws the same figure, with the reduced ODE, without Python.
Needs: pip install h5py matplotlib (numpy comes with them).
"""

import argparse

import h5py
import matplotlib.pyplot as plt
import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="the run file (RUN.h5)")
    parser.add_argument("--out", required=True, help="the figure to write (PNG, PDF, ...)")
    args = parser.parse_args()

    with h5py.File(args.run, "r") as f:
        if f.attrs.get("format") != "mfcl-run":
            raise SystemExit(f"{args.run}: not an mfcl run file")
        trajectory = {name: f["trajectory"][name][()] for name in ("t", "cosine", "norm2")}
        # Snapshot groups are named 000000, 000001, ...: sorted names are time order.
        snapshots = [
            {"t": group.attrs["t"], "edges": group["edges"][()],
             "counts": group["counts"][()], "atoms": group["atoms"][()]}
            for _, group in sorted(f.get("snapshots", {}).items())
        ]
        title = f"{args.run}: {f.attrs['solver']}, seed {f.attrs['seed']}"

    fig, axes = plt.subplot_mosaic([["cosine", "norm"], ["density", "density"]],
                                   figsize=(12, 8), layout="constrained")
    fig.suptitle(title)
    t = trajectory["t"]
    for j, m in enumerate(trajectory["cosine"].T, start=1):
        axes["cosine"].plot(t, m, label=f"$m_{j}$")
    axes["cosine"].set(xlabel="t", ylabel="cosine similarity")
    axes["cosine"].legend()
    axes["norm"].plot(t, trajectory["norm2"], color="0.3")
    axes["norm"].set(xlabel="t", ylabel="squared norm R")

    # Up to six snapshots, evenly spread; densities count / (atom total * bin width).
    chosen = []
    if snapshots:
        picks = np.unique(np.linspace(0, len(snapshots) - 1, 6).round().astype(int))
        chosen = [snapshots[k] for k in picks]
    colors = plt.cm.viridis(np.linspace(0, 0.85, max(len(chosen), 1)))
    for snapshot, color in zip(chosen, colors):
        edges, counts, atoms = snapshot["edges"], snapshot["counts"], snapshot["atoms"]
        # Many xi-patterns (or a continuous law's single histogram): all coordinates together.
        if len(counts) > 4 or atoms.shape[1] == 0:
            counts, atoms = counts.sum(axis=0, keepdims=True), None
        centres, widths = (edges[1:] + edges[:-1]) / 2, np.diff(edges)
        for k, count in enumerate(counts):
            density = count / (count.sum() * widths)
            label = f"t = {snapshot['t']:g}" if k == 0 else None
            axes["density"].plot(centres, density, color=color, label=label,
                                 linestyle=["-", "--", ":", "-."][k % 4])
    if chosen:
        styles = "all coordinates" if atoms is None else "line styles: " + ", ".join(
            f"xi = ({', '.join(f'{v:+g}' for v in atom)})" for atom in atoms)
        axes["density"].set(xlabel="x", ylabel="density", title=f"density of x ({styles})")
        axes["density"].legend()
    fig.savefig(args.out, dpi=100)


if __name__ == "__main__":
    main()
