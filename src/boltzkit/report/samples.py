"""Samples of a saved run written to a file: what ``boltzkit sample`` calls, for every family.

The format follows the suffix and the model's visible space: categorical models write FASTA with
the run's alphabet (``.fasta``, ``.fa``, ``.gz``...) or integer codes (``.npy``, ``.txt``); runs
trained on a table of categorical columns (:mod:`boltzkit.data.table`) write ``.csv`` / ``.tsv``,
each code decoded to its column's value name (:func:`boltzkit.data.table.decode_table`, with the
categories stored in the run), or codes (``.npy``, ``.txt``); binary models write ``.npy`` (values
as sampled, {0,1} or ±1), ``.txt`` (0/1) or a ``.png`` image grid
(:func:`boltzkit.report.images.save_samples`).

Real-valued models write the samples in the data's units (the visible space's ``to_data``,
docs/methods.md section 11.6) and in the data file's layout (the run's stored data spec puts back
the columns the reader left out, at their value): ``.npy`` (float64), ``.txt`` (one row per line,
``%.6g``), ``.csv`` / ``.tsv`` (with the file's header row when it had one), or ``.png``: grey
levels over the data's range as an image grid when the run's data are images, else a raster of
standardised values on [-3, 3] (:mod:`boltzkit.report.images`).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from boltzkit.checks import integer
from boltzkit.data.msa import write_fasta
from boltzkit.data.specs import spec_from_config
from boltzkit.data.table import decode_table
from boltzkit.errors import BoltzkitError
from boltzkit.io import trajectory
from boltzkit.io.atomic import atomic_path, write_text_atomic
from boltzkit.io.outputs import check_outputs
from boltzkit.models.visible import VisibleSpace
from boltzkit.report.images import STANDARD_RANGE, data_range, save_samples, standard_scores
from boltzkit.models.baseline import INDEPENDENT_SITE, baselines
from boltzkit.sampling.choice import TEMPERING, TRAJECTORY_TEMPERING, draw, with_sampler
from boltzkit.sampling.tempering import most_trajectory_replicas
from boltzkit.training.memory import check_chains_memory

__all__ = ["write_run_samples"]

_TABLE_OUTPUTS = {".csv": ",", ".tsv": "\t"}
_REAL_OUTPUTS = (".npy", ".txt", ".png", *_TABLE_OUTPUTS)


def write_run_samples(run: str | os.PathLike, out: str | os.PathLike, n: int = 100,
                      gibbs_steps: int = 1000, checkpoint: int | None = None, seed: int = 0,
                      device: str = "cpu", max_memory: float | None = None, *,
                      sampler: str | None = None, sampler_settings: dict | None = None) -> str:
    """Draw ``n`` samples after ``gibbs_steps`` Monte Carlo steps from the random starts of the
    model of ``run`` (at ``checkpoint``, default the last; uniformly random configurations, or
    Gaussian noise for real values) and write them to ``out`` (``max_memory``: GiB the chains may
    use, in place of the memory available). ``sampler`` and ``sampler_settings`` choose the Monte
    Carlo step (:func:`boltzkit.sampling.choice.with_sampler`: None, the model's own as trained).

    Returns what was written, in words ("100 sequences", "100 samples").
    """
    out = Path(out)
    n = integer(n, "--n", 1)
    gibbs_steps = integer(gibbs_steps, "--gibbs-steps", 0)
    seed = integer(seed, "--seed", 0)
    check_outputs({"--out": out}, {"RUN": run})
    model = trajectory.load_model(run, checkpoint)
    tempering = sampler in (TEMPERING, TRAJECTORY_TEMPERING)
    if not tempering:  # the model's step or a variant of it, checked before sampling
        model = with_sampler(model, sampler, sampler_settings)
    space = model.visible
    if space.real:  # the suffix is checked before sampling: a wrong one costs nothing
        _check_real_suffix(out)
    table = None if space.real else _table_of(run, out)
    model = model.to(device)
    ptt = sampler == TRAJECTORY_TEMPERING
    check_chains_memory(model, n, "--n", device, max_memory,
                        most_trajectory_replicas(trajectory.checkpoints_up_to(run, checkpoint)) if ptt else 1)
    generator = torch.Generator(device=device).manual_seed(seed)
    base = _data_base(run, model) if tempering else None
    models = trajectory.tempering_models(run, model, base, checkpoint) if ptt else None
    x = draw(model, n, gibbs_steps, generator, sampler, sampler_settings,
             models[0] if ptt else base, models[1:] if ptt else None).cpu().numpy()
    if space.real:
        return _write_real(run, out, x, space)
    if not space.categorical:
        _, _, image_shape = trajectory.read_data_sample(run)
        save_samples(out, x, image_shape)
        return f"{n} samples"
    codes = space.to_data(x)
    if out.suffix.lower() in (".npy", ".txt"):
        # np.save would append ".npy" to the temporary name; an open file keeps it as is
        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            if out.suffix.lower() == ".txt":
                np.savetxt(f, codes, fmt="%d")
            else:
                np.save(f, codes.astype(np.int8))
        return f"{n} samples"
    if table is not None:
        return _write_table(out, codes, table)
    alphabet = trajectory.read_config(run).get("alphabet")
    if alphabet is None:
        raise BoltzkitError(f"{out}: the run has no alphabet to write sequences with (use .npy or .txt)")
    write_fasta(out, codes.astype(np.int8), alphabet, [f"sample_{i}" for i in range(n)])
    return f"{n} sequences"


def _data_base(run: str | os.PathLike, model) -> Any:
    """The independent-site model of the run's stored training rows (the start of tempering's
    path), or None when the run stores none."""
    rows, _, _ = trajectory.read_data_sample(run)
    if rows is None or len(rows) == 0:
        return None
    space, rows = model.visible, model.visible.stored_rows(rows)
    return baselines(space, space.tensor(rows, model.dtype, model.device)).get(INDEPENDENT_SITE)


def _check_real_suffix(out: Path) -> None:
    """Refuse an output format that real values cannot be written in."""
    if out.suffix.lower() not in _REAL_OUTPUTS:
        raise BoltzkitError(f"--out {out}: the run's model has real values; write "
                            f"{', '.join(_REAL_OUTPUTS)}")


def _table_of(run: str | os.PathLike, out: Path) -> dict[str, Any] | None:
    """The stored spec of a run trained on a table (None for other runs) after checking that
    ``out`` suits the run: ``.csv`` / ``.tsv`` only for a table, FASTA never for one."""
    stored = trajectory.read_config(run).get("data")
    table = stored if isinstance(stored, dict) and stored.get("format") == "table" \
        and stored.get("categories") else None
    suffix = out.suffix.lower()
    if table is None and suffix in _TABLE_OUTPUTS:
        raise BoltzkitError(f"--out {out}: {suffix} (value names per column) is for a run trained on "
                            "a table of categorical columns; write .npy, .txt, .png (binary) or "
                            ".fasta (alignments)")
    if table is not None and suffix not in (*_TABLE_OUTPUTS, ".npy", ".txt"):
        raise BoltzkitError(f"--out {out}: the run was trained on a table of categorical columns; "
                            "write .csv / .tsv (value names) or .npy / .txt (codes)")
    return table


def _write_table(out: Path, codes: np.ndarray, table: dict[str, Any]) -> str:
    """Write ``codes`` as value names, with the table's header row when its file had one."""
    names = decode_table(codes, table["categories"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=_TABLE_OUTPUTS[out.suffix.lower()], lineterminator="\n")
    if table.get("header") is True and table.get("columns"):
        writer.writerow(table["columns"])
    writer.writerows(names.tolist())
    write_text_atomic(out, buffer.getvalue())
    unused = int((names == "").sum())
    # a state that its column never had (the table's columns share one q): left empty, and said
    note = f" ({unused} cells in states their column never had, written empty)" if unused else ""
    return f"{len(codes)} rows{note}"


def _write_real(run: str | os.PathLike, out: Path, x: np.ndarray, space: VisibleSpace) -> str:
    """Write real samples ``x`` (model values, shape (n, n_visible)) in the data's units and the
    data file's layout: a table with the file's header, numbers, or a picture."""
    config = trajectory.read_config(run)
    spec = spec_from_config(config, run) if "data" in config else None  # fitted from arrays: none
    rows = space.to_data(x)
    in_file = rows if spec is None else spec.expand(rows)
    suffix = out.suffix.lower()
    if suffix in _TABLE_OUTPUTS:
        header = spec.file_columns if spec is not None and getattr(spec, "header", False) is True \
            else None
        _write_numbers_table(out, in_file, header)
    elif suffix == ".png":
        _write_real_picture(run, out, rows, in_file, space, spec)
    else:
        save_samples(out, in_file, None, data_range(in_file))  # the range only marks real values
    return f"{len(x)} samples"


def _write_numbers_table(out: Path, rows: np.ndarray, header: list[str] | None) -> None:
    """Rows of real values as CSV / TSV (``%.6g``), under ``header`` when given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=_TABLE_OUTPUTS[out.suffix.lower()], lineterminator="\n")
    if header:
        writer.writerow(header)
    writer.writerows([[f"{v:.6g}" for v in row] for row in rows.tolist()])
    write_text_atomic(out, buffer.getvalue())


def _write_real_picture(run: str | os.PathLike, out: Path, rows: np.ndarray, in_file: np.ndarray,
                        space: VisibleSpace, spec: Any) -> None:
    """An image grid of ``in_file`` (the file's layout) over the stored data's range when the
    run's data are images, else a raster of the standardised ``rows`` (the model's columns)."""
    stored, _, image_shape = trajectory.read_data_sample(run)
    reference = None if stored is None else np.asarray(stored, dtype=np.float64)
    if image_shape is not None and image_shape[0] * image_shape[1] == in_file.shape[1]:
        whole = None if reference is None else (reference if spec is None else spec.expand(reference))
        save_samples(out, in_file, image_shape, data_range(in_file if whole is None else whole))
    else:
        save_samples(out, standard_scores(space, rows, reference), None, STANDARD_RANGE)
