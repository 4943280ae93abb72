#!/usr/bin/env python3
"""Plot an mfcl run file with h5py and matplotlib: the example of reading its schema.

    python3 scripts/plot_run.py RUN.h5 --out fig.png

The figure of `mfcl plot` without the reduced ODE (the script reads nothing but the run
file): on top, the cosine similarities m_j(t) and the squared norm R(t); below, one panel
per xi-pattern with the density of x given that pattern at up to six snapshots, or one
panel of all coordinates together for more than four patterns or a continuous feature law.
For a layer of K neurons: the cosines m_jk(t), the Gram matrix R_kl(t) (k <= l), and one
density panel per neuron. Reads formats 2 and 3 (the same datasets) and the format-1 files
of earlier releases.
The title says where a run that stopped before its t_end stopped (or diverged).
Needs: Python 3.11 or later, pip install h5py matplotlib (numpy comes with them).
"""

import argparse
import tomllib
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import numpy as np

# As in `mfcl plot`: snapshots drawn (evenly chosen, first and last included), and the most
# xi-patterns that get a panel each.
MAX_SNAPSHOTS = 6
MAX_PANELS = 4
# mfcl plot's feature colours: blue, red, green, orange, ... of matplotlib's "tab10".
FEATURE_COLORS = ["C0", "C3", "C2", "C1", "C4", "C5", "C6", "C9"]

# The defaults of the [run] keys that the title reads (the README's config reference): the
# config stored in a run file holds the keys that its file and the --set options gave.
RUN_DEFAULTS = {"particles": 100000, "dimension": 10000, "dt": 0.01, "t_end": 10.0}


def read(path):
    """The trajectory, the snapshots in time order, and the header: the [run] settings (with
    defaults), the solver and the seed."""
    # Without HDF5's file locking, a run that `mfcl run` is still writing can be read too.
    with h5py.File(path, "r", locking=False) as f:
        if f.attrs.get("format") != "mfcl-run":
            raise SystemExit(f"{path}: not an mfcl run file")
        trajectory = {name: f["trajectory"][name][()] for name in ("t", "cosine", "norm2")}
        # Format 1 (one neuron) has no neuron axes: give it the later (T, p, K), (T, K, K).
        if trajectory["norm2"].ndim == 1:
            trajectory["cosine"] = trajectory["cosine"][:, :, None]
            trajectory["norm2"] = trajectory["norm2"][:, None, None]
        # Snapshot groups are named 000000, 000001, ...: sorted names are time order.
        snapshots = []
        for _, group in sorted(f.get("snapshots", {}).items()):
            edges, counts = group["edges"][()], group["counts"][()]
            if edges.ndim == 1:  # format 1: (B + 1) and (A, B)
                edges, counts = edges[None, :], counts[:, None, :]
            snapshots.append({"t": group.attrs["t"], "edges": edges, "counts": counts,
                              "atoms": group["atoms"][()]})
        run = RUN_DEFAULTS | tomllib.loads(f.attrs["config"]).get("run", {})
        header = {"run": run, "solver": f.attrs["solver"], "seed": int(f.attrs["seed"]),
                  "diverged": "diverged" in f.attrs}
    return trajectory, snapshots, header


def title(path, header, t_reached):
    """The file's name, the solver and its size, the seed, and where an early stop was."""
    run = header["run"]
    if header["solver"] == "particles":
        solver = f"particles, N = {run['particles']}, dt = {run['dt']:g}"
    else:
        solver = f"SGD, n = {run['dimension']}"
    text = f"{Path(path).name}: {solver}, seed {header['seed']}"
    # Times are sums of steps: compare and print them at 12 significant digits.
    t_end = run["t_end"]
    if t_reached < t_end - 1e-9 * max(abs(t_end), 1.0):
        how = "diverged after" if header["diverged"] else "stopped at"
        text += f" — {how} t = {t_reached:.12g} of {t_end:.12g}"
    return text


def chosen(snapshots):
    """Up to MAX_SNAPSHOTS snapshots, evenly spread, first and last included."""
    if len(snapshots) <= MAX_SNAPSHOTS:
        return snapshots
    picks = np.linspace(0, len(snapshots) - 1, MAX_SNAPSHOTS).round().astype(int)
    return [snapshots[k] for k in picks]


def atom_label(value):
    """+1, -1, +1.291: an atom value as it reads best."""
    return f"{value:+.0f}" if float(value).is_integer() else f"{value:+.3f}"


def panels(snapshots):
    """(caption, neuron, one counts array per snapshot) for each density panel: for one
    neuron a panel per xi-pattern (or all together), for a layer a panel per neuron."""
    counts, atoms = snapshots[0]["counts"], snapshots[0]["atoms"]
    patterns, neurons = counts.shape[0], counts.shape[1]
    if neurons > 1:
        return [(f"density of $x_{k + 1}$", k, [s["counts"][:, k].sum(axis=0) for s in snapshots])
                for k in range(neurons)]
    if patterns > MAX_PANELS or atoms.shape[1] == 0:
        caption = (f"density of x, all {patterns} ξ-patterns together" if patterns > 1
                   else "density of x")
        return [(caption, 0, [s["counts"][:, 0].sum(axis=0) for s in snapshots])]
    result = []
    for k, atom in enumerate(atoms):
        if len(atom) == 1:
            caption = f"density of x given ξ₁ = {atom_label(atom[0])}"
        else:
            caption = f"x given ξ = ({', '.join(atom_label(v) for v in atom)})"
        result.append((caption, 0, [s["counts"][k, 0] for s in snapshots]))
    return result


def density(edges, counts):
    """Bin centres and count / (total * bin width), from the first to the last occupied bin."""
    occupied = np.nonzero(counts)[0]
    if len(occupied) == 0:
        return np.array([]), np.array([])
    bins = slice(occupied[0], occupied[-1] + 1)
    centres = (edges[1:] + edges[:-1])[bins] / 2
    return centres, counts[bins] / (counts.sum() * np.diff(edges)[bins])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="the run file (RUN.h5)")
    parser.add_argument("--out", required=True, help="the figure to write (PNG, PDF, ...)")
    args = parser.parse_args()

    trajectory, snapshots, header = read(args.run)
    t = trajectory["t"]
    if len(t) == 0:
        raise SystemExit(f"{args.run}: nothing to plot, no sample has been recorded yet")
    drawn = chosen(snapshots)
    density_panels = panels(drawn) if drawn else []

    # Top: cosine and norm share the width; bottom: the density panels share it.
    columns = max(len(density_panels), 1)
    layout = [["cosine"] * columns + ["norm"] * columns]
    if density_panels:
        layout.append([f"density{k}" for k in range(columns) for _ in range(2)])
    fig, axes = plt.subplot_mosaic(layout, figsize=(15, 10.5 if density_panels else 5.5),
                                   layout="constrained")
    fig.suptitle(title(args.run, header, t[-1]), fontsize="x-large")

    cosine, norm2 = trajectory["cosine"], trajectory["norm2"]
    p, neurons = cosine.shape[1], cosine.shape[2]
    for i, (j, k) in enumerate((j, k) for j in range(p) for k in range(neurons)):
        label = f"$m_{j + 1}$" if neurons == 1 else f"$m_{{{j + 1}{k + 1}}}$"
        axes["cosine"].plot(t, cosine[:, j, k], linewidth=2, label=label,
                            color=FEATURE_COLORS[i % len(FEATURE_COLORS)])
    axes["cosine"].set(xlabel="t", ylabel="cosine", title="cosine similarity to each feature")
    axes["cosine"].legend()
    if neurons == 1:
        axes["norm"].plot(t, norm2[:, 0, 0], color="0.35", linewidth=2)
        axes["norm"].set(xlabel="t", ylabel="R", title="squared norm R(t)")
    else:
        pairs = [(k, l) for k in range(neurons) for l in range(k, neurons)]
        for i, (k, l) in enumerate(pairs):
            axes["norm"].plot(t, norm2[:, k, l], linewidth=2, label=f"$R_{{{k + 1}{l + 1}}}$",
                              color=FEATURE_COLORS[i % len(FEATURE_COLORS)])
        axes["norm"].set(xlabel="t", ylabel="R", title="Gram matrix R(t)")
        axes["norm"].legend()

    # Dark to light with time: viridis from 0 to 0.85 (its yellows are hard to see on white).
    colors = plt.cm.viridis(np.linspace(0, 0.85, MAX_SNAPSHOTS))
    for k, (caption, neuron, counts) in enumerate(density_panels):
        ax = axes[f"density{k}"]
        if k > 0:
            ax.sharey(axes["density0"])
        for snapshot, count, color in zip(drawn, counts, colors):
            ax.plot(*density(snapshot["edges"][neuron], count), color=color, linewidth=1.5,
                    label=f"t = {snapshot['t']:.12g}")
        ax.set(xlabel="x" if neurons == 1 else f"$x_{neuron + 1}$", ylabel="density",
               title=caption)
        ax.set_ylim(bottom=0)
    if density_panels:
        axes["density0"].legend(loc="upper left")
    fig.savefig(args.out, dpi=100)


if __name__ == "__main__":
    main()
