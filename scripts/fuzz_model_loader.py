#!/usr/bin/env python
"""Fuzz the model-file and checkpoint loaders (plugged into ``scripts/fuzz_loaders.py``).

Valid inputs come from a pool of real files: models of random architectures
(Dense, activations, Dropout, and Conv2D/pooling/BatchNorm when those layers are
registered) saved with ``model.save``, and checkpoints written by real ``fit`` runs
(mid-epoch and finished, Adam/SGD-momentum, schedules, EarlyStopping state).

Besides the generic byte mutators of ``fuzz_loaders.py`` (random bytes, bit flips,
truncation, splices...), format-aware mutators rebuild a *valid zip* around damaged
contents, so the damage gets past the zip CRC and reaches the scratchnet checks:

* ``json_field``: replace, delete or add a field anywhere in the JSON header
  (huge/negative integers, NaN, strings, deep nesting, module names...);
* ``npy_member``: rewrite one ``.npy`` member (other dtype incl. object, other shape,
  byte order, Fortran order, truncated data, a pickle);
* ``zip_structure``: drop, duplicate or rename members, switch compression (deflate,
  bzip2, lzma), set the encryption flag, add a comment;
* ``array_values``: fill arrays with NaN, inf or extreme values (CRC kept valid).

The checkpoint loader is taken all the way: ``load_checkpoint``, ``build_model``,
and, when the file still names one of the pool's runs, ``restore_training`` into a
freshly built model of that run, exactly what ``fit(resume=...)`` does.

Usage::

    python scripts/fuzz_model_loader.py --cases 100000        # model + checkpoint only
    python scripts/fuzz_loaders.py --loaders model checkpoint  # the same, via the driver
"""

from __future__ import annotations

import io
import json
import math
import struct
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

import scratchnet as sn
from scratchnet.checkpoint import data_fingerprint, load_checkpoint, restore_training
from scratchnet.layers import LAYER_TYPES

POOL_SIZE = 16

# -- the pool of valid files ------------------------------------------------------------------
_pool: dict[str, list[bytes]] = {}
_recipes: list[dict] = []


def _random_model(rng: np.random.Generator, conv_ok: bool = True) -> sn.Sequential:
    seed = int(rng.integers(1 << 30))
    if conv_ok and "Conv2D" in LAYER_TYPES and rng.random() < 0.3:
        conv, pool_cls = LAYER_TYPES["Conv2D"], LAYER_TYPES.get("MaxPool2D")
        layers = [conv(1, 2, 3, padding=1), sn.ReLU()]
        if pool_cls is not None:
            layers.append(pool_cls(2))
        if "BatchNorm2d" in LAYER_TYPES and rng.random() < 0.5:
            layers.insert(1, LAYER_TYPES["BatchNorm2d"](2))
        size = 2 * 3 * 3 if pool_cls is not None else 2 * 6 * 6
        layers += [sn.Flatten(), sn.Dense(size, 3)]
        model = sn.Sequential(layers, seed=seed)
        model.compile(loss="cross_entropy", optimizer="adam")
        return model
    dtype = np.float64 if rng.random() < 0.3 else np.float32
    layers: list = []
    width = int(rng.integers(1, 7))
    for _ in range(int(rng.integers(1, 4))):
        out = int(rng.integers(1, 7))
        layers.append(sn.Dense(width, out, dtype=dtype))
        layers.append([sn.ReLU(), sn.Tanh(), sn.Sigmoid(), sn.LeakyReLU(0.1),
                       sn.Dropout(0.25)][int(rng.integers(5))])
        width = out
    loss = ["mse", "bce", "cross_entropy", "bce_logits", None][int(rng.integers(5))]
    model = sn.Sequential(layers, seed=seed, name=None if rng.random() < 0.5 else "fuzz")
    if loss is not None:
        model.compile(loss=loss, optimizer="sgd")
    return model


def _model_bytes(rng: np.random.Generator) -> bytes:
    """A saved random model that loads back (a layer type whose save/load round trip is
    not working yet is left out of the pool rather than reported on every case)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.scn"
        model = _random_model(rng)
        model.save(path)
        try:
            sn.load_model(path)
        except sn.ModelFileError as exc:
            print(f"note: {type(model.layers[0]).__name__} models left out of the pool: {exc}",
                  file=sys.stderr)
            _random_model(rng, conv_ok=False).save(path)
        return path.read_bytes()


def _toy_run(recipe: dict):
    """Build the model, data and callbacks of one checkpoint recipe (also used to resume)."""
    rng = np.random.default_rng(recipe["data_seed"])
    X = rng.normal(size=(40, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    layers = [sn.Dense(4, recipe["hidden"]), sn.ReLU()]
    if recipe["dropout"]:
        layers.append(sn.Dropout(0.2))
    layers.append(sn.Dense(recipe["hidden"], 3))
    model = sn.Sequential(layers, seed=recipe["seed"])
    lr = (sn.ReduceOnPlateau(0.01, patience=0) if recipe["schedule"] == "plateau"
          else sn.CosineWarmup(0.01, total_steps=30, warmup_steps=3))
    opt = sn.Adam(lr=lr) if recipe["optimizer"] == "adam" else sn.SGD(lr=lr, momentum=0.9)
    model.compile(loss="cross_entropy", optimizer=opt)
    callbacks = [sn.EarlyStopping(monitor="loss", patience=100)] if recipe["early"] else []
    return model, X, y, callbacks


class _Stop(Exception):
    pass


def _make_checkpoints(rng: np.random.Generator) -> list[bytes]:
    out = []
    for i in range(POOL_SIZE):
        recipe = {
            "data_seed": int(rng.integers(3)), "seed": i, "hidden": int(rng.integers(2, 6)),
            "dropout": bool(rng.random() < 0.6), "optimizer": ["adam", "sgd"][i % 2],
            "schedule": ["plateau", "cosine"][(i // 2) % 2], "early": bool(i % 3 == 0),
            "batch_size": [8, 16, 40][i % 3], "every": int(rng.integers(1, 4)),
        }
        model, X, y, callbacks = _toy_run(recipe)
        stop_at = int(rng.integers(1, 12)) if rng.random() < 0.7 else None

        def hook(step, logs, stop_at=stop_at):
            if stop_at is not None and step == stop_at:
                raise _Stop

        with tempfile.TemporaryDirectory() as tmp:
            try:
                model.fit(X, y, epochs=3, batch_size=recipe["batch_size"], verbose=0,
                          callbacks=[*callbacks, sn.LambdaCallback(on_batch_end=hook)],
                          checkpoint_dir=tmp, checkpoint_every=recipe["every"])
            except _Stop:
                pass
            files = sorted(Path(tmp).glob("ckpt-*.scn"))
            if files:
                out.append(files[-1].read_bytes())
                _recipes.append(recipe)
    return out


def _ensure_pool() -> None:
    if _pool:
        return
    rng = np.random.default_rng(12345)
    _pool["model"] = [_model_bytes(rng) for _ in range(POOL_SIZE)]
    _pool["checkpoint"] = _make_checkpoints(rng)


def make_model_bytes(rng: np.random.Generator) -> bytes:
    _ensure_pool()
    return _pool["model"][int(rng.integers(len(_pool["model"])))]


def make_checkpoint_bytes(rng: np.random.Generator) -> bytes:
    _ensure_pool()
    return _pool["checkpoint"][int(rng.integers(len(_pool["checkpoint"])))]


# -- loaders and result checks -----------------------------------------------------------------
def load_model_file(path: Path):
    return sn.load_model(path)


def check_model(model) -> None:
    assert isinstance(model, sn.Sequential), type(model)
    assert model.layers, "no layers"
    for p in model.parameters():
        assert p.value.dtype in (np.float32, np.float64), p.value.dtype


def load_checkpoint_file(path: Path):
    """``load_checkpoint`` + ``build_model`` + (when the file still matches a pool run)
    ``restore_training`` into a fresh model of that run, as ``fit(resume=...)`` does."""
    ckpt = load_checkpoint(path)
    ckpt.build_model()
    for recipe in _recipes:
        model, X, y, callbacks = _toy_run(recipe)
        callbacks.append(sn.LambdaCallback())
        bs = min(recipe["batch_size"], len(X))
        data = data_fingerprint(X, y, bs, math.ceil(len(X) / bs), True)
        if ckpt.data != json.loads(json.dumps(data)):
            continue
        if ckpt.model_config != json.loads(json.dumps(model.get_config())):
            continue
        if ckpt.optimizer_spec != json.loads(json.dumps(model.optimizer.spec())):
            continue
        for cb in [*callbacks]:
            cb.set_model(model)
            cb.on_train_begin({})
        history = sn.History()
        position = restore_training(model, ckpt, callbacks, history, data)
        return ("restored", model, position, data)
    return ("loaded", ckpt)


def check_checkpoint(result) -> None:
    if result[0] != "restored":
        return
    _, model, position, data = result
    assert 0 <= position.batch <= data["n_batches"], position
    for p in model.parameters():
        assert np.all(np.isfinite(p.value)), f"non-finite weights restored in {p.name}"
    for st in model.optimizer.state.values():
        for k, a in st.items():
            if k != "tmp":
                assert np.all(np.isfinite(a)), f"non-finite optimiser state {k}"


# -- format-aware mutators ---------------------------------------------------------------------
def _unzip(data: bytes):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def _zip(members, compression=zipfile.ZIP_STORED, comment: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are one of the damages we want
        with zipfile.ZipFile(buf, "w", compression) as zf:
            for name, blob in members:
                zf.writestr(name, blob)
            zf.comment = comment
    return buf.getvalue()


def _interesting_json(rng: np.random.Generator):
    choices = [
        0, -1, 1, 2**31, 2**63, 2**64 + 1, -(2**63), 10**30, 10**400, 1e308, -1e308,
        float("nan"), float("inf"), 0.5, True, False, None, "", "x" * 1000, "os.system",
        "__import__('os')", "float32", "object", "PCG64", "MT19937", [], {}, [1] * 8,
        [2**40] * 8, [[[[[[[[[[1]]]]]]]]]], {"name": "adam"}, {"__class__": "x"},
        "Dense", "../../etc/passwd",
    ]
    return choices[int(rng.integers(len(choices)))]


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:20]):
            yield from _paths(v, (*prefix, i))


def json_field(data: bytes, rng: np.random.Generator) -> bytes:
    try:
        members = _unzip(data)
        header = json.loads(members[0][1])
    except Exception:  # an earlier mutator broke the zip: nothing to parse
        return data
    paths = [p for p in _paths(header) if p]
    if not paths:
        return data
    path = paths[int(rng.integers(len(paths)))]
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    action = rng.random()
    if action < 0.7:
        parent[path[-1]] = _interesting_json(rng)
    elif action < 0.85 and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[f"extra{int(rng.integers(100))}"] = _interesting_json(rng)
    elif isinstance(parent, list):
        parent.append(_interesting_json(rng))
    text = json.dumps(header, allow_nan=True)
    return _zip([(members[0][0].filename, text.encode())]
                + [(i.filename, b) for i, b in members[1:]])


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=a.dtype.hasobject)
    return buf.getvalue()


def npy_member(data: bytes, rng: np.random.Generator) -> bytes:
    try:
        members = _unzip(data)
    except Exception:
        return data
    npys = [i for i, (info, _) in enumerate(members) if info.filename.endswith(".npy")]
    if not npys:
        return data
    k = npys[int(rng.integers(len(npys)))]
    info, blob = members[k]
    try:
        a = np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    except Exception:
        return data
    kind = int(rng.integers(7))
    if kind == 0:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lossy casts are fine: any values will do
            new = _npy_bytes(a.astype([np.float64, np.float32, np.int64, np.uint8, np.float16,
                                       np.complex64][int(rng.integers(6))]))
    elif kind == 1:
        new = _npy_bytes(np.resize(a, (int(rng.integers(0, 5)),) * int(rng.integers(0, 4))))
    elif kind == 2:
        new = _npy_bytes(a.astype(a.dtype.newbyteorder(">")))
    elif kind == 3:
        new = _npy_bytes(np.asfortranarray(np.atleast_2d(a)).T) if a.ndim else blob
    elif kind == 4:
        new = blob[: int(rng.integers(0, len(blob) + 1))]
    elif kind == 5:
        obj = np.empty(max(a.size, 1), dtype=object)
        new = _npy_bytes(obj)
    else:
        new = blob[:6] + bytes([int(rng.integers(0, 4)), int(rng.integers(0, 2))]) + blob[8:]
    out = [(i.filename, b) for i, b in members]
    out[k] = (info.filename, new)
    return _zip(out)


def zip_structure(data: bytes, rng: np.random.Generator) -> bytes:
    try:
        members = [(i.filename, b) for i, b in _unzip(data)]
    except Exception:
        return data
    kind = int(rng.integers(7))
    if kind == 0 and members:
        del members[int(rng.integers(len(members)))]
    elif kind == 1 and members:
        members.append(members[int(rng.integers(len(members)))])
    elif kind == 2 and members:
        j = int(rng.integers(len(members)))
        members[j] = (members[j][0] + ["x", "/../a", "\\", ".npy"][int(rng.integers(4))],
                      members[j][1])
    elif kind == 3:
        method = [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA][int(rng.integers(3))]
        return _zip(members, method)
    elif kind == 4:
        return _zip(members, comment=rng.bytes(int(rng.integers(1, 200))))
    elif kind == 5:
        blob = bytearray(_zip(members))
        # General-purpose flag bit 0 (encrypted) in every local and central header.
        for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = blob.find(sig)
            while at >= 0:
                flags = struct.unpack_from("<H", blob, at + off)[0]
                struct.pack_into("<H", blob, at + off, flags | 1)
                at = blob.find(sig, at + 4)
        return bytes(blob)
    else:
        blob = bytearray(_zip(members))
        # A member's declared uncompressed size in the central directory.
        at = blob.find(b"PK\x01\x02")
        if at >= 0:
            struct.pack_into("<I", blob, at + 24, int(rng.choice([0, 1, 2**31, 2**32 - 1])))
        return bytes(blob)
    return _zip(members)


def array_values(data: bytes, rng: np.random.Generator) -> bytes:
    try:
        members = _unzip(data)
    except Exception:
        return data
    out = []
    for info, blob in members:
        if info.filename.endswith(".npy") and rng.random() < 0.5:
            try:
                a = np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False).copy()
            except Exception:
                out.append((info.filename, blob))
                continue
            if a.size and a.dtype.kind == "f":
                value = [np.nan, np.inf, -np.inf, np.finfo(a.dtype).max, 0.0][int(rng.integers(5))]
                a.flat[int(rng.integers(a.size))] = value
            elif a.size and a.dtype.kind in "iu":
                info_i = np.iinfo(a.dtype)
                extremes = [info_i.max, info_i.min, 0, 1]
                a.flat[int(rng.integers(a.size))] = extremes[int(rng.integers(4))]
            blob = _npy_bytes(a)
        out.append((info.filename, blob))
    return _zip(out)


FORMAT_MUTATORS = {
    "json_field": json_field,
    "npy_member": npy_member,
    "zip_structure": zip_structure,
    "array_values": array_values,
}

# What ``fuzz_loaders.LOADERS`` gets (as ``Loader(**spec)``).
LOADER_SPECS = {
    "model": dict(make_valid_bytes=make_model_bytes, load_from_path=load_model_file,
                  check_result=check_model, extra_mutators=FORMAT_MUTATORS, suffix=".scn"),
    "checkpoint": dict(make_valid_bytes=make_checkpoint_bytes, load_from_path=load_checkpoint_file,
                       check_result=check_checkpoint, extra_mutators=FORMAT_MUTATORS,
                       suffix=".scn"),
}


def main(argv: list[str] | None = None) -> int:
    """Run the shared driver on the model and checkpoint loaders only."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fuzz_loaders

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--loaders" not in argv:
        argv += ["--loaders", "model", "checkpoint"]
    return fuzz_loaders.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
