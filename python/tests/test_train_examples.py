"""The training examples in examples/python/train: their file readers (on files written
here), and that each model trains, saves, reloads and generates."""
import gzip
import importlib.util
import io
import pathlib
import subprocess
import sys
import types

import numpy as np
import pytest

import lazuli.core as mx

TRAIN_DIR = pathlib.Path(__file__).parents[2] / "examples" / "python" / "train"
sys.path.insert(0, str(TRAIN_DIR))
import cifar_cnn  # noqa: E402
import mnist_mlp  # noqa: E402
import training  # noqa: E402
import transformer_lm as lm  # noqa: E402

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array):
    """An IDX file's bytes, composed independently of the reader under test."""
    header = bytes([0, 0, IDX_CODES[array.dtype.type], array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, compress=False):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# --- IDX reader ---------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_idx_reads_images_and_labels(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 5, dtype=np.uint8)
    got_images = mnist_mlp.read_idx(write_idx(tmp_path / "images", images, compress))
    got_labels = mnist_mlp.read_idx(write_idx(tmp_path / "labels", labels, compress))
    assert got_images.dtype == np.uint8 and got_images.shape == (5, 7, 3)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_multibyte_types_are_big_endian(tmp_path, dtype):
    values = np.array([[-3, 2], [100, -120]], dtype=dtype)
    got = mnist_mlp.read_idx(write_idx(tmp_path / "x", values))
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, values)


def test_idx_empty_dimension(tmp_path):
    got = mnist_mlp.read_idx(write_idx(tmp_path / "x", np.zeros((0, 28, 28), np.uint8)))
    assert got.shape == (0, 28, 28)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("content, message", [
    (b"", "not an IDX file"),
    (b"\x01\x02\x08\x01" + GOOD[4:], "not an IDX file .*0102"),
    (b"\x00\x00\x07\x03" + GOOD[4:], "unknown IDX element type 0x07"),
    (GOOD[:10], "truncated header"),
    (GOOD[:-1], "truncated: shape \\(2, 3, 4\\) of uint8 needs 40 bytes, file has 39"),
    (GOOD + b"\x00", "has trailing bytes: .* file has 41"),
    (gzip.compress(GOOD)[:-6], "damaged gzip"),
], ids=["empty", "magic", "type", "header", "truncated", "trailing", "gzip"])
def test_idx_bad_files_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad-idx3-ubyte: " + message):
        mnist_mlp.read_idx(path)


def test_mnist_missing_files_exit_with_where_to_put_them(tmp_path):
    run = subprocess.run([sys.executable, str(TRAIN_DIR / "mnist_mlp.py"), "--data", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert f"MNIST files missing in {tmp_path}" in run.stderr
    assert "train-images-idx3-ubyte" in run.stderr and "--data" in run.stderr


def test_mnist_images_and_labels_must_pair_up(tmp_path):
    write_synthetic_mnist(tmp_path, train=20, test=10)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(9, np.uint8))
    with pytest.raises(ValueError, match="test images \\(10, 8, 8\\) and labels \\(9,\\) do not pair up"):
        mnist_mlp.load_mnist(tmp_path)


def synthetic_digits(n, rng):
    """8x8 images whose class (0-9) is where a bright 2x2 patch sits, over dim noise."""
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 8, 8)).astype(np.uint8)
    for image, label in zip(images, labels):
        row, col = divmod(int(label), 4)
        image[2 * row:2 * row + 2, 2 * col:2 * col + 2] = 255
    return images, labels


def write_synthetic_mnist(folder, train, test, seed=0):
    rng = np.random.default_rng(seed)
    for part, n, compress in (("train", train, True), ("t10k", test, False)):
        images, labels = synthetic_digits(n, rng)
        write_idx(folder / f"{part}-images-idx3-ubyte{'.gz' if compress else ''}", images, compress)
        write_idx(folder / f"{part}-labels-idx1-ubyte{'.gz' if compress else ''}", labels, compress)


def test_mlp_trains_to_target_loss_on_idx_files(tmp_path, capsys):
    write_synthetic_mnist(tmp_path, train=600, test=200)
    (train_x, train_y), (test_x, test_y) = mnist_mlp.load_mnist(tmp_path)
    assert train_x.shape == (600, 64) and train_x.dtype == np.float32 and train_x.max() == 1.0
    mx.random.seed(0)
    model = mnist_mlp.MLP(64, 32, 1, mnist_mlp.NUM_CLASSES)
    optimizer = mnist_mlp.optim.Adam(learning_rate=1e-2)
    final_loss = training.train_classifier(model, optimizer, (train_x, train_y), epochs=8, batch_size=50)
    assert final_loss < 0.05
    assert training.accuracy(model, test_x, test_y) >= 0.98
    assert "epoch 8: loss" in capsys.readouterr().out


def test_mlp_main_end_to_end(tmp_path, capsys):
    write_synthetic_mnist(tmp_path, train=300, test=100)
    mnist_mlp.main(["--data", str(tmp_path), "--epochs", "4", "--hidden", "32", "--lr", "1e-2"])
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy:")[1])
    assert accuracy >= 0.95, out


# --- CIFAR-10 reader ----------------------------------------------------------------------

def cifar_records(labels, planes):
    """CIFAR-10 binary records: a label byte, then the 3 x 32 x 32 planes."""
    return b"".join(bytes([l]) + p.tobytes() for l, p in zip(labels, planes))


def test_cifar_reader_returns_channels_last(tmp_path):
    rng = np.random.default_rng(1)
    planes = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    labels = [3, 0, 9, 5]
    (tmp_path / "b.bin").write_bytes(cifar_records(labels, planes))
    images, got_labels = cifar_cnn.read_cifar10(tmp_path / "b.bin")
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(got_labels, labels)
    # pixel (row 5, col 7) of image 2 is (red, green, blue) from the three planes
    np.testing.assert_array_equal(images[2, 5, 7], planes[2, :, 5, 7])
    np.testing.assert_array_equal(images, planes.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("content, message", [
    (b"", "0 bytes is not a whole number of 3073-byte CIFAR-10 records"),
    (bytes(3073 + 100), "3173 bytes is not a whole number"),
    (bytes(3073) + bytes([10]) + bytes(3072), "record 1 has label 10, expected 0..9"),
], ids=["empty", "partial", "label"])
def test_cifar_bad_files_raise_clear_errors(tmp_path, content, message):
    (tmp_path / "bad.bin").write_bytes(content)
    with pytest.raises(ValueError, match="bad.bin: " + message):
        cifar_cnn.read_cifar10(tmp_path / "bad.bin")


def write_color_cifar(folder, per_file, seed=0):
    """Batch files whose class is the image's dominant colour: 0 red, 1 green, 2 blue."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in cifar_cnn.TRAIN_FILES + cifar_cnn.TEST_FILES:
        labels = rng.integers(0, 3, per_file)
        planes = rng.integers(0, 80, (per_file, 3, 32, 32), dtype=np.uint8)
        planes[np.arange(per_file), labels] += 150
        (folder / name).write_bytes(cifar_records(labels, planes))


def test_cifar_cnn_learns_from_binary_files(tmp_path, capsys):
    write_color_cifar(tmp_path / "cifar-10-batches-bin", per_file=32)
    cifar_cnn.main(["--data", str(tmp_path), "--epochs", "4", "--width", "4", "--batch-size", "16",
                    "--lr", "1e-2"])
    out = capsys.readouterr().out
    assert float(out.split("test accuracy:")[1]) >= 0.9, out


def test_cifar_missing_files_exit(tmp_path):
    with pytest.raises(SystemExit, match="CIFAR-10 files missing .*data_batch_1.bin"):
        cifar_cnn.load_cifar10(tmp_path)


# --- transformer language model ----------------------------------------------------------

TEXT = "the cat sat on the mat. the dog ate the log. " * 40


def tiny_lm(vocab, context=24):
    mx.random.seed(0)
    return lm.TransformerLM(len(vocab), context=context, dims=32, num_heads=2, num_layers=2)


def test_lm_trains_saves_reloads_and_generates(tmp_path):
    vocab = lm.CharVocab(TEXT)
    data = vocab.encode(TEXT)
    model = tiny_lm(vocab)
    losses, tokens_per_s = lm.train(model, data, seconds=60, batch_size=16, lr=1e-2, max_steps=80,
                                    progress=False)
    assert len(losses) == 80 and tokens_per_s > 0
    assert losses[0] > 2.5  # about log(vocab size) at the start
    assert np.mean(losses[-10:]) < 0.5 < np.mean(losses[:10])

    model.save_weights(str(tmp_path / "lm.safetensors"))
    reloaded = tiny_lm(vocab)
    reloaded.load_weights(str(tmp_path / "lm.safetensors"))
    probe, _ = lm.windows(data, [0, 7, 100], model.context)
    assert mx.array_equal(model(probe), reloaded(probe)).item()

    sample = lm.generate(reloaded, vocab.encode("the cat "), 30, temperature=0.8)
    assert len(sample) == 30 and all(0 <= i < len(vocab) for i in sample)
    greedy = vocab.decode(lm.generate(reloaded, vocab.encode("the cat "), 15, temperature=0))
    assert greedy == "sat on the mat."


def test_lm_is_causal():
    vocab = lm.CharVocab(TEXT)
    model = tiny_lm(vocab, context=12)
    ids = vocab.encode("the dog ate ")
    changed = ids.copy()
    changed[-1] = vocab.ids["x" if "x" in vocab.ids else "g"]
    a, b = model(mx.array(ids[None])), model(mx.array(changed[None]))
    assert mx.allclose(a[:, :-1], b[:, :-1]).item()  # earlier positions cannot see the change
    assert not mx.allclose(a[:, -1], b[:, -1]).item()


def test_lm_bad_input_raises():
    vocab = lm.CharVocab(TEXT)
    with pytest.raises(ValueError, match="characters not in the vocabulary: 'QZ'"):
        vocab.encode("the Zed Q")
    with pytest.raises(ValueError, match="sequence of 25 tokens is longer than the context \\(24\\)"):
        tiny_lm(vocab)(mx.zeros((1, 25), dtype=mx.uint32))
    with pytest.raises(ValueError, match="dims \\(30\\) must be a multiple of num_heads \\(4\\)"):
        lm.TransformerLM(10, context=8, dims=30, num_heads=4, num_layers=1)


def test_lm_logits_and_loss_match_mlx_with_the_same_weights(tmp_path):
    if importlib.util.find_spec("mlx") is None:
        pytest.skip("MLX is not installed here")
    import mlx.core
    # The example's own source, run by MLX: only its imports change.
    source = (TRAIN_DIR / "transformer_lm.py").read_text()
    mlx_lm = types.ModuleType("transformer_lm_on_mlx")
    mlx_lm.__file__ = str(TRAIN_DIR / "transformer_lm.py")
    exec(compile(source.replace("import lazuli.", "import mlx.").replace("from lazuli.", "from mlx."),
                 "transformer_lm_on_mlx", "exec"), mlx_lm.__dict__)
    vocab = lm.CharVocab(TEXT)
    ours = tiny_lm(vocab)
    ours.save_weights(str(tmp_path / "w.safetensors"))
    theirs = mlx_lm.TransformerLM(len(vocab), context=24, dims=32, num_heads=2, num_layers=2)
    theirs.load_weights(str(tmp_path / "w.safetensors"))
    rows = vocab.encode(TEXT)[np.arange(3)[:, None] * 50 + np.arange(25)]
    inputs, targets = rows[:, :-1], rows[:, 1:]
    np.testing.assert_allclose(np.array(ours(mx.array(inputs))),
                               np.array(theirs(mlx.core.array(inputs))), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(lm.loss_fn(ours, mx.array(inputs), mx.array(targets)).item(),
                               mlx_lm.loss_fn(theirs, mlx.core.array(inputs), mlx.core.array(targets)).item(),
                               rtol=1e-5)


def test_lm_main_end_to_end(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text(TEXT)
    weights = tmp_path / "lm.safetensors"
    lm.main(["--text", str(text), "--steps", "3", "--layers", "1", "--dims", "16", "--heads", "2",
             "--context", "16", "--batch-size", "4", "--weights", str(weights), "--prompt", "the ",
             "--generate", "25"])
    out = capsys.readouterr().out
    assert "trained 3 steps" in out and "logits identical" in out and weights.exists()
    sample = out.split("temperature 0.8 ---\n")[1]
    assert sample.startswith("the ") and len(sample) == len("the ") + 25 + 1  # TEXT has no newlines


def test_progress_bar_rewrites_one_line():
    out = io.StringIO()
    bar = training.ProgressBar(total=10, width=10, stream=out)
    bar.update(5, 3, {"loss": 1.23456, "tokens/s": 12345})
    bar.close()
    line = out.getvalue()
    assert line.startswith("\r[#####.....] step 3  loss 1.235  tokens/s 12,345  ")
    assert line.endswith("s \n")
