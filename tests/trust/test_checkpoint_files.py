"""Hostile and damaged checkpoint files are refused with a clear error naming the file,
run nothing, allocate nothing large, and leave the model untouched.

(Model files get the same treatment in ``tests/engine/test_save_load.py``; the cases a
checkpoint adds are its own fields: position, shuffle order, generator state,
optimiser state, history and callbacks.)
"""

from __future__ import annotations

import io
import json
import pickle
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _trust_helpers import toy_data, toy_model

import scratchnet as sn
from scratchnet.checkpoint import CHECKPOINT_VERSION, find_latest, load_checkpoint
from scratchnet.errors import ConfigError, ModelFileError, ScratchnetError

pytestmark = pytest.mark.usefixtures("no_fsync")


class MarkerPayload:
    """Unpickling this would create ``path``: proof that code ran."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory) -> Path:
    """A real mid-epoch checkpoint (step 8 of a run with dropout, Adam and a schedule)."""
    folder = tmp_path_factory.mktemp("good")
    X, y = toy_data()
    model = toy_model()

    def stop(step, logs):
        if step == 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=3, batch_size=16, verbose=0, checkpoint_dir=folder,
                  checkpoint_every=4, callbacks=[sn.LambdaCallback(on_batch_end=stop)])
    return folder / "ckpt-00000008.scn"


def fresh_model_and_data():
    X, y = toy_data()
    return toy_model(), X, y


def resume_from(path: Path):
    """Resume a fresh copy of the run from ``path``; returns the model (for checks)."""
    model, X, y = fresh_model_and_data()
    before = model.state_dict()
    try:
        model.fit(X, y, epochs=3, batch_size=16, verbose=0, checkpoint_dir=path.parent / "out",
                  checkpoint_every=4, callbacks=[sn.LambdaCallback()], resume=path)
    finally:
        resume_from.unchanged = all(
            np.array_equal(before[k], v) for k, v in model.state_dict().items()
        )
    return model


def rewrite(src: Path, dst: Path, header_edit=None, arrays: dict | None = None,
            raw_members: dict | None = None) -> Path:
    """Copy a checkpoint, editing its JSON header, replacing or adding arrays (declared
    consistently), or adding raw members."""
    with zipfile.ZipFile(src) as zin:
        header = json.loads(zin.read("scratchnet.json"))
        members = {n: zin.read(n) for n in zin.namelist() if n != "scratchnet.json"}
    for name, a in (arrays or {}).items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.asarray(a), allow_pickle=False)
        members[f"{name}.npy"] = buf.getvalue()
        header["arrays"][name] = {"shape": list(np.shape(a)), "dtype": np.asarray(a).dtype.name}
    if header_edit is not None:
        header_edit(header)
    members.update(raw_members or {})
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        zout.writestr("scratchnet.json", json.dumps(header))
        for name, data in members.items():
            zout.writestr(name, data)
    return dst


def test_good_checkpoint_loads_and_resumes(good_checkpoint):
    ckpt = load_checkpoint(good_checkpoint)
    assert ckpt.step == 8 and ckpt.position.batch == 2  # 6 batches per epoch
    resume_from(good_checkpoint)


# -- code execution is impossible -------------------------------------------------------------
def test_pickled_object_array_inside_a_checkpoint_is_refused(good_checkpoint, tmp_path):
    marker = tmp_path / "executed"
    evil = np.empty(72, dtype=object)
    evil[0] = MarkerPayload(marker)
    buf = io.BytesIO()
    np.save(buf, evil, allow_pickle=True)
    assert b"touch" in buf.getvalue()
    path = rewrite(good_checkpoint, tmp_path / "evil.scn",
                   raw_members={"order.npy": buf.getvalue()})
    with pytest.raises(ModelFileError, match=r"evil\.scn: array 'order' is object"):
        load_checkpoint(path)
    assert not marker.exists()


def test_declared_object_dtype_is_refused(good_checkpoint, tmp_path):
    def edit(h):
        h["arrays"]["order"]["dtype"] = "object"

    path = rewrite(good_checkpoint, tmp_path / "obj.scn", edit)
    with pytest.raises(ModelFileError, match=r"obj\.scn: array 'order' has dtype 'object'"):
        load_checkpoint(path)


def test_pickle_file_named_like_a_checkpoint_is_skipped_never_loaded(good_checkpoint, tmp_path):
    marker = tmp_path / "executed"
    folder = tmp_path / "ckpts"
    folder.mkdir()
    (folder / "ckpt-00000008.scn").write_bytes(good_checkpoint.read_bytes())
    (folder / "ckpt-00000099.scn").write_bytes(pickle.dumps(MarkerPayload(marker)))
    with pytest.warns(UserWarning, match=r"ckpt-00000099\.scn: looks like a Python pickle"):
        assert find_latest(folder).step == 8
    assert not marker.exists()


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "subprocess.Popen",
                                  "__import__", "scratchnet.io.write_archive"])
def test_header_naming_a_module_builds_nothing(good_checkpoint, tmp_path, name):
    def edit(h):
        h["meta"]["model"]["layers"][0]["type"] = name
        h["meta"]["model"]["layers"][0]["config"] = {"command": f"touch {tmp_path / 'x'}"}

    path = rewrite(good_checkpoint, tmp_path / "mod.scn", edit)
    ckpt = load_checkpoint(path)  # a header is data: loading it imports nothing
    with pytest.raises(ModelFileError, match=rf"mod\.scn: layer 0 has unknown type '{name}'"):
        ckpt.build_model()
    with pytest.raises(ConfigError, match=r"mod\.scn was written by a different model"):
        resume_from(path)
    assert resume_from.unchanged
    assert not (tmp_path / "x").exists()


def test_generator_named_in_the_file_is_compared_never_looked_up(good_checkpoint, tmp_path):
    def edit(h):
        h["meta"]["rng"]["bit_generator"] = "os.system"

    path = rewrite(good_checkpoint, tmp_path / "gen.scn", edit)
    with pytest.raises(ModelFileError, match=r"gen\.scn: random generator state is for bit "
                                             r"generator 'os.system', but the model uses 'PCG64'"):
        resume_from(path)
    assert resume_from.unchanged


def test_callback_types_in_the_file_are_only_compared(good_checkpoint, tmp_path):
    def edit(h):
        h["meta"]["callbacks"] = [{"type": "builtins.exec", "state": {"code": "1/0"}}]

    path = rewrite(good_checkpoint, tmp_path / "cb.scn", edit)
    with pytest.raises(ConfigError, match=r"callbacks \['builtins.exec'\], but fit was given "
                                          r"\['LambdaCallback'\]"):
        resume_from(path)


# -- absurd sizes -------------------------------------------------------------------------------
def test_absurd_order_shape_is_refused_before_allocation(good_checkpoint, tmp_path):
    def edit(h):
        h["arrays"]["order"]["shape"] = [2**39]

    path = rewrite(good_checkpoint, tmp_path / "huge.scn", edit)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"huge\.scn: header declares [\d,]+ bytes of "
                                                 r"arrays but the file has only"):
            load_checkpoint(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_huge_numbers_in_the_header_are_refused(good_checkpoint, tmp_path):
    def edit(h):
        h["meta"]["position"]["epoch"] = 10**30

    path = rewrite(good_checkpoint, tmp_path / "big.scn", edit)
    with pytest.raises(ModelFileError, match=r"big\.scn: position\.epoch must be an integer"):
        load_checkpoint(path)


# -- inconsistent contents ------------------------------------------------------------------------
def _set(path_in_meta, value):
    def edit(h):
        target = h["meta"]
        for key in path_in_meta[:-1]:
            target = target[key]
        target[path_in_meta[-1]] = value

    return edit


def _drop(path_in_meta):
    def edit(h):
        target = h["meta"]
        for key in path_in_meta[:-1]:
            target = target[key]
        del target[path_in_meta[-1]]

    return edit


LOAD_CASES = [
    ("no-position", _drop(["position"]), "checkpoint lacks position"),
    ("negative-epoch", _set(["position", "epoch"], -1), r"position\.epoch must be an integer"),
    ("bool-step", _set(["position", "step"], True), r"position\.step must be an integer"),
    ("string-loss", _set(["position", "total_loss"], "0.5"), r"position\.total_loss must be a"),
    ("step-mismatch", _set(["position", "step"], 7), "position says 7 steps but the optimiser"),
    ("finished-string", _set(["position", "finished"], "yes"), "position.finished must be true"),
    ("history-strings", _set(["history", "values", "loss"], ["x"]), "history 'loss' is not a"),
    ("history-epochs", _set(["history", "epochs"], [-3]), "history epochs is not a list"),
    ("schedule-nested", _set(["optimizer", "schedule", "current"], {"a": 1}),
     "schedule state 'current' is not a plain number"),
    ("rng-missing-name", _drop(["rng", "bit_generator"]), "names no bit generator"),
    ("callbacks-not-list", _set(["callbacks"], {"type": "x"}), "callbacks entry is not a list"),
    ("future-layout", _set(["checkpoint_version"], CHECKPOINT_VERSION + 1),
     "checkpoint layout version 2 is newer than this scratchnet reads"),
    ("model-not-dict", _set(["model"], ["Dense"]), "model must be an object"),
]


@pytest.mark.parametrize(("label", "edit", "message"), LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_inconsistent_header_fields_are_refused_on_load(good_checkpoint, tmp_path, label, edit,
                                                       message):
    path = rewrite(good_checkpoint, tmp_path / f"{label}.scn", edit)
    with pytest.raises(ModelFileError, match=rf"{label}\.scn: .*{message}"):
        load_checkpoint(path)


def _swap_two(order):
    order = order.copy()
    order[0] = order[1]
    return order


# (label, header edit, replaced arrays, removed array, message)
RESTORE_CASES = [
    ("order-not-permutation", None, lambda ck: {"order": _swap_two(ck.order)}, None,
     "shuffle order is not a permutation of 90 samples"),
    ("order-too-short", None, lambda ck: {"order": ck.order[:10]}, None,
     "shuffle order is not a"),
    ("nan-weights", None,
     lambda ck: {"model/0.W": np.full_like(ck.model_state["0.W"], np.nan)}, None,
     r"model array '0\.W' contains NaN or inf"),
    ("weights-float64", None,
     lambda ck: {"model/0.W": ck.model_state["0.W"].astype(np.float64)}, None,
     r"model array '0\.W' is float64"),
    ("adam-state-shape", None, lambda ck: {"optim/0.W/m_sum": np.zeros((2, 2), np.float32)}, None,
     r"optimiser array '0\.W/m_sum' is float32 \(2, 2\)"),
    ("rng-giant-int", _set(["rng", "state", "state"], 2**200), None, None,
     "invalid integer field"),
    ("rng-extra-field", _set(["rng", "extra"], 1), None, None,
     "random generator state has fields"),
    ("batch-past-end", _set(["position", "batch"], 99), None, None,
     "position batch 99 of 6 is impossible"),
    ("mid-epoch-no-order", None, None, "order",
     "mid-epoch checkpoint of a shuffled run has no order"),
    ("adam-state-missing", None, None, "optim/0.W/m_sum",
     "optimiser state arrays .* do not match the model's parameters"),
]


def _without(src: Path, dst: Path, name: str) -> None:
    """Copy an archive without array ``name`` (header entry and member both gone)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        header = json.loads(zin.read("scratchnet.json"))
        header["arrays"].pop(name)
        zout.writestr("scratchnet.json", json.dumps(header))
        for n in zin.namelist():
            if n not in ("scratchnet.json", f"{name}.npy"):
                zout.writestr(n, zin.read(n))


@pytest.mark.parametrize(("label", "edit", "arrays", "removed", "message"), RESTORE_CASES,
                         ids=[c[0] for c in RESTORE_CASES])
def test_inconsistent_contents_are_refused_before_the_model_changes(
        good_checkpoint, tmp_path, label, edit, arrays, removed, message):
    ckpt = load_checkpoint(good_checkpoint)
    dst = tmp_path / f"{label}.scn"
    if removed is not None:
        _without(good_checkpoint, dst, removed)
    else:
        rewrite(good_checkpoint, dst, edit, arrays(ckpt) if arrays else None)
    with pytest.raises(ModelFileError, match=rf"{label}\.scn: .*{message}"):
        resume_from(dst)
    assert resume_from.unchanged


# -- damaged files -------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [0.001, 0.05, 0.3, 0.5, 0.9, 0.999])
def test_truncated_checkpoint_names_the_file(good_checkpoint, tmp_path, fraction):
    data = good_checkpoint.read_bytes()
    path = tmp_path / "cut.scn"
    path.write_bytes(data[: max(4, int(len(data) * fraction))])
    with pytest.raises(ModelFileError, match=r"cut\.scn"):
        load_checkpoint(path)


def test_every_single_byte_flip_is_refused_or_harmless(good_checkpoint, tmp_path):
    """Flip one byte at many positions: either a clear ModelFileError, or (a flip in a
    place nothing reads, like a zip comment or padding) a checkpoint that still loads."""
    data = good_checkpoint.read_bytes()
    path = tmp_path / "flip.scn"
    refused = 0
    for pos in range(0, len(data), max(1, len(data) // 300)):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        path.write_bytes(bytes(bad))
        try:
            load_checkpoint(path)
        except ModelFileError as exc:
            assert "flip.scn" in str(exc)
            refused += 1
    assert refused > 250


def test_future_archive_version_and_wrong_kind(good_checkpoint, tmp_path):
    def future(h):
        h["version"] = 99

    path = rewrite(good_checkpoint, tmp_path / "future.scn", future)
    with pytest.raises(ModelFileError, match=r"future\.scn: written by a newer scratchnet"):
        load_checkpoint(path)
    model_file = tmp_path / "model.scn"
    toy_model().save(model_file)
    with pytest.raises(ModelFileError, match=r"model\.scn: is a scratchnet 'model' file, "
                                             r"expected a checkpoint file"):
        load_checkpoint(model_file)
    with pytest.raises(ModelFileError, match=r"is a scratchnet 'checkpoint' file, expected a "
                                             r"model"):
        sn.load_model(good_checkpoint)


def test_folder_and_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="is a folder"):
        load_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.scn")


def test_errors_are_scratchnet_errors(good_checkpoint, tmp_path):
    path = tmp_path / "junk.scn"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ScratchnetError):
        load_checkpoint(path)
