"""Weights shared between the C++ layer classes and the Python ones: the C++ program
examples/cpp/shared_weights (built into the build folder next to build/python) saves or
loads a TransformerEncoder's and an LSTM's weights as safetensors and writes its outputs;
the Python classes load those weights (and write their own for C++ to load), and both give
the same outputs. Loading is strict, so the parameter names and shapes agree too."""
import pathlib
import subprocess

import numpy as np

import lazuli.core as mx
import lazuli.nn as nn
from lazuli.utils import tree_flatten

# build/python/lazuli/core.*.so -> build/shared_weights
PROGRAM = pathlib.Path(mx.__file__).resolve().parents[2] / "shared_weights"


def models():
    return nn.TransformerEncoder(2, 8, 2, mlp_dims=16), nn.LSTM(3, 5)


def run_program(directory):
    assert PROGRAM.exists(), f"{PROGRAM} is missing: build the examples (make build)"
    result = subprocess.run([str(PROGRAM), str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def python_outputs(encoder, lstm, inputs):
    hidden, cell = lstm(inputs["lstm_input"])
    return {"encoder": encoder(inputs["encoder_input"], "causal"), "lstm_hidden": hidden, "lstm_cell": cell}


def assert_same_outputs(got, want):
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_allclose(np.array(got[name]), np.array(want[name]), rtol=1e-5, atol=1e-5, err_msg=name)


def shapes(tree):
    return {name: tuple(value.shape) for name, value in tree_flatten(tree)}


def test_cpp_weights_load_into_python_classes(tmp_path):
    printed = run_program(tmp_path)
    assert "encoder: saved" in printed and "lstm: saved 3 parameters" in printed
    encoder, lstm = models()
    for model, name in ((encoder, "encoder"), (lstm, "lstm")):
        saved = mx.load(str(tmp_path / f"{name}.safetensors"))
        assert {k: tuple(v.shape) for k, v in saved.items()} == shapes(model.parameters())
        model.load_weights(str(tmp_path / f"{name}.safetensors"))
    inputs = mx.load(str(tmp_path / "inputs.safetensors"))
    assert_same_outputs(mx.load(str(tmp_path / "outputs.safetensors")), python_outputs(encoder, lstm, inputs))


def test_python_weights_load_into_cpp_classes(tmp_path):
    mx.random.seed(11)
    encoder, lstm = models()
    encoder.save_weights(str(tmp_path / "encoder.safetensors"))
    lstm.save_weights(str(tmp_path / "lstm.safetensors"))
    inputs = {"encoder_input": mx.random.normal((2, 4, 8)), "lstm_input": mx.random.normal((2, 5, 3))}
    mx.save_safetensors(str(tmp_path / "inputs.safetensors"), inputs)
    printed = run_program(tmp_path)
    assert "encoder: loaded" in printed and "lstm: loaded 3 parameters" in printed
    assert_same_outputs(mx.load(str(tmp_path / "outputs.safetensors")), python_outputs(encoder, lstm, inputs))


def python_models_to_list():
    """The models of `shared_weights --parameters`, built from the Python classes."""
    quantized = nn.Sequential(nn.Embedding(16, 64), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))
    nn.quantize(quantized, 64, 8)
    qq_eval = nn.QQLinear(64, 8, mode="mxfp8")
    qq_eval.eval()
    return {
        "RoPE": nn.RoPE(4),
        "SinusoidalPositionalEncoding": nn.SinusoidalPositionalEncoding(8),
        "ALiBi": nn.ALiBi(),
        "MultiHeadAttention": nn.MultiHeadAttention(8, 2),
        "MultiHeadAttention_sizes": nn.MultiHeadAttention(8, 2, 3, 5, None, 6, 7, True),
        "TransformerEncoderLayer": nn.TransformerEncoderLayer(8, 2),
        "TransformerDecoderLayer": nn.TransformerDecoderLayer(8, 2, 16),
        "TransformerEncoder": nn.TransformerEncoder(2, 8, 2, 16),
        "TransformerDecoder": nn.TransformerDecoder(1, 8, 2),
        "Transformer": nn.Transformer(8, 2, 1, 2, 16),
        "RNN": nn.RNN(3, 4),
        "RNN_nobias": nn.RNN(3, 4, bias=False),
        "GRU": nn.GRU(3, 4),
        "GRU_nobias": nn.GRU(3, 4, bias=False),
        "LSTM": nn.LSTM(3, 4),
        "LSTM_nobias": nn.LSTM(3, 4, bias=False),
        "Upsample": nn.Upsample(2.0),
        "QuantizedLinear": nn.QuantizedLinear(64, 8),
        "QuantizedLinear_8bit": nn.QuantizedLinear(64, 8, False, 32, 8),
        "QuantizedEmbedding": nn.QuantizedEmbedding(10, 64),
        "QuantizedEmbedding_mxfp4": nn.QuantizedEmbedding(10, 64, 32, 4, "mxfp4"),
        "quantize": quantized,
        "QQLinear": nn.QQLinear(64, 8),
        "QQLinear_eval": qq_eval,
    }


def test_cpp_classes_have_the_python_parameter_names_shapes_and_freezing():
    assert PROGRAM.exists(), f"{PROGRAM} is missing: build the examples (make build)"
    result = subprocess.run([str(PROGRAM), "--parameters"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    cpp = {}
    for line in result.stdout.splitlines():
        label, name, shape, trainable = line.split(" ")
        cpp.setdefault(label, set())
        if name != "-":
            cpp[label].add((name, shape, trainable == "1"))
    python = {}
    for label, model in python_models_to_list().items():
        trainable = {name for name, _ in tree_flatten(model.trainable_parameters())}
        python[label] = {(name, "x".join(map(str, value.shape)), name in trainable)
                         for name, value in tree_flatten(model.parameters())}
    assert sorted(cpp) == sorted(python)
    for label in python:
        assert cpp[label] == python[label], label


def test_cpp_program_rejects_weights_of_another_shape(tmp_path):
    nn.LSTM(3, 6).save_weights(str(tmp_path / "lstm.safetensors"))
    result = subprocess.run([str(PROGRAM), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "expected shape (20, 5) but received shape (24, 6) for parameter Wh" in result.stderr
