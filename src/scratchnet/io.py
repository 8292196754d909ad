"""Saving and loading without pickle.

A scratchnet file is a zip archive (the same container as NumPy's ``.npz``) holding

* ``scratchnet.json``: the header — format, kind (``model`` or ``checkpoint``), format
  version, the architecture as a list of ``{"type": "Dense", "config": {...}}``, and a
  declaration of every array (name, shape, dtype);
* one ``<name>.npy`` per array, stored uncompressed.

Loading is data only. Layer types are looked up in a fixed registry
(``scratchnet.layers.LAYER_TYPES``): a header can never make scratchnet import a
module or call anything else. ``.npy`` members are parsed with
``allow_pickle=False`` semantics: only float and integer dtypes are accepted, and each
array header must agree with the JSON declaration. Sizes are validated before any
large allocation: the declared arrays must fit in the file that holds them, and
every parameter-owning layer's shapes must equal the declared arrays before the layer
is built.
"""

from __future__ import annotations

import errno
import json
import lzma
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ConfigError, ModelFileError, ScratchnetError
from .fileio import atomic_writer

FORMAT = "scratchnet"
VERSION = 1
HEADER = "scratchnet.json"
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_NPY_HEADER = 64 * 1024
ALLOWED_DTYPES = {"float32", "float64", "int64", "uint64", "int32", "uint32", "uint8", "bool"}


# -- the container ------------------------------------------------------------
def write_archive(path, kind: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``meta`` (JSON-able) and ``arrays`` to ``path`` atomically."""
    arrays = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    header = {
        "format": FORMAT,
        "kind": kind,
        "version": VERSION,
        "scratchnet_version": __version__,
        "meta": meta,
        "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.name} for n, a in arrays.items()},
    }
    for name, a in arrays.items():
        if a.dtype.name not in ALLOWED_DTYPES:
            raise ModelFileError(f"cannot save array {name!r} of dtype {a.dtype}")
    text = json.dumps(header, indent=1, allow_nan=True)
    try:
        with atomic_writer(path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(HEADER, text)
            for name, a in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=a.nbytes > 2**31) as f:
                    np.lib.format.write_array(f, a, allow_pickle=False)
    except OSError as exc:
        # Name the file asked for, not the temporary file the OS complained about.
        raise ConfigError(f"cannot write {path}: {_write_problem(path, exc)}") from exc


def read_archive(path, kind: str) -> tuple[dict, dict[str, np.ndarray], dict]:
    """Read and validate an archive written by ``write_archive``.

    Returns ``(meta, arrays, header)``. Every problem raises ``ModelFileError``
    naming the file; a missing file raises ``FileNotFoundError``.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder, expected a scratchnet {kind} file")
    try:
        size = path.stat().st_size  # FileNotFoundError for a missing file, as users expect
    except NotADirectoryError:
        # "model.scn/x.scn" where model.scn is a file: that file does not exist either.
        raise FileNotFoundError(
            errno.ENOENT, "No such file (a folder on its path is a file)", str(path)
        ) from None
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80":
        raise ModelFileError(
            f"{path}: looks like a Python pickle; scratchnet never unpickles files "
            "(unpickling can run arbitrary code)"
        )
    if head != b"PK\x03\x04":
        raise ModelFileError(
            f"{path}: not a scratchnet {kind} file (expected a zip archive written by "
            f"scratchnet, starting with 'PK\\x03\\x04'; found {head!r})"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            return _read_zip(zf, path, size, kind)
    except ScratchnetError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        lzma.LZMAError,
        EOFError,
        struct.error,
        NotImplementedError,
        ValueError,
        KeyError,
        OverflowError,
        OSError,
        TypeError,
        UnicodeDecodeError,
        SyntaxError,
        MemoryError,
        RuntimeError,
    ) as exc:
        raise ModelFileError(
            f"{path}: corrupted or truncated {kind} file ({type(exc).__name__}: {exc})"
        ) from None


def _check_member(path, info: zipfile.ZipInfo) -> None:
    """scratchnet writes every member stored (uncompressed) and unencrypted; anything
    else is refused before ``zipfile`` decompresses or asks for a password."""
    if info.flag_bits & 0x1:
        raise ModelFileError(f"{path}: archive member {info.filename!r} is encrypted")
    if info.compress_type != zipfile.ZIP_STORED:
        raise ModelFileError(
            f"{path}: archive member {info.filename!r} is compressed (zip method "
            f"{info.compress_type}); scratchnet files store their members uncompressed"
        )


def _read_zip(zf: zipfile.ZipFile, path: Path, size: int, kind: str):
    names = zf.namelist()
    if HEADER not in names:
        raise ModelFileError(f"{path}: not a scratchnet {kind} file (no {HEADER} inside)")
    info = zf.getinfo(HEADER)
    _check_member(path, info)
    if info.file_size > MAX_HEADER_BYTES:
        raise ModelFileError(f"{path}: header of {info.file_size} bytes is implausibly large")
    with zf.open(info) as f:
        raw = f.read(MAX_HEADER_BYTES + 1)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: header is not valid JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: header does not say format '{FORMAT}'")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path}: header has no integer format version")
    if version > VERSION:
        raise ModelFileError(
            f"{path}: written by a newer scratchnet (file format version {version}; this "
            f"version {__version__} reads up to {VERSION}); upgrade scratchnet to load it"
        )
    if version < 1:
        raise ModelFileError(f"{path}: unknown file format version {version}")
    if header.get("kind") != kind:
        raise ModelFileError(
            f"{path}: is a scratchnet {header.get('kind')!r} file, expected a {kind} file"
        )
    meta = header.get("meta")
    declared = header.get("arrays")
    if not isinstance(meta, dict) or not isinstance(declared, dict):
        raise ModelFileError(f"{path}: header lacks 'meta' or 'arrays'")

    specs = {}
    total = 0
    for name, spec in declared.items():
        shape, dtype = _array_spec(path, name, spec)
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        total += nbytes
        specs[name] = (shape, np.dtype(dtype), nbytes)
    if total > size:
        raise ModelFileError(
            f"{path}: header declares {total:,} bytes of arrays but the file has only "
            f"{size:,} bytes (truncated or crafted file)"
        )
    expected_members = {HEADER} | {f"{n}.npy" for n in specs}
    if set(names) != expected_members or len(names) != len(set(names)):
        extra = sorted(set(names) - expected_members)
        missing = sorted(expected_members - set(names))
        raise ModelFileError(
            f"{path}: archive members do not match the header (missing {missing}, unexpected "
            f"{extra})"
        )
    arrays = {name: _read_npy(zf, path, name, *spec) for name, spec in specs.items()}
    return meta, arrays, header


def _array_spec(path, name, spec):
    if not isinstance(name, str) or not isinstance(spec, dict):
        raise ModelFileError(f"{path}: bad array declaration {name!r}")
    shape, dtype = spec.get("shape"), spec.get("dtype")
    if (
        not isinstance(shape, list)
        or len(shape) > 8
        or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape)
    ):
        raise ModelFileError(f"{path}: array {name!r} has an invalid shape {shape!r}")
    if dtype not in ALLOWED_DTYPES:
        raise ModelFileError(
            f"{path}: array {name!r} has dtype {dtype!r}; only numeric dtypes are allowed "
            "(object arrays would need pickle, which scratchnet never uses)"
        )
    return tuple(shape), dtype


def _read_npy(zf, path, name, shape, dtype, nbytes) -> np.ndarray:
    info = zf.getinfo(f"{name}.npy")
    _check_member(path, info)
    if info.file_size > nbytes + MAX_NPY_HEADER:
        raise ModelFileError(f"{path}: array {name!r} member is larger than its declaration")
    with zf.open(info) as f:
        try:
            major, minor = np.lib.format.read_magic(f)
            if (major, minor) == (1, 0):
                hshape, fortran, hdtype = np.lib.format.read_array_header_1_0(f)
            elif (major, minor) in ((2, 0), (3, 0)):
                hshape, fortran, hdtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ModelFileError(f"{path}: array {name!r} has unknown .npy version")
        except (ScratchnetError, zipfile.BadZipFile):
            raise  # a bad CRC surfaces here for small members: reported as corruption
        except Exception as exc:  # numpy raises ValueError/SyntaxError on malformed headers
            raise ModelFileError(
                f"{path}: array {name!r} has a malformed .npy header ({exc})"
            ) from None
        if hdtype.hasobject or hdtype != dtype or tuple(hshape) != shape or fortran:
            raise ModelFileError(
                f"{path}: array {name!r} is {hdtype} {tuple(hshape)} in the archive but declared "
                f"{dtype} {shape}"
            )
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise ModelFileError(f"{path}: array {name!r} is truncated")
        if f.read(1):  # also makes zipfile verify the member's CRC
            raise ModelFileError(f"{path}: array {name!r} has trailing bytes")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


# -- models ----------------------------------------------------------------------
def save_model(model, path) -> None:
    """Save a ``Sequential`` (architecture, loss, weights and buffers) to ``path``."""
    meta = {"model": model.get_config()}
    arrays = {f"state/{k}": v for k, v in model.state_dict().items()}
    write_archive(path, "model", meta, arrays)


def model_from_config(config: dict, arrays: dict[str, np.ndarray], path="<config>"):
    """Rebuild a ``Sequential`` from its config, validating every layer against the
    arrays that will fill it before building it."""
    from .layers.base import LAYER_TYPES
    from .losses import get_loss
    from .model import Sequential

    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ModelFileError(f"{path}: header has no list of layers")
    layers = []
    for i, entry in enumerate(config["layers"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise ModelFileError(f"{path}: layer {i} is not a {{'type', 'config'}} entry")
        type_name, cfg = entry["type"], entry.get("config", {})
        cls = LAYER_TYPES.get(type_name)
        if cls is None:
            raise ModelFileError(
                f"{path}: layer {i} has unknown type {type_name!r}; scratchnet only builds its "
                f"own layers ({', '.join(sorted(LAYER_TYPES))}) and never imports names from files"
            )
        if not isinstance(cfg, dict) or not all(_is_plain_json(v) for v in cfg.values()):
            raise ModelFileError(f"{path}: layer {i} ({type_name}) has an invalid config")
        own = {k[len(f"{i}.") :]: a.shape for k, a in arrays.items() if k.startswith(f"{i}.")}
        try:
            wanted = cls.param_shapes(cfg)
        except (TypeError, ValueError, KeyError, ArithmeticError, ScratchnetError) as exc:
            raise ModelFileError(
                f"{path}: layer {i} ({type_name}) has an invalid config: {exc}"
            ) from None
        if wanted != own:
            raise ModelFileError(
                f"{path}: layer {i} ({type_name}) needs arrays {wanted} but the file holds {own}"
            )
        try:
            layers.append(cls(**cfg))
        # ArithmeticError: e.g. a huge integer where a float is expected (Dropout p=1e400).
        except (TypeError, ValueError, ArithmeticError, ScratchnetError) as exc:
            raise ModelFileError(
                f"{path}: layer {i} ({type_name}) cannot be built: {exc}"
            ) from None
    if not layers:
        raise ModelFileError(f"{path}: model has no layers")
    model = Sequential(
        layers, name=config.get("name") if isinstance(config.get("name"), str) else None
    )
    if config.get("loss") is not None:
        try:
            model.loss = get_loss(config["loss"])
            model.metrics = ("accuracy",)
        except ScratchnetError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
    _check_values(path, layers, arrays)
    model.load_state_dict(arrays)
    model.eval()
    return model


def _check_values(path, layers, arrays: dict[str, np.ndarray]) -> None:
    """Each array must have the dtype of the layer array it fills (copying float64 into a
    float32 layer would silently round, or overflow to inf) and finite values."""
    for i, layer in enumerate(layers):
        for k, target in {**layer.params, **layer.buffers}.items():
            a = arrays.get(f"{i}.{k}")
            if a is None:
                continue
            if a.dtype != target.dtype:
                raise ModelFileError(
                    f"{path}: array '{i}.{k}' is {a.dtype} but layer {i} "
                    f"({type(layer).__name__}) holds {target.dtype}"
                )
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise ModelFileError(f"{path}: array '{i}.{k}' contains NaN or inf")


def load_model(path):
    """Load a model saved by ``model.save(path)``. Executes nothing from the file."""
    meta, arrays, _ = read_archive(path, "model")
    state = {}
    for k, a in arrays.items():
        if not k.startswith("state/"):
            raise ModelFileError(f"{path}: unexpected array {k!r}")
        state[k[len("state/") :]] = a
    return model_from_config(meta.get("model"), state, path)


def _write_problem(path: Path, exc: OSError) -> str:
    """A reason a user can act on, for an OSError raised while writing ``path``."""
    folder = Path(path).parent
    if isinstance(exc, FileNotFoundError) and not folder.exists():
        return f"the folder {folder} does not exist"
    if isinstance(exc, NotADirectoryError):
        return f"{folder} is not a folder (a file is in the way)"
    if isinstance(exc, PermissionError):
        return f"no permission to write in {folder}"
    return exc.strerror or str(exc)


def _is_plain_json(v) -> bool:
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, list):
        return all(_is_plain_json(x) for x in v) and len(v) < 1000
    if isinstance(v, dict):
        return all(isinstance(k, str) and _is_plain_json(x) for k, x in v.items()) and len(v) < 100
    return False
