"""The run file: one HDF5 file per training run.

Layout::

    /                      attrs: format="boltzkit-trajectory", version, config (JSON: model,
                           training, data), created
    /checkpoints/<update>  one group per saved model (zero-padded update number), holding the
                           model's tensors (``weights``, ``visible_bias``, ...); attrs: update,
                           wall_time (seconds since the start of training), learning_rate
    /state                 everything needed to resume exactly: ``params/*`` (current tensors),
                           ``chains`` (persistent chains), ``rng`` / ``data_rng`` (generator states),
                           ``optimizer`` (torch-serialised state dict, loaded with
                           weights_only=True), ``scheduler`` (the learning-rate scheduler's
                           state dict, the same way; absent from files written before it
                           existed), ``permutation`` + attr ``cursor`` (minibatch order);
                           attrs: update, wall_time
    /data_sample           up to 2000 training rows (uint8/int8) for reports; optional
                           ``data_labels`` and ``data_ids`` (the rows' names, UTF-8 bytes: a
                           haplotype's ID, an alignment's header; absent from files written
                           before it existed); attrs: image_shape
    /tempering_start       the law that starts trajectory tempering when the run has one of its own
                           (``train --pretrain low-rank``: the low-rank model's mesh law, sampled
                           exactly, :mod:`boltzkit.models.mesh_mixture`): its tensors
                           ``directions``, ``fields``, ``log_weights``; attr kind = "mesh-mixture";
                           optional (without it tempering starts at the data's independent-site model)
    /evaluations           JSON text: the log Z and log-likelihoods computed for a checkpoint
                           (:func:`read_evaluations`, :func:`write_evaluation`), keyed by the
                           update and the settings that produced them, each with a fingerprint
                           of the checkpoint's tensors (absent until a command evaluates the run)

Every write goes to a temporary copy that replaces the file atomically
(:mod:`boltzkit.io.atomic`): a crash leaves the previous complete file.

The readers (:func:`read_config`, :func:`checkpoint_updates`, :func:`load_model`,
:func:`load_models`, :func:`read_data_sample`, :func:`read_data_ids`) also take the model files of other tools (:mod:`boltzkit.io.foreign`).
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from boltzkit.data.specs import spec_from_config
from boltzkit.errors import BoltzkitError, DataError
from boltzkit.io.atomic import atomic_hdf5
from boltzkit.io.foreign import foreign_config, foreign_format, foreign_updates, load_foreign
from boltzkit.models.mesh_mixture import mesh_mixture
from boltzkit.models.registry import family, model_from_config

FORMAT = "boltzkit-trajectory"
#: The resume state of trajectory AIS (train --track-log-z), every rank's, rank after rank.
TRACK_STATE = ("track_chains", "track_log_w", "track_log_z0", "track_rng")
VERSION = 1
#: The kind of a stored tempering start (the only one: a low-rank model's mesh law).
MESH_MIXTURE = "mesh-mixture"


def _key(update: int) -> str:
    return f"{update:010d}"


def _tensor_bytes(obj: Any) -> np.ndarray:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def _from_bytes(data: np.ndarray) -> Any:
    return torch.load(io.BytesIO(data.tobytes()), weights_only=True)


@dataclass
class ResumeState:
    """What :func:`read_state` returns: the model and training state at the last save."""

    update: int
    wall_time: float
    params: dict[str, torch.Tensor]
    chains: torch.Tensor | None
    rng: torch.Tensor
    data_rng: torch.Tensor
    optimizer: dict[str, Any]
    permutation: np.ndarray
    cursor: int
    scheduler: dict[str, Any] | None = None  # None: a file written before learning-rate schedules
    chains_hidden: torch.Tensor | None = None  # the chains' hidden states, for samplers that carry them
    rank_rngs: torch.Tensor | None = None  # (world, n) generator states of a data-parallel run's ranks
    track: dict[str, torch.Tensor] | None = None  # the trajectory-AIS population (--track-log-z)
    tempering: dict[str, torch.Tensor] | None = None  # the tempering chains (--sampler pt | ptt)


def create(path: str | os.PathLike, config: dict[str, Any], data_sample: np.ndarray | None = None,
           labels: np.ndarray | None = None, image_shape: tuple[int, int] | None = None,
           ids: Any = None, tempering_start: Any = None) -> None:
    """Start a new run file (replacing any file at ``path``); ``ids``: the names of the rows of
    ``data_sample`` (sequence of str, one per row), stored as ``data_ids``; ``tempering_start``:
    the law that starts trajectory tempering on this run (a mesh law, :func:`read_tempering_start`),
    or None."""
    with atomic_hdf5(path) as f:
        if tempering_start is not None:
            g = f.create_group("tempering_start")
            g.attrs["kind"] = MESH_MIXTURE
            for name, tensor in tempering_start.parameters().items():
                g.create_dataset(name, data=tensor.detach().cpu().numpy())
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        f.attrs["config"] = json.dumps(config)
        f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        f.create_group("checkpoints")
        if data_sample is not None:
            ds = f.create_dataset("data_sample", data=data_sample, compression="gzip")
            if image_shape is not None:
                ds.attrs["image_shape"] = np.asarray(image_shape)
            if labels is not None:
                lab = np.asarray(labels)
                if lab.dtype.kind in "OUS":
                    lab = lab.astype("S")
                f.create_dataset("data_labels", data=lab)
            if ids is not None:
                _write_ids(f, ids)


def read_tempering_start(path: str | os.PathLike, like: Any = None):
    """The law stored to start trajectory tempering on the run (the low-rank mesh law of ``train
    --pretrain low-rank``), over the visible values of the run's model, on ``like``'s device and in
    its dtype when given; None when the run has none (a model file of another tool has none). A
    damaged law is one line naming the file."""
    if foreign_format(path):
        return None
    with _open(path) as f:
        if "tempering_start" not in f:
            return None
        g = f["tempering_start"]
        if g.attrs.get("kind") != MESH_MIXTURE:
            raise DataError(path, f"its tempering start is of an unknown kind {g.attrs.get('kind')!r}")
        try:
            tensors = {name: torch.from_numpy(np.asarray(g[name][()])) for name in g}
        except (TypeError, ValueError, AttributeError) as e:
            raise DataError(path, f"its tempering start cannot be read ({type(e).__name__})") from None
    model_config = read_config(path).get("model", {})
    try:
        visible = like.visible if like is not None else family(model_config.get("kind"), str(path)).space()
        law = mesh_mixture(visible, tensors)
    except BoltzkitError:
        raise
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as e:
        raise DataError(path, f"its tempering start is damaged ({str(e) or type(e).__name__})") from None
    n_visible = like.n_visible if like is not None else model_config.get("n_visible", law.n_visible)
    if law.n_visible != n_visible:
        raise DataError(path, f"its tempering start is damaged (shapes not (d, N), (P, d), (P,) for the model's "
                              f"N = {n_visible} visible units: directions {tuple(law.directions.shape)})")
    return law if like is None else law.to(like.device, like.dtype)


def checkpoints_up_to(path: str | os.PathLike, checkpoint: int | None = None) -> int:
    """How many checkpoints the run saved up to ``checkpoint`` (default: the last), read before any
    is loaded (the replicas a memory check of trajectory tempering counts)."""
    updates = checkpoint_updates(path)
    last = updates[-1] if checkpoint is None else checkpoint
    return sum(u <= last for u in updates)


def tempering_models(path: str | os.PathLike, model: Any, base: Any = None, checkpoint: int | None = None) -> list:
    """The models trajectory tempering chooses its replicas from, up to ``checkpoint`` (default:
    the last), whose model is ``model``: the run's tempering start (:func:`read_tempering_start`)
    or else ``base`` (None when the run has neither), the saved checkpoints before it on
    ``model``'s device, then ``model``."""
    start = read_tempering_start(path, model)
    last = checkpoint_updates(path)[-1] if checkpoint is None else checkpoint
    earlier = [m.to(model.device) for update, m in load_models(path) if update < last]
    return [base if start is None else start, *earlier, model]


def _write_ids(f: h5py.File, ids: Any) -> None:
    # UTF-8 bytes, as data_labels: an alignment header may hold any character, which astype("S")
    # (ASCII) would refuse
    f.create_dataset("data_ids", data=np.array([str(name).encode("utf-8") for name in ids], dtype=bytes))


def write_data_ids(path: str | os.PathLike, ids: Any) -> None:
    """Store (or replace) the names of the stored training rows of a run file, atomically."""
    with atomic_hdf5(path, keep_existing=True) as f:
        if "data_ids" in f:
            del f["data_ids"]
        _write_ids(f, ids)


def append(path: str | os.PathLike, update: int, params: dict[str, torch.Tensor],
           wall_time: float, learning_rate: float, checkpoint: bool,
           state: dict[str, Any] | None = None, log_z: dict[str, float] | None = None) -> None:
    """Add a checkpoint and/or replace the resume state, atomically.

    ``log_z``: the checkpoint's ``log_z`` and ``log_z_error`` followed by trajectory AIS
    (``train --track-log-z``), stored as attributes of its group.

    ``state`` keys: chains (Tensor or None), chains_hidden (Tensor or None: the hidden states of
    chains whose sampler carries them, e.g. Gibbs-Langevin), rank_rngs (ByteTensor (world, n) or
    None: every rank's generator, data-parallel runs), rng, data_rng (ByteTensor), optimizer
    (state dict), scheduler (state dict, optional), permutation (ndarray), cursor (int);
    track_chains, track_log_w, track_log_z0, track_rng (every rank's trajectory-AIS population
    and generator, rank after rank; optional); tempering_<name> (the tempering chains of the
    negative phase and their ladder, :meth:`TemperedChains.state`, in the group ``tempering``;
    optional).
    """
    with atomic_hdf5(path, keep_existing=True) as f:
        if checkpoint:
            key = _key(update)
            if key in f["checkpoints"]:
                del f["checkpoints"][key]
            g = f["checkpoints"].create_group(key)
            for name, tensor in params.items():
                g.create_dataset(name, data=tensor.detach().cpu().numpy())
            g.attrs.update(update=update, wall_time=wall_time, learning_rate=learning_rate, **(log_z or {}))
        if state is not None:
            if "state" in f:
                del f["state"]
            s = f.create_group("state")
            s.attrs.update(update=update, wall_time=wall_time, cursor=int(state["cursor"]))
            p = s.create_group("params")
            for name, tensor in params.items():
                p.create_dataset(name, data=tensor.detach().cpu().numpy())
            for name in ("chains", "chains_hidden", "rank_rngs", *TRACK_STATE):
                if state.get(name) is not None:
                    s.create_dataset(name, data=state[name].detach().cpu().numpy())
            tempering = {k[len("tempering_"):]: v for k, v in state.items() if k.startswith("tempering_")}
            if tempering:
                t = s.create_group("tempering")
                for name, tensor in tempering.items():
                    t.create_dataset(name, data=tensor.detach().cpu().numpy())
            s.create_dataset("rng", data=state["rng"].numpy())
            s.create_dataset("data_rng", data=state["data_rng"].numpy())
            s.create_dataset("optimizer", data=_tensor_bytes(state["optimizer"]))
            if state.get("scheduler") is not None:
                s.create_dataset("scheduler", data=_tensor_bytes(state["scheduler"]))
            s.create_dataset("permutation", data=state["permutation"])


def update_config(path: str | os.PathLike, changes: dict[str, Any]) -> None:
    """Replace top-level entries of a run file's config (e.g. ``training`` when ``--resume``
    extends a run), atomically."""
    config = dict(read_config(path), **changes)
    with atomic_hdf5(path, keep_existing=True) as f:
        f.attrs["config"] = json.dumps(config)


def _open(path: str | os.PathLike) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such run file")
    fmt = foreign_format(path)
    if fmt:  # the readers that take such files dispatch before this point; the others need a run
        raise DataError(path, f"the model file of another tool ({fmt}), not a boltzkit run: this needs the run that trained it")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise DataError(path, "not an HDF5 file: neither a boltzkit run file nor a model file of rbms, "
                              "adabmDCA or plmc") from None
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise DataError(path, "not a boltzkit run file (missing format attribute)")
    return f


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The run's config (a dict with ``model``, ``training``, ``data``, ...); for a model file of
    another tool, :func:`~boltzkit.io.foreign.foreign_config`."""
    if foreign_format(path):
        return foreign_config(path)
    with _open(path) as f:
        text = f.attrs.get("config")
    try:
        config = json.loads(text)
    except (TypeError, ValueError):
        raise DataError(path, "the run's config is missing or not valid JSON (a damaged or edited "
                              "run file)") from None
    if not isinstance(config, dict) or not isinstance(config.get("model", {}), dict):
        raise DataError(path, "the run's config is not a boltzkit run config (a damaged or edited run file)")
    return config


def _model(path: str | os.PathLike, config: dict[str, Any], params: dict[str, torch.Tensor]):
    """The model of a stored config and tensors; a mismatch is one line naming the file."""
    try:
        return model_from_config(config, params)
    except DataError:
        raise
    except BoltzkitError as e:
        raise DataError(path, str(e)) from None
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as e:
        why = str(e).splitlines()[0] if str(e) else "no detail"
        raise DataError(path, f"the stored parameters do not fit its {config.get('kind')!r} model "
                              f"({type(e).__name__}: {why})") from None


def run_datasets(path: str | os.PathLike):
    """The (train, test) datasets a run was trained on, rebuilt from the data spec in its config
    (:func:`boltzkit.data.specs.spec_from_config`)."""
    return spec_from_config(read_config(path), path).load()


def checkpoint_updates(path: str | os.PathLike) -> list[int]:
    """Update numbers of the saved checkpoints, in increasing order."""
    if foreign_format(path):
        return foreign_updates(path)
    with _open(path) as f:
        return sorted(int(k) for k in f["checkpoints"])


def checkpoint_info(path: str | os.PathLike) -> list[dict[str, float]]:
    with _open(path) as f:
        return [dict(f["checkpoints"][k].attrs) for k in sorted(f["checkpoints"])]


def read_params(path: str | os.PathLike, checkpoint: int | None = None) -> dict[str, torch.Tensor]:
    """Tensors of one checkpoint (the last one by default)."""
    with _open(path) as f:
        keys = sorted(f["checkpoints"])
        if not keys:
            raise DataError(path, "the run file holds no checkpoint yet")
        if checkpoint is None:
            key = keys[-1]
        else:
            key = _key(checkpoint)
            if key not in f["checkpoints"]:
                available = ", ".join(str(int(k)) for k in keys[:20])
                raise DataError(path, f"no checkpoint at update {checkpoint} (available: {available}"
                                      f"{', ...' if len(keys) > 20 else ''})")
        g = f["checkpoints"][key]
        return {name: torch.from_numpy(g[name][()]) for name in g}


def load_model(path: str | os.PathLike, checkpoint: int | None = None):
    """The model saved at ``checkpoint`` (default: the last one)."""
    if foreign_format(path):
        return load_foreign(path, checkpoint)
    config = read_config(path)
    return _model(path, config.get("model", {}), read_params(path, checkpoint))


def load_models(path: str | os.PathLike) -> list[tuple[int, Any]]:
    """All checkpoints as (update, model) pairs, oldest first."""
    if foreign_format(path):
        return [(u, load_foreign(path, u)) for u in foreign_updates(path)]
    config = read_config(path).get("model", {})
    with _open(path) as f:
        out = []
        for key in sorted(f["checkpoints"]):
            g = f["checkpoints"][key]
            params = {name: torch.from_numpy(g[name][()]) for name in g}
            out.append((int(key), _model(path, config, params)))
    return out


def read_state(path: str | os.PathLike) -> ResumeState:
    with _open(path) as f:
        if "state" not in f:
            raise DataError(path, "no resume state saved (was the run started by boltzkit train?)")
        s = f["state"]
        try:
            return _resume_state(s)
        except Exception as e:  # noqa: BLE001 - whatever a damaged or hostile file holds: one line
            raise DataError(path, f"the resume state is damaged ({type(e).__name__}); "
                                  "start a new run (--overwrite)") from None


def _resume_state(s) -> ResumeState:
    scheduler = _from_bytes(s["scheduler"][()]) if "scheduler" in s else None
    if scheduler is not None and not {"last_epoch", "base_lrs", "lr_lambdas"} <= set(scheduler):
        raise KeyError("scheduler")
    return ResumeState(
        update=int(s.attrs["update"]), wall_time=float(s.attrs["wall_time"]),
        params={name: torch.from_numpy(s["params"][name][()]) for name in s["params"]},
        chains=torch.from_numpy(s["chains"][()]) if "chains" in s else None,
        rng=torch.from_numpy(s["rng"][()]), data_rng=torch.from_numpy(s["data_rng"][()]),
        optimizer=_from_bytes(s["optimizer"][()]), permutation=s["permutation"][()],
        cursor=int(s.attrs["cursor"]),
        scheduler=scheduler,
        chains_hidden=torch.from_numpy(s["chains_hidden"][()]) if "chains_hidden" in s else None,
        rank_rngs=torch.from_numpy(s["rank_rngs"][()]) if "rank_rngs" in s else None,
        track={name[len("track_"):]: torch.from_numpy(s[name][()]) for name in TRACK_STATE}
        if TRACK_STATE[0] in s else None,
        tempering={name: torch.from_numpy(s["tempering"][name][()]) for name in s["tempering"]}
        if "tempering" in s else None)


def read_data_sample(path: str | os.PathLike) -> tuple[np.ndarray | None, np.ndarray | None,
                                                        tuple[int, int] | None]:
    """The training rows stored for reports: (samples, labels, image_shape), each possibly None
    (all None for a model file of another tool)."""
    if foreign_format(path):
        return None, None, None
    with _open(path) as f:
        if "data_sample" not in f:
            return None, None, None
        ds = f["data_sample"]
        shape = tuple(int(x) for x in ds.attrs["image_shape"]) if "image_shape" in ds.attrs else None
        labels = f["data_labels"][()] if "data_labels" in f else None
        if labels is not None and labels.dtype.kind == "S":
            labels = labels.astype(str)
        return ds[()], labels, shape


def read_data_ids(path: str | os.PathLike) -> list[str] | None:
    """The names of the training rows stored for reports (one per row of :func:`read_data_sample`:
    haplotype IDs, alignment headers), or None: a run file written before they were stored, data
    without row names, or a model file of another tool."""
    if foreign_format(path):
        return None
    with _open(path) as f:
        if "data_ids" not in f:
            return None
        return [name.decode("utf-8", errors="replace") for name in f["data_ids"][()]]


def read_evaluations(path: str | os.PathLike) -> dict[str, Any]:
    """The evaluations stored in a run file (key -> record), empty when none (or for a model file
    of another tool, or a stored text that cannot be read: the cache is then rebuilt)."""
    if foreign_format(path):
        return {}
    with _open(path) as f:
        if "evaluations" not in f:
            return {}
        text = f["evaluations"][()]
    try:
        stored = json.loads(text.decode("utf-8") if isinstance(text, bytes) else str(text))
    except ValueError:
        return {}
    return stored if isinstance(stored, dict) else {}


def write_evaluation(path: str | os.PathLike, key: str, record: dict[str, Any]) -> None:
    """Store (or replace) one evaluation of a run file, atomically; the others are kept."""
    stored = dict(read_evaluations(path), **{key: record})
    with atomic_hdf5(path, keep_existing=True) as f:
        if "evaluations" in f:
            del f["evaluations"]
        f.create_dataset("evaluations", data=np.bytes_(json.dumps(stored).encode("utf-8")))
