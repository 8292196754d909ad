#!/usr/bin/env python
"""Fuzz scratchnet's file loaders: only documented errors may escape.

Each case takes a valid file, damages it (random bytes, bit flips, truncation,
extension, spliced chunks, header tweaks, ...), writes it to a temporary folder and
loads it. The loader must either return a well-formed result or raise a
``ScratchnetError`` subclass; anything else (an ``IndexError``, ``MemoryError``, a
numpy warning, a case slower than ``--slow`` seconds, a result that breaks the
loader's promises) is a *finding*, printed at the end (and saved with ``--save``).

Usage::

    python scripts/fuzz_loaders.py                   # 100,000 cases over all loaders
    python scripts/fuzz_loaders.py --cases 20000 --seed 7 --loaders csv idx-gz

Adding a loader (e.g. the model-file loader): write ``make_valid_bytes(rng) -> bytes``
and ``load_from_path(path) -> result`` (plus, optionally, ``check_result(result)`` that
raises ``AssertionError`` when an accepted result is malformed, and extra
loader-specific mutators), then add one entry to ``LOADERS`` below.
"""

from __future__ import annotations

import argparse
import gzip
import re
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scratchnet.data.csv import load_csv_2d
from scratchnet.data.idx import IDX_TYPES, read_idx
from scratchnet.errors import ScratchnetError

Mutator = Callable[[bytes, np.random.Generator], bytes]

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
INTERESTING_U32 = (0, 1, 2, 3, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 60_000, 10_000, 28)


# --- generic mutators: bytes in, damaged bytes out ------------------------------------


def random_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    """Throw the file away: random bytes of a random length."""
    return rng.bytes(int(rng.integers(0, 2 * len(data) + 2)))


def bit_flips(data: bytes, rng: np.random.Generator) -> bytes:
    if not data:
        return data
    blob = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        blob[int(rng.integers(len(blob)))] ^= 1 << int(rng.integers(8))
    return bytes(blob)


def byte_sets(data: bytes, rng: np.random.Generator) -> bytes:
    """Overwrite a few bytes with boundary values (0x00, 0x7F, 0xFF, ...)."""
    if not data:
        return data
    blob = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        blob[int(rng.integers(len(blob)))] = int(rng.choice(INTERESTING_BYTES))
    return bytes(blob)


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(0, len(data) + 1))]


def extend(data: bytes, rng: np.random.Generator) -> bytes:
    """Trailing data: random bytes, zeros, or the file repeated."""
    kind = int(rng.integers(3))
    n = int(rng.integers(1, 64))
    tail = (rng.bytes(n), bytes(n), data)[kind]
    return data + tail


def splice(data: bytes, rng: np.random.Generator) -> bytes:
    """Insert random bytes somewhere, or delete a chunk."""
    at = int(rng.integers(0, len(data) + 1))
    if rng.random() < 0.5:
        return data[:at] + rng.bytes(int(rng.integers(1, 16)))
    return data[:at] + data[at + int(rng.integers(1, 16)) :]


def header_tweak(data: bytes, rng: np.random.Generator) -> bytes:
    """Damage the first 16 bytes, where formats keep magic numbers and sizes."""
    if not data:
        return data
    blob = bytearray(data)
    end = min(16, len(blob))
    for _ in range(int(rng.integers(1, 4))):
        blob[int(rng.integers(end))] = int(rng.integers(256))
    return bytes(blob)


GENERIC_MUTATORS: dict[str, Mutator] = {
    "random_bytes": random_bytes,
    "bit_flips": bit_flips,
    "byte_sets": byte_sets,
    "truncate": truncate,
    "extend": extend,
    "splice": splice,
    "header_tweak": header_tweak,
}


# --- IDX ------------------------------------------------------------------------------


def make_idx_raw(rng: np.random.Generator) -> bytes:
    """A valid uncompressed IDX file: random type, 1-4 small dimensions, random values."""
    code = int(rng.choice(list(IDX_TYPES)))
    dims = tuple(int(d) for d in rng.integers(0, 6, size=int(rng.integers(1, 5))))
    n_bytes = int(np.prod(dims)) * IDX_TYPES[code].itemsize
    header = bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + rng.bytes(n_bytes)


def make_idx_gz(rng: np.random.Generator) -> bytes:
    return gzip.compress(make_idx_raw(rng), mtime=0)


def idx_dims_tweak(data: bytes, rng: np.random.Generator) -> bytes:
    """Set the type code, the dimension count or one dimension to a boundary value."""
    blob = bytearray(data)
    if len(blob) < 8:
        return bytes(blob)
    what = int(rng.integers(3))
    if what == 0:
        blob[2] = int(rng.integers(256))
    elif what == 1:
        blob[3] = int(rng.choice((0, 1, 2, 3, 4, 16, 17, 255)))
    else:
        i = int(rng.integers(max(1, min(blob[3], (len(blob) - 4) // 4))))
        value = int(rng.choice(INTERESTING_U32))
        blob[4 + 4 * i : 8 + 4 * i] = value.to_bytes(4, "big")
    return bytes(blob)


def inner_idx_mutation(data: bytes, rng: np.random.Generator) -> bytes:
    """A perfectly valid gzip stream around a damaged IDX file."""
    try:
        raw = gzip.decompress(data)
    except Exception:  # the input is always our own valid file; be safe anyway
        return data
    name = str(rng.choice(["idx_dims_tweak", *GENERIC_MUTATORS]))
    mutate = idx_dims_tweak if name == "idx_dims_tweak" else GENERIC_MUTATORS[name]
    return gzip.compress(mutate(raw, rng), mtime=0)


def check_idx_result(array: object) -> None:
    assert isinstance(array, np.ndarray), type(array)
    assert 1 <= array.ndim, array.shape
    assert array.dtype.isnative, array.dtype


# --- CSV ------------------------------------------------------------------------------

CSV_TOKENS = (
    "1", "-2.5", "0", "7", "1e5", "nan", "inf", "-inf", "1e999", "1e300", "x", "", " ",
    ",", ",,", "\n", "\r\n", "#", "\ufeff", "1.0", "0.5", "-1", "1_0", "\x00", "é",
    "\u2028", "label", "3e12", "0x10", "+4", ".", "-", "e",
)  # fmt: skip


def make_csv(rng: np.random.Generator) -> bytes:
    """A valid x1,x2,label file: optional header, comments, blank lines, CRLF."""
    eol = "\r\n" if rng.random() < 0.2 else "\n"
    lines = ["x1,x2,label"] if rng.random() < 0.5 else []
    for _ in range(int(rng.integers(1, 12))):
        if rng.random() < 0.1:
            lines.append("# comment" if rng.random() < 0.5 else "")
        x1, x2 = rng.normal(scale=10.0 ** rng.integers(-3, 4), size=2)
        lines.append(f"{x1:.6g},{x2:.6g},{int(rng.integers(0, 5))}")
    return (eol.join(lines) + (eol if rng.random() < 0.7 else "")).encode("utf-8")


def csv_token_insert(data: bytes, rng: np.random.Generator) -> bytes:
    """Insert or substitute CSV-looking tokens (nan, 1e999, extra commas, newlines...)."""
    text = data.decode("utf-8", errors="replace")
    for _ in range(int(rng.integers(1, 4))):
        at = int(rng.integers(0, len(text) + 1))
        token = str(rng.choice(CSV_TOKENS))
        cut = int(rng.integers(0, 4)) if rng.random() < 0.5 else 0
        text = text[:at] + token + text[at + cut :]
    return text.encode("utf-8")


def check_csv_result(result: object) -> None:
    X, y = result  # type: ignore[misc]
    assert X.dtype == np.float32 and X.ndim == 2 and X.shape[1] == 2, (X.dtype, X.shape)
    assert y.dtype == np.int64 and y.shape == (X.shape[0],), (y.dtype, y.shape)
    assert X.shape[0] >= 1
    assert np.isfinite(X).all() and (y >= 0).all()


# --- the registry ---------------------------------------------------------------------


@dataclass
class Loader:
    make_valid_bytes: Callable[[np.random.Generator], bytes]
    load_from_path: Callable[[Path], object]
    check_result: Callable[[object], None] | None = None
    extra_mutators: dict[str, Mutator] = field(default_factory=dict)
    suffix: str = ""


LOADERS: dict[str, Loader] = {
    "idx-raw": Loader(
        make_idx_raw, read_idx, check_idx_result, {"idx_dims_tweak": idx_dims_tweak}, ".idx"
    ),
    "idx-gz": Loader(
        make_idx_gz,
        read_idx,
        check_idx_result,
        {"inner_idx_mutation": inner_idx_mutation},
        ".gz",
    ),
    "csv": Loader(make_csv, load_csv_2d, check_csv_result, {"csv_token_insert": csv_token_insert},
                  ".csv"),
}


# Model files and checkpoints: generators and format-aware mutators live in
# fuzz_model_loader.py (beside this script).
from fuzz_model_loader import LOADER_SPECS as _MODEL_LOADER_SPECS  # noqa: E402

LOADERS.update({name: Loader(**spec) for name, spec in _MODEL_LOADER_SPECS.items()})


# --- the driver -----------------------------------------------------------------------


@dataclass
class Stats:
    cases: int = 0
    accepted: int = 0
    rejected: int = 0
    findings: list[dict] = field(default_factory=list)
    by_mutator: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    slowest: float = 0.0


def _reason(message: str, path: Path) -> str:
    """The first words of an error message, without the file name: a rough category."""
    text = re.sub(r"^, line \d+", "", message.replace(str(path), "")).lstrip(":, ")
    return " ".join(text.split()[:4])


def run_case(name: str, loader: Loader, data: bytes, path: Path, stats: Stats,
             mutator: str, slow: float) -> None:
    # Unlink first: rewriting one file in place is far slower on some filesystems.
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    start = time.perf_counter()
    problem = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a stray numpy warning is a finding too
        try:
            result = loader.load_from_path(path)
        except ScratchnetError as exc:
            stats.rejected += 1
            stats.reasons[_reason(str(exc), path)] += 1
            if str(path) not in str(exc):
                problem = f"error message does not name the file: {exc}"
        except Exception as exc:  # anything undocumented (even MemoryError) is a finding
            problem = "".join(traceback.format_exception_only(exc)).strip()
        else:
            stats.accepted += 1
            if loader.check_result is not None:
                try:
                    loader.check_result(result)
                except AssertionError as exc:
                    problem = f"accepted a malformed result: {exc}"
    elapsed = time.perf_counter() - start
    stats.slowest = max(stats.slowest, elapsed)
    if problem is None and elapsed > slow:
        problem = f"slow: {elapsed:.2f} s for {len(data)} bytes"
    if problem is not None:
        stats.findings.append(
            {"loader": name, "mutator": mutator, "problem": problem, "data": data}
        )


def fuzz(cases: int, seed: int, names: list[str], slow: float) -> dict[str, Stats]:
    rng = np.random.default_rng(seed)
    stats = {name: Stats() for name in names}
    with tempfile.TemporaryDirectory(prefix="scratchnet-fuzz-") as tmp:
        # Sanity: every loader accepts its own valid files, else the fuzzing means nothing.
        for name in names:
            loader = LOADERS[name]
            for _ in range(20):
                path = Path(tmp) / f"valid{loader.suffix}"
                path.unlink(missing_ok=True)
                path.write_bytes(loader.make_valid_bytes(rng))
                result = loader.load_from_path(path)
                if loader.check_result is not None:
                    loader.check_result(result)
        for i in range(cases):
            name = names[i % len(names)]
            loader = LOADERS[name]
            mutators = {**GENERIC_MUTATORS, **loader.extra_mutators}
            # Format-aware mutators get a bigger share: they reach deeper than noise.
            names_pool = list(GENERIC_MUTATORS) + 3 * list(loader.extra_mutators)
            valid = loader.make_valid_bytes(rng)
            chosen = [str(m) for m in rng.choice(names_pool, size=int(rng.integers(1, 3)))]
            data = valid
            for m in chosen:
                data = mutators[m](data, rng)
            label = "+".join(chosen)
            st = stats[name]
            st.cases += 1
            st.by_mutator[label] += 1
            run_case(name, loader, data, Path(tmp) / f"case{loader.suffix}", st, label, slow)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="total cases (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--loaders", nargs="+", choices=sorted(LOADERS), default=list(LOADERS),
                        help="which loaders to fuzz (default: all)")
    parser.add_argument("--slow", type=float, default=2.0,
                        help="a case slower than this many seconds is a finding (default 2)")
    parser.add_argument("--save", type=Path, default=None,
                        help="folder to save the bytes of each finding for replay")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be >= 1")

    start = time.perf_counter()
    stats = fuzz(args.cases, args.seed, args.loaders, args.slow)
    elapsed = time.perf_counter() - start

    total = sum(s.cases for s in stats.values())
    findings = [f for s in stats.values() for f in s.findings]
    print(f"fuzzed {total:,} cases in {elapsed:.1f} s (seed {args.seed})")
    for name, s in stats.items():
        print(
            f"  {name:8s} {s.cases:8,} cases  {s.accepted:8,} accepted  {s.rejected:8,} "
            f"rejected with documented errors  {len(s.findings):4} findings  "
            f"slowest {s.slowest * 1000:.1f} ms"
        )
        for reason, count in s.reasons.most_common(6):
            print(f"           {count:8,}  {reason} ...")
    if findings:
        print(f"\n{len(findings)} FINDING(S):")
        for i, f in enumerate(findings[:20]):
            print(f"  [{i}] {f['loader']} after {f['mutator']}: {f['problem']}")
            print(f"      first bytes: {f['data'][:48]!r}")
        if args.save is not None:
            args.save.mkdir(parents=True, exist_ok=True)
            for i, f in enumerate(findings):
                (args.save / f"{i:04d}-{f['loader']}.bin").write_bytes(f["data"])
            print(f"  saved to {args.save}")
        return 1
    print("no findings: only documented errors escaped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
