"""``boltzkit msa-info MSA`` and ``boltzkit contacts RUN.h5 --struct FILE``: alignments and DCA
contact prediction.

Thin layer: :func:`boltzkit.data.msa_summary.msa_summary` and
:func:`boltzkit.evaluation.contacts.run_contact_scores` do the work; here we parse, print and plot
(:func:`boltzkit.report.contact_figures.plot_contact_map`). The API is imported inside the commands:
it loads torch, which ``boltzkit --help`` does not need.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

import typer
from boltzkit.cli.common import ThreadsOption, console, print_json, print_table, progress_bar, setup_torch, stdout, \
    user_errors

Quiet = typer.Option(False, "--quiet", help="No progress bar")


@contextmanager
def _percent_bar(description: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawn as a bar in percent (the API counts in its own
    units: identity-matrix entries, pairs of sites), shown from its first call."""
    with progress_bar(description, 100, enabled) as advance:
        yield lambda done, total: advance(100 * done // total if total else 100)


def msa_info(
    msa: Path = typer.Argument(..., help="Alignment: aligned FASTA, A2M/A3M or Stockholm (.gz ok)"),
    threshold: float = typer.Option(0.8, "--threshold", help="Identity threshold of the reweighting"),
    alphabet: str = typer.Option("auto", "--alphabet",
                                 help="auto | protein | rna | dna | a custom string of letters "
                                      "(the first letter is the gap state, index 0)"),
    convention: str = typer.Option("plmc", "--convention",
                                   help="plmc: identity >= threshold; morcos: > threshold"),
    unknown: str = typer.Option("gap", "--unknown", help="gap | error: letters outside the alphabet"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    quiet: bool = Quiet,
    threads: Optional[int] = ThreadsOption,
) -> None:
    """Sequences, length, alphabet, effective number of sequences M_eff (with the convention
    used), unknown letters and gaps of an alignment."""
    setup_torch(threads, "cpu")
    from boltzkit.data.msa_summary import msa_summary  # the API loads numpy and torch

    with _percent_bar("sequence weights", not (quiet or as_json)) as progress:
        info = msa_summary(msa, alphabet, threshold, convention, unknown, progress)
    if as_json:
        print_json(info)
        return
    print_table(str(msa), [
        ("sequences M", str(info["n_sequences"])),
        ("distinct sequences", str(info["n_unique"])),
        ("length L (columns)", str(info["length"])),
        ("alphabet", f"{info['alphabet']} {info['letters']!r} (q={info['q']}, index 0 = gap)"),
        (f"M_eff (identity {info['weights_convention']['comparison']} {threshold:g})", f"{info['m_eff']:.2f}"),
        ("unknown letters", f"{info['unknown_letters']['count']} in {info['unknown_letters']['sequences']} sequences"),
        ("gap fraction (all / worst column)",
         f"{info['gap_fraction']:.4f} / {info['max_column_gap_fraction']:.4f}")])
    stdout.print(f"weights: {info['weights_convention']['description']}")
    stdout.print(f"unknown letters: {info['unknown_letters']['rule']}")
    if not info["letters"].startswith("-"):
        stdout.print(f"warning: the custom alphabet starts with {info['letters'][0]!r}, not '-': "
                     f"{info['letters'][0]!r} is the gap state (index 0)", soft_wrap=True)


def contacts(
    run: Path = typer.Argument(..., help="Run file of a Potts model or a Potts RBM (categorical visible units)"),
    struct: Path = typer.Option(..., "--struct", help="Distance table *_struct.dat (i j score "
                                                      "distance, 1-based columns; .gz ok)"),
    min_separation: int = typer.Option(5, "--min-separation",
                                       help="Rank only pairs with j - i >= S"),
    distance_cutoff: float = typer.Option(8.0, "--distance-cutoff",
                                          help="Contact when distance < cutoff (Angstrom)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Contact-map PNG (default: RUN_contacts.png)"),
    checkpoint: Optional[int] = typer.Option(None, "--checkpoint", help="Update number (default: last)"),
    rbm_method: str = typer.Option("gaussian", "--rbm-couplings",
                                   help="Potts RBM pair couplings: gaussian | mixture | exact"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    quiet: bool = Quiet,
    threads: Optional[int] = ThreadsOption,
) -> None:
    """DCA contact prediction: precision at the top L/5, L/2, L, 2L pairs (Frobenius norm of the
    zero-sum couplings without the gap, APC) and a contact map of the top 2L pairs."""
    from boltzkit.evaluation.contacts import run_contact_scores  # heavy (torch)
    from boltzkit.report.contact_figures import plot_contact_map  # heavy (matplotlib)

    from boltzkit.io.outputs import check_outputs

    setup_torch(threads, "cpu")
    if out is None:
        out = run.with_name(run.stem + "_contacts.png")
    check_outputs({"--out": out}, {"RUN": run, "--struct": struct})
    with _percent_bar("couplings", not (quiet or as_json)) as progress:
        found = run_contact_scores(run, struct, checkpoint, min_separation, distance_cutoff, rbm_method, progress)
    result = found.summary
    result["figure"] = str(plot_contact_map(found.scores, found.contact_map, out, top="2L",
                                            min_separation=min_separation))
    if as_json:
        print_json(result)
        return
    print_table(f"{run} @ update {result['checkpoint']}: contacts vs {struct.name}",
                [(key, str(found.counts[key]), f"{value:.3f}") for key, value in result["precision"].items()],
                ("top", "pairs", "precision"))
    stdout.print(f"L = {result['length']}; {result['n_contacts']} contacts among {result['n_pairs']} pairs "
                 f"with j - i >= {min_separation} (distance < {distance_cutoff:g} A); scores: "
                 f"{result['couplings']}, Frobenius without gap, APC")
    console.print(f"wrote {result['figure']}")


def register(app: typer.Typer) -> None:
    """Add ``msa-info`` and ``contacts`` to the ``boltzkit`` app."""
    app.command("msa-info")(user_errors(msa_info))
    app.command("contacts")(user_errors(contacts))
