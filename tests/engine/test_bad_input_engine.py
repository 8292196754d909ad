"""Bad input is refused at the boundary with one of the library's errors and a message that
says what was wrong and what was expected. One test per case."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet import (
    SGD,
    Adam,
    ConfigError,
    DataError,
    Dense,
    DivergenceError,
    ModelFileError,
    ReLU,
    Sequential,
    ShapeError,
    Sigmoid,
    load_model,
)
from scratchnet.layers import get_activation
from scratchnet.losses import SoftmaxCrossEntropy, get_loss
from scratchnet.optim import get_optimizer

# A diverging run overflows on its way to inf: numpy's RuntimeWarnings are expected there.
quiet_overflow = pytest.mark.filterwarnings(
    "ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning"
)

X4 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y4 = np.array([0, 1, 1, 0])


def xor_model(loss="bce", **compile_kw) -> Sequential:
    model = Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()], seed=0)
    model.compile(loss=loss, optimizer=SGD(lr=1.0), **compile_kw)
    return model


def classifier(n_classes=10) -> Sequential:
    model = Sequential([Dense(3, n_classes)], seed=0)
    model.compile(loss="cross_entropy", optimizer="sgd")
    return model


def test_x_of_the_wrong_width():
    model = xor_model()
    with pytest.raises(ShapeError, match=r"Dense: expected input of shape \(batch, 2\), got "
                                         r"\(\d+, 3\): each sample must have 2 features, this "
                                         r"one has 3"):
        model.fit(np.ones((4, 3)), Y4, verbose=0)
    with pytest.raises(ShapeError, match=r"expected input of shape \(batch, 2\)"):
        model.predict(np.ones((4, 5)))


def test_x_without_a_batch_axis():
    with pytest.raises(ShapeError, match=r"X must have a batch axis: expected shape "
                                         r"\(n_samples, features...\), got \(2,\)"):
        xor_model().predict(np.array([0.0, 1.0]))


def test_x_and_y_of_different_lengths():
    with pytest.raises(ShapeError, match="X and y have different lengths: 4 samples but "
                                         "3 targets"):
        xor_model().fit(X4, Y4[:3], verbose=0)


def test_nan_in_x():
    X = X4.copy()
    X[2, 1] = np.nan
    with pytest.raises(DataError, match=r"X contains NaN or inf \(first at index \(2, 1\)\)"):
        xor_model().fit(X, Y4, verbose=0)


def test_inf_in_x_for_predict():
    X = X4.copy()
    X[0, 0] = np.inf
    with pytest.raises(DataError, match=r"X contains NaN or inf \(first at index \(0, 0\)\)"):
        xor_model().predict(X)


def test_inf_in_y():
    y = np.array([0.0, 1.0, np.inf, 0.0])
    model = Sequential([Dense(2, 1)], seed=0).compile(loss="mse", optimizer="sgd")
    with pytest.raises(DataError, match="mse: targets contain NaN or inf"):
        model.fit(X4, y, verbose=0)


def test_nan_in_y_for_binary_cross_entropy():
    y = np.array([0.0, np.nan, 1.0, 0.0])
    with pytest.raises(DataError, match="bce: targets contain NaN or inf"):
        xor_model().fit(X4, y, verbose=0)


def test_nan_in_validation_data():
    Xv = X4.copy()
    Xv[1, 0] = np.nan
    with pytest.raises(DataError, match=r"validation X contains NaN or inf"):
        xor_model().fit(X4, Y4, validation_data=(Xv, Y4), verbose=0)


def test_cross_entropy_label_out_of_range():
    X = np.ones((3, 3), dtype=np.float32)
    with pytest.raises(DataError, match=r"cross_entropy: labels must be in 0\.\.9 for 10 outputs, "
                                        r"got values from 0 to 10"):
        classifier(10).fit(X, np.array([0, 10, 3]), verbose=0)


def test_cross_entropy_negative_and_fractional_labels():
    X = np.ones((3, 3), dtype=np.float32)
    with pytest.raises(DataError, match=r"labels must be in 0\.\.9 .* got values from -1 to 3"):
        classifier(10).fit(X, np.array([-1, 2, 3]), verbose=0)
    with pytest.raises(DataError, match=r"labels must be whole numbers 0\.\.9"):
        classifier(10).fit(X, np.array([0.5, 2.0, 3.0]), verbose=0)


def test_bce_target_outside_zero_one():
    with pytest.raises(DataError, match=r"bce: binary cross-entropy targets must be in \[0, 1\], "
                                        r"got values from 0 to 2"):
        xor_model().fit(X4, np.array([0, 1, 2, 0]), verbose=0)


def test_bce_with_logits_target_outside_zero_one():
    model = Sequential([Dense(2, 1)], seed=0).compile(loss="bce_logits", optimizer="sgd")
    with pytest.raises(DataError, match=r"bce_logits: binary cross-entropy targets must be in "
                                        r"\[0, 1\], got values from -1 to 1"):
        model.fit(X4, np.array([0, 1, -1, 0]), verbose=0)


def test_empty_dataset():
    with pytest.raises(DataError, match="X is empty: at least one sample is needed"):
        xor_model().fit(np.zeros((0, 2), dtype=np.float32), np.zeros(0), verbose=0)


def test_sgd_learning_rate_zero():
    with pytest.raises(ConfigError, match="learning rate must be a finite number > 0, got 0"):
        SGD(lr=0)


def test_adam_negative_learning_rate():
    with pytest.raises(ConfigError, match="learning rate must be a finite number > 0, got -1"):
        Adam(lr=-1)


def test_nan_learning_rate_through_compile():
    model = Sequential([Dense(2, 1)], seed=0)
    with pytest.raises(ConfigError, match="learning rate must be a finite number > 0, got nan"):
        model.compile(loss="mse", optimizer="adam", lr=float("nan"))


def test_lr_together_with_an_optimizer_instance():
    # compile(lr=...) sets the rate of an optimiser named by string; an instance already
    # has its own, and silently ignoring the second one would train at the wrong rate.
    model = Sequential([Dense(2, 1)], seed=0)
    with pytest.raises(ConfigError, match=r"lr=0\.5 was given together with the optimiser "
                                          r"SGD\(lr=1\); set the rate on the instance"):
        model.compile(loss="mse", optimizer=SGD(lr=1.0), lr=0.5)


def test_unknown_activation():
    with pytest.raises(ConfigError, match=r"unknown activation 'swish'; expected one of \["
                                          r"'leaky_relu', 'relu', 'sigmoid', 'softmax', 'tanh'\]"):
        get_activation("swish")


def test_unknown_initialiser():
    with pytest.raises(ConfigError, match=r"unknown initialiser 'glorious'; expected one of "
                                          r"\[.*'he_normal'.*\]"):
        Dense(2, 2, init="glorious")


def test_unknown_optimiser():
    with pytest.raises(ConfigError, match=r"unknown optimiser 'adagrad'; expected one of "
                                          r"\['adam', 'adamw', 'momentum', 'rmsprop', 'sgd'\]"):
        xor_model().compile(loss="bce", optimizer="adagrad")
    with pytest.raises(ConfigError, match="unknown optimiser 'nadam'"):
        get_optimizer("nadam")


def test_unknown_loss():
    with pytest.raises(ConfigError, match=r"unknown loss 'hinge'; expected one of \[.*'mse'.*\]"):
        xor_model().compile(loss="hinge")
    with pytest.raises(ConfigError, match="unknown loss 'l1'"):
        get_loss("l1")


def test_unknown_metric():
    with pytest.raises(ConfigError, match="unknown metric 'f1'; expected 'accuracy'"):
        xor_model(metrics=("f1",))


def test_file_that_is_not_a_scratchnet_model(tmp_path):
    path = tmp_path / "weights.csv"
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ModelFileError, match=r"weights\.csv: not a scratchnet model file"):
        load_model(path)


def test_layer_class_instead_of_instance():
    with pytest.raises(ConfigError, match=r"Sequential: item 1 is type, not a Layer \(did you pass "
                                          r"a class instead of an instance, e.g\. ReLU instead of "
                                          r"ReLU\(\)\?\)"):
        Sequential([Dense(2, 2), ReLU, Dense(2, 1)])


def test_empty_sequential():
    with pytest.raises(ConfigError, match="Sequential needs at least one layer"):
        Sequential([])


def test_fit_before_compile():
    model = Sequential([Dense(2, 1)], seed=0)
    with pytest.raises(ConfigError, match=r"call model\.compile\(loss=\.\.\., optimizer=\.\.\.\) "
                                          r"before fit/evaluate"):
        model.fit(X4, Y4, verbose=0)


def test_evaluate_and_predict_labels_before_compile():
    model = Sequential([Dense(2, 1)], seed=0)
    with pytest.raises(ConfigError, match=r"call model\.compile"):
        model.evaluate(X4, Y4)
    with pytest.raises(ConfigError, match=r"call model\.compile"):
        model.predict_labels(X4)
    # Raw predictions need no loss: they work uncompiled.
    assert model.predict(X4).shape == (4, 1)


def test_bad_epochs_and_batch_size():
    with pytest.raises(ConfigError, match="epochs must be a positive integer, got 0"):
        xor_model().fit(X4, Y4, epochs=0, verbose=0)
    with pytest.raises(ConfigError, match="batch_size must be a positive integer, got -2"):
        xor_model().fit(X4, Y4, batch_size=-2, verbose=0)


def test_bad_validation_split():
    with pytest.raises(ConfigError, match=r"validation_split must be in \(0, 1\), got 1\.5"):
        xor_model().fit(X4, Y4, validation_split=1.5, verbose=0)
    with pytest.raises(DataError, match="validation_split=0.1 leaves 4 training and 0 validation"):
        xor_model().fit(X4, Y4, validation_split=0.1, verbose=0)


def test_one_hot_targets_of_the_wrong_width():
    X = np.ones((3, 3), dtype=np.float32)
    with pytest.raises(ShapeError, match=r"cross_entropy: targets must be labels \(n,\) or "
                                         r"one-hot \(n, 10\), got shape \(3, 4\)"):
        classifier(10).fit(X, np.eye(4)[[0, 1, 2]], verbose=0)


def test_loss_called_directly_with_mismatched_shapes():
    with pytest.raises(ShapeError, match=r"cross_entropy: 2 labels for 3 outputs"):
        SoftmaxCrossEntropy().forward(np.zeros((3, 4)), np.array([0, 1]))


def test_non_numeric_x():
    with pytest.raises(Exception, match="X must be numeric, got dtype <U1") as info:
        xor_model().predict(np.array([["a", "b"]]))
    assert isinstance(info.value, TypeError)


@quiet_overflow
def test_divergence_stops_with_a_clear_error_and_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(64, 1)).astype(np.float32)
    y = 3 * X + 1
    model = Sequential([Dense(1, 1)], seed=0)
    model.compile(loss="mse", optimizer=SGD(lr=1e3), metrics=())
    with pytest.raises(DivergenceError, match=r"training diverged at epoch \d+, batch \d+: the "
                                              r"loss became (inf|nan) \(learning rate 1000\); the "
                                              r"model keeps its last finite weights\. Try a "
                                              r"smaller learning rate\.") as info:
        model.fit(X, y, epochs=200, batch_size=None, verbose=0)
    assert isinstance(info.value, FloatingPointError)
    for p in model.parameters():
        assert np.all(np.isfinite(p.value)), p.name
    assert not any(layer.training for layer in model.layers)


@quiet_overflow
def test_divergence_with_minibatches_restores_finite_weights():
    rng = np.random.default_rng(1)
    X = rng.uniform(-3, 3, size=(64, 2)).astype(np.float32)
    y = X @ np.array([[2.0], [-1.0]], dtype=np.float32)
    model = Sequential([Dense(2, 8), ReLU(), Dense(8, 1)], seed=0)
    model.compile(loss="mse", optimizer=SGD(lr=1e3), metrics=())
    with pytest.raises(DivergenceError, match="Try a smaller learning rate"):
        model.fit(X, y, epochs=50, batch_size=8, verbose=0)
    assert all(np.all(np.isfinite(p.value)) for p in model.parameters())
    assert not any(layer.training for layer in model.layers)


def test_inplace_relu_is_refused_where_it_would_overwrite_needed_data():
    from scratchnet.layers import Dropout, Flatten, Sigmoid, Softmax, Tanh

    with pytest.raises(ConfigError, match=r"layer 0 \(ReLU, inplace=True\) would overwrite "
                                          r"the model's input"):
        Sequential([ReLU(inplace=True), Dense(2, 2)])
    # Looked through Flatten and Dropout, which hand on their input itself or a view.
    with pytest.raises(ConfigError, match="would overwrite the model's input"):
        Sequential([Flatten(), Dropout(0.5), ReLU(inplace=True), Dense(4, 2)])
    for keeper in (Sigmoid, Tanh, Softmax):
        with pytest.raises(ConfigError, match=rf"output of layer 1 \({keeper.__name__}\), "
                                              "which that layer needs again"):
            Sequential([Dense(2, 4), keeper(), Flatten(), ReLU(inplace=True), Dense(4, 1)])
    with pytest.raises(ConfigError, match="inplace must be True or False, got 1"):
        ReLU(inplace=1)
    Sequential([Dense(2, 4), ReLU(inplace=True), ReLU(inplace=True), Dense(4, 1)])  # fine


def test_the_finiteness_check_tells_overflowing_sums_from_nan_and_inf():
    model = Sequential([Dense(3, 2)], seed=0)
    huge = np.full((4, 3), 3e38, dtype=np.float32)  # finite, but their sum is inf
    with np.errstate(over="ignore"):
        assert np.isinf(huge.sum())
    assert model._check_X(huge) is huge
    for bad in (np.nan, np.inf, -np.inf):
        X = np.ones((5, 3), dtype=np.float32)
        X[3, 1] = bad
        with pytest.raises(DataError, match=r"contains NaN or inf \(first at index \(3, 1\)\)"):
            model._check_X(X)
        with pytest.raises(DataError, match=r"first at index \(1, 3\)"):
            model._check_X(np.asfortranarray(X.T))  # not C-contiguous: the other path
