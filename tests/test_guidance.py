"""TE-guided training: the soft TE estimator, gradient scaling and the TE penalty."""

import numpy as np
import pytest
import torch

import infoplane.guidance as guidance
from infoplane.config import load_config
from infoplane.datasets import Dataset
from infoplane.estimators import transfer_entropy_matrix
from infoplane.estimators.soft import soft_transfer_entropy_matrix
from infoplane.guidance import LayerPair, TEGuidance, TEPenalty, build_guidance
from infoplane.models import MLP
from infoplane.pipeline import prepare
from infoplane.recording import ActivationRecorder
from infoplane.runs import RunStore
from infoplane.training import Trainer


@pytest.fixture(autouse=True)
def one_thread():
    """Run on one thread: these tiny models train several times faster than on a shared pool."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_dataset(seed=0, n_train=192, n_test=64):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n_train + n_test, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > x[:, 2] + 0.5).astype(np.int64) + (x[:, 3] > 0.7)
    return Dataset("toy", x[:n_train], y[:n_train], x[n_train:], y[n_train:], n_classes=3)


def train(model_seed, callbacks=(), loss_terms=(), optimizer="sgd", epochs=3, guidance_factory=None):
    torch.manual_seed(model_seed)
    model = MLP([6, 5, 4, 3], "tanh")
    if guidance_factory is not None:
        callbacks, loss_terms = guidance_factory(model)
    trainer = Trainer(model, toy_dataset(), optimizer=optimizer, learning_rate=0.05, batch_size=32, epochs=epochs,
                      schedule=[], callbacks=callbacks, loss_terms=loss_terms)
    return trainer.fit(), model.state_dict()


def assert_same_training(first, second):
    for row_a, row_b in zip(first[0], second[0]):
        assert {k: v for k, v in row_a.items() if k != "seconds"} == {k: v for k, v in row_b.items() if k != "seconds"}
    for name in first[1]:
        torch.testing.assert_close(first[1][name], second[1][name], rtol=0, atol=0)


def soft_te_by_loops(source, target, temperature, delay):
    """Soft TE of one pair in bits, cell by cell with Python loops (independent of the matrix code)."""
    p_x = 1 / (1 + np.exp(-source / temperature))
    p_y = 1 / (1 + np.exp(-target / temperature))
    t0 = max(0, delay - 1)
    counts = np.zeros((2, 2, 2))
    for t in range(t0, len(target) - 1):
        for a in (0, 1):
            for b in (0, 1):
                for s in (0, 1):
                    next_weight = p_y[t + 1] if a else 1 - p_y[t + 1]
                    prev_weight = p_y[t] if b else 1 - p_y[t]
                    source_weight = p_x[t + 1 - delay] if s else 1 - p_x[t + 1 - delay]
                    counts[a, b, s] += next_weight * prev_weight * source_weight
    joint = counts / counts.sum()
    te = 0.0
    for a, b, s in np.ndindex(2, 2, 2):
        p_bs, p_ab, p_b = joint[:, b, s].sum(), joint[a, b, :].sum(), joint[:, b, :].sum()
        te += joint[a, b, s] * np.log2(joint[a, b, s] * p_b / (p_ab * p_bs))
    return te


# soft TE estimator


@pytest.mark.parametrize("delay", [0, 1, 2])
def test_soft_te_matches_loop_implementation(delay):
    rng = np.random.default_rng(delay)
    sources, targets = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    soft = soft_transfer_entropy_matrix(torch.tensor(sources), torch.tensor(targets), temperature=0.7, delay=delay)
    expected = [[soft_te_by_loops(sources[:, i], targets[:, j], 0.7, delay) for j in range(2)] for i in range(3)]
    np.testing.assert_allclose(soft.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("delay", [0, 1])
def test_soft_te_gradcheck(delay):
    rng = np.random.default_rng(7)
    sources = torch.tensor(rng.normal(size=(12, 2)), dtype=torch.float64, requires_grad=True)
    targets = torch.tensor(rng.normal(size=(12, 3)), dtype=torch.float64, requires_grad=True)

    def soft_te(source_values, target_values):
        return soft_transfer_entropy_matrix(source_values, target_values, 0.1, -0.2, temperature=0.5, delay=delay)

    assert torch.autograd.gradcheck(soft_te, (sources, targets), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("delay", [0, 1])
def test_soft_te_tends_to_hard_te(delay):
    rng = np.random.default_rng(3)
    sources = rng.uniform(-1, 1, size=(500, 6))
    mixed = np.tanh(np.roll(sources, delay, axis=0) @ rng.normal(size=(6, 4)) + 0.5 * rng.normal(size=(500, 4)))
    # Keep every value at least 0.05 from the threshold 0, so the sigmoid saturates at small temperatures.
    sources, targets = (np.where(v >= 0, v + 0.05, v - 0.05) for v in (sources, mixed))
    hard = transfer_entropy_matrix((sources > 0).astype(int), (targets > 0).astype(int), delay=delay)
    assert hard.max() > 0.05

    errors = []
    for temperature in (0.3, 0.1, 0.03, 0.001):
        soft = soft_transfer_entropy_matrix(torch.tensor(sources), torch.tensor(targets), temperature=temperature,
                                            delay=delay)
        errors.append(np.abs(soft.numpy() - hard).max())
    assert errors == sorted(errors, reverse=True)
    assert errors[0] > 1e-3
    assert errors[-1] < 1e-9


def test_soft_te_rejects_bad_input():
    values = torch.zeros(10, 2)
    with pytest.raises(ValueError, match="temperature must be a positive number, got 0"):
        soft_transfer_entropy_matrix(values, values, temperature=0)
    with pytest.raises(TypeError, match="sources must be a 2-D floating-point torch tensor"):
        soft_transfer_entropy_matrix(values.long(), values)
    with pytest.raises(ValueError, match="same number of steps"):
        soft_transfer_entropy_matrix(values, torch.zeros(9, 2))


# gradient scaling


def test_guidance_off_equals_plain_training():
    plain = train(0)
    callbacks, loss_terms = build_guidance(MLP([6, 5, 4, 3]), {**load_config("szt-tanh")["training"]})
    assert callbacks == []
    assert loss_terms == []
    off = train(0, guidance_factory=lambda model: build_guidance(model, load_config("szt-tanh")["training"]))
    assert_same_training(plain, off)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_guidance_with_zero_te_equals_plain_training(monkeypatch, optimizer):
    calls = []

    def zero_te(sources, targets, **kwargs):
        calls.append((sources.shape, targets.shape))
        return np.zeros((sources.shape[1], targets.shape[1]))

    monkeypatch.setattr(guidance, "transfer_entropy_matrix", zero_te)
    plain = train(0, optimizer=optimizer)
    guided = train(0, optimizer=optimizer, guidance_factory=lambda model: ([TEGuidance(model, window=64, refresh=2)], []))
    assert_same_training(plain, guided)
    assert len(calls) == 9  # 18 steps of 32 samples: the window fills at step 2, then every 2nd step
    assert calls[0] == ((64, 4), (64, 3))


def test_guidance_with_zero_scale_equals_plain_training():
    plain = train(1)
    guided = train(1, guidance_factory=lambda model: ([TEGuidance(model, window=64, refresh=1, scale=0.0)], []))
    assert_same_training(plain, guided)


def test_guidance_changes_training_when_te_is_positive():
    plain = train(2)
    guided = train(2, guidance_factory=lambda model: ([TEGuidance(model, window=64, refresh=1, scale=5.0)], []))
    assert not torch.equal(plain[1]["out.weight"], guided[1]["out.weight"])


def gradients_after_backward(model, inputs, labels):
    model.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(inputs), labels).backward()
    return {name: parameter.grad.clone() for name, parameter in model.named_parameters()}


@pytest.mark.parametrize("pair, shape", [(("act1", "act2", "fc2.weight"), (5, 4)),
                                         (("act2", "output", "out.weight"), (4, 3))])
def test_scaling_hits_joining_weight_as_w_ji(monkeypatch, pair, shape):
    n_sources, n_targets = shape
    te = 0.1 * np.arange(n_sources)[:, None] + 0.01 * np.arange(n_targets)[None, :]  # te[i, j], all distinct
    seen = {}

    def known_te(sources, targets, **kwargs):
        seen["shapes"] = (sources.shape, targets.shape)
        return te

    monkeypatch.setattr(guidance, "transfer_entropy_matrix", known_te)
    torch.manual_seed(0)
    model = MLP([6, 5, 4, 3], "tanh")
    data = toy_dataset()
    inputs, labels = torch.as_tensor(data.x_train[:32]), torch.as_tensor(data.y_train[:32])
    plain = gradients_after_backward(model, inputs, labels)

    scaler = TEGuidance(model, pairs=[pair], window=32, refresh=1, scale=2.0)
    gradients_after_backward(model, inputs, labels)
    scaler(None)
    assert seen["shapes"] == ((32, n_sources), (32, n_targets))
    for name, parameter in model.named_parameters():
        if name == pair[2]:
            expected = plain[name] * torch.as_tensor(1 + 2.0 * te.T, dtype=torch.float32)
            torch.testing.assert_close(parameter.grad, expected, rtol=0, atol=0)
            assert parameter.grad[2, 1] == plain[name][2, 1] * np.float32(1 + 2.0 * te[1, 2])
        else:
            torch.testing.assert_close(parameter.grad, plain[name], rtol=0, atol=0)


def test_guidance_waits_for_full_window(monkeypatch):
    monkeypatch.setattr(guidance, "transfer_entropy_matrix", lambda s, t, **kwargs: np.ones((s.shape[1], t.shape[1])))
    torch.manual_seed(0)
    model = MLP([6, 5, 4, 3], "tanh")
    data = toy_dataset()
    scaler = TEGuidance(model, window=48, refresh=3)
    for step, start in enumerate(range(0, 96, 16), start=1):
        inputs, labels = torch.as_tensor(data.x_train[start:start + 16]), torch.as_tensor(data.y_train[start:start + 16])
        plain = gradients_after_backward(model, inputs, labels)
        scaler(None)
        factor = 2.0 if step >= 3 else 1.0
        torch.testing.assert_close(model.out.weight.grad, plain["out.weight"] * factor, rtol=0, atol=0)
    assert scaler.n_refreshes == 2  # at step 3, when the window first fills, and 3 steps later


def test_guidance_te_equals_recorded_stream_te():
    torch.manual_seed(0)
    model = MLP([6, 5, 4, 3], "tanh")
    scaler = TEGuidance(model, window=96, refresh=1, delay=0)
    recorder = ActivationRecorder(model, modes=("stream",))
    trainer = Trainer(model, toy_dataset(), optimizer="sgd", learning_rate=0.05, batch_size=32, epochs=1,
                      schedule=[1], recorder=recorder, callbacks=[scaler])
    trainer.fit()
    stream = recorder.compute()
    expected = transfer_entropy_matrix(stream.bits["act2"][-96:], stream.bits["output"][-96:], delay=0)
    np.testing.assert_array_equal(scaler.te[LayerPair("act2", "output", "out.weight")], expected)
    assert expected.max() > 0


def test_guidance_rejects_bad_pairs():
    model = MLP([6, 5, 4, 3], "tanh")
    with pytest.raises(ValueError, match="layer 'act9' of pair .* not found in the model"):
        TEGuidance(model, pairs=[("act9", "output", "out.weight")])
    with pytest.raises(ValueError, match="weight 'out.bias' of pair .* is not a 2-D parameter"):
        TEGuidance(model, pairs=[("act2", "output", "out.bias")])
    with pytest.raises(ValueError, match="window must hold at least delay \\+ 2 = 3 samples, got 2"):
        TEGuidance(model, window=2, delay=1)
    scaler = TEGuidance(model, pairs=[("act1", "output", "out.weight")])
    with pytest.raises(ValueError, match=r"weight 'out.weight' has shape \(3, 4\) but layers 'act1' \(5 units\)"):
        gradients_after_backward(model, torch.zeros(8, 6), torch.zeros(8, dtype=torch.long))
        scaler(None)


def test_build_guidance_rejects_unknown_mode():
    training = {**load_config("szt-tanh")["training"], "te_guidance": "boost"}
    with pytest.raises(ValueError, match="te_guidance must be one of off, scale, penalty, got 'boost'"):
        build_guidance(MLP([6, 5, 4, 3]), training)


# TE penalty


def test_penalty_with_zero_weight_equals_plain_training():
    plain = train(3)
    penalised = train(3, guidance_factory=lambda model: ([], [TEPenalty(model, weight=0.0)]))
    assert_same_training(plain, penalised)


def test_penalty_adds_weighted_soft_te_of_the_batch():
    torch.manual_seed(0)
    model = MLP([6, 5, 4, 3], "tanh")
    penalty = TEPenalty(model, weight=-0.5, temperature=0.2)
    inputs = torch.as_tensor(toy_dataset().x_train[:32])
    model(inputs)
    value = penalty(None)

    hidden = torch.tanh(model.fc2(torch.tanh(model.fc1(inputs))))
    output = torch.softmax(model.out(hidden), dim=-1)
    expected = -0.5 * soft_transfer_entropy_matrix(hidden, output, 0.0, 1 / 3, temperature=0.2, delay=0).mean()
    torch.testing.assert_close(value, expected)
    value.backward()
    assert model.fc1.weight.grad.abs().sum() > 0


def test_penalty_moves_soft_te_in_the_weighted_direction():
    mean_te = {}
    for weight in (-2.0, 2.0):
        penalty_holder = []

        def factory(model):
            penalty_holder.append(TEPenalty(model, weight=weight, temperature=0.2))
            return [], penalty_holder

        train(4, epochs=8, guidance_factory=factory)
        mean_te[weight] = float(penalty_holder[0].last_te)
    assert mean_te[-2.0] > mean_te[2.0]


# configs


@pytest.mark.parametrize("name, mode", [("mnist-mlp-te-guided", "scale"), ("mnist-cnn-te-guided", "scale")])
def test_shipped_guided_configs_build_guidance(tmp_path, name, mode):
    config = load_config(name)
    assert config["training"]["te_guidance"] == mode
    config["data"]["probe_size"] = 16
    store = RunStore.create(tmp_path / "run", config, seed=0)
    trainer, recorder = prepare(config, store, write_probe=False)
    recorder.close()
    assert len(trainer.callbacks) == 1
    scaler = trainer.callbacks[0]
    assert isinstance(scaler, TEGuidance)
    assert scaler.pairs == [LayerPair("act2" if "mlp" in name else "act1", "output", "out.weight")]
