"""mnist, fashion_mnist, cifar10, cifar100 on tiny fake files in Keras's exact formats, served on 127.0.0.1."""
import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import tarfile

import numpy as np
import pytest

from fitgen import backend
from fitgen.datasets import cifar10
from fitgen.datasets import cifar100
from fitgen.datasets import fashion_mnist
from fitgen.datasets import mnist


def _npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _fake_mnist():
    rng = np.random.RandomState(0)
    return {
        "x_train": rng.randint(0, 256, (6, 28, 28)).astype("uint8"), "y_train": np.arange(6, dtype="uint8"),
        "x_test": rng.randint(0, 256, (2, 28, 28)).astype("uint8"), "y_test": np.array([9, 8], dtype="uint8"),
    }


def test_mnist_download_shapes_dtypes_and_cache(server, homes, monkeypatch):
    arrays = _fake_mnist()
    server.serve_dataset(mnist, "mnist.npz", _npz(**arrays), monkeypatch=monkeypatch)
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (6, 28, 28) and x_train.dtype == np.uint8
    assert y_train.dtype == np.uint8 and y_test.tolist() == [9, 8]
    np.testing.assert_array_equal(x_test, arrays["x_test"])
    assert (homes[0] / "datasets" / "mnist.npz").is_file()
    mnist.load_data()
    assert server.requests == ["/mnist.npz"]


def test_mnist_file_placed_by_hand_or_by_keras_is_used_without_network(homes, monkeypatch):
    data = _npz(**_fake_mnist())
    monkeypatch.setattr(mnist, "_FILE_HASH", hashlib.sha256(data).hexdigest())
    keras_datasets = homes[1] / "datasets"
    keras_datasets.mkdir(parents=True)
    (keras_datasets / "mnist.npz").write_bytes(data)  # as Keras left it; _ORIGIN still points at the internet
    assert mnist.load_data()[0][0].shape == (6, 28, 28)
    (keras_datasets / "mnist.npz").unlink()
    (homes[0] / "datasets").mkdir(parents=True, exist_ok=True)
    (homes[0] / "datasets" / "mnist.npz").write_bytes(data)
    assert mnist.load_data()[1][1].tolist() == [9, 8]


def test_mnist_offline_error_names_url_and_cache_path(homes, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(mnist, "_ORIGIN", f"http://127.0.0.1:{port}/mnist.npz")
    with pytest.raises(OSError) as info:
        mnist.load_data()
    assert f"http://127.0.0.1:{port}/mnist.npz" in str(info.value)
    assert str(homes[0] / "datasets" / "mnist.npz") in str(info.value)


def test_mnist_cache_dir(server, homes, tmp_path, monkeypatch):
    server.serve_dataset(mnist, "mnist.npz", _npz(**_fake_mnist()), monkeypatch=monkeypatch)
    mnist.load_data(path="m.npz", cache_dir=str(tmp_path / "elsewhere"))
    assert (tmp_path / "elsewhere" / "datasets" / "m.npz").is_file()


def _idx_gz(array, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return gzip.compress(header + array.tobytes())


def test_fashion_mnist_reads_idx_files(server, homes, monkeypatch):
    rng = np.random.RandomState(1)
    x_train, y_train = rng.randint(0, 256, (3, 28, 28)).astype("uint8"), np.array([1, 0, 9], "uint8")
    x_test, y_test = rng.randint(0, 256, (2, 28, 28)).astype("uint8"), np.array([5, 7], "uint8")
    payloads = {"train-labels-idx1-ubyte.gz": _idx_gz(y_train, 2049), "train-images-idx3-ubyte.gz": _idx_gz(x_train, 2051),
                "t10k-labels-idx1-ubyte.gz": _idx_gz(y_test, 2049), "t10k-images-idx3-ubyte.gz": _idx_gz(x_test, 2051)}
    for name, data in payloads.items():
        server.httpd.files["/fm/" + name] = data
    monkeypatch.setattr(fashion_mnist, "_ORIGIN_FOLDER", server.url + "/fm/")
    monkeypatch.setattr(fashion_mnist, "_FILE_HASHES", {n: hashlib.sha256(d).hexdigest() for n, d in payloads.items()})
    (xa, ya), (xb, yb) = fashion_mnist.load_data()
    np.testing.assert_array_equal(xa, x_train)
    np.testing.assert_array_equal(xb, x_test)
    assert ya.tolist() == [1, 0, 9] and yb.tolist() == [5, 7] and xa.dtype == np.uint8
    assert sorted(os.listdir(homes[0] / "datasets" / "fashion-mnist")) == sorted(payloads)


def _cifar_tar(dirname, batches):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in batches.items():
            # Python 2 pickles with bytes keys, as in the real archive.
            data = pickle.dumps({k.encode(): v for k, v in content.items()}, protocol=2)
            info = tarfile.TarInfo(f"{dirname}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _cifar_images(n, offset):
    return (np.arange(n * 3072).reshape(n, 3072) + offset).astype("uint8")


def test_cifar10_batches_layout_and_dtypes(server, homes, monkeypatch):
    batches = {f"data_batch_{i}": {"data": _cifar_images(2, i), "labels": [i, i + 1]} for i in range(1, 6)}
    batches["test_batch"] = {"data": _cifar_images(3, 100), "labels": [7, 8, 9]}
    server.serve_dataset(cifar10, "cifar-10-python.tar.gz", _cifar_tar("cifar-10-batches-py", batches), monkeypatch=monkeypatch)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8 and x_test.shape == (3, 32, 32, 3)
    assert y_train.shape == (10, 1) and y_train.dtype == np.uint8
    assert y_train[:, 0].tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6] and y_test[:, 0].tolist() == [7, 8, 9]
    # Pixel (row 0, col 1) of image 0: channel c sits at c*1024 + 1 of the flat CIFAR row.
    assert x_train[0, 0, 1].tolist() == [(1 + 1) % 256, (1 + 1025) % 256, (1 + 2049) % 256]
    assert (homes[0] / "datasets" / "cifar-10-batches-py" / "test_batch").is_file()


def test_cifar10_channels_first(server, homes, monkeypatch):
    batches = {f"data_batch_{i}": {"data": _cifar_images(1, i), "labels": [i]} for i in range(1, 6)}
    batches["test_batch"] = {"data": _cifar_images(1, 0), "labels": [0]}
    server.serve_dataset(cifar10, "cifar-10-python.tar.gz", _cifar_tar("cifar-10-batches-py", batches), monkeypatch=monkeypatch)
    # fitgen itself only runs channels_last; the loader still honours Keras's setting if a backend reports it.
    monkeypatch.setattr(backend, "image_data_format", lambda: "channels_first")
    (x_train, _), (x_test, _) = cifar10.load_data()
    assert x_train.shape == (5, 3, 32, 32) and x_test.shape == (1, 3, 32, 32)


@pytest.mark.parametrize("label_mode, expected", [("fine", [11, 42]), ("coarse", [1, 4])])
def test_cifar100_label_modes(server, homes, monkeypatch, label_mode, expected):
    batches = {"train": {"data": _cifar_images(2, 0), "fine_labels": [11, 42], "coarse_labels": [1, 4]},
               "test": {"data": _cifar_images(1, 5), "fine_labels": [99], "coarse_labels": [19]}}
    server.serve_dataset(cifar100, "cifar-100-python.tar.gz", _cifar_tar("cifar-100-python", batches), monkeypatch=monkeypatch)
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode=label_mode)
    assert x_train.shape == (2, 32, 32, 3) and x_test.shape == (1, 32, 32, 3)
    assert y_train.shape == (2, 1) and y_train[:, 0].tolist() == expected
    assert y_test.tolist() == [[99 if label_mode == "fine" else 19]]


def test_cifar100_rejects_unknown_label_mode():
    with pytest.raises(ValueError, match="label_mode='medium'"):
        cifar100.load_data(label_mode="medium")
