"""The CIFAR-10 loader (amzc/tasks/cifar10.py), on tiny files written in the dataset's exact
python-batch format: a pickled dict with b"batch_label", b"labels", b"data" (N×3072 uint8) and
b"filenames"."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from amzc.cli import app
from amzc.errors import AmzConfigError
from amzc.tasks import TaskSpec, build_tasks, cifar10, task_spec

PER_BATCH = 40  # 4 images of each class per batch


def batch(index: int, n: int = PER_BATCH) -> dict[bytes, object]:
    rng = np.random.default_rng(index)
    labels = [i % 10 for i in range(n)]
    # class c images are brighter by 10·c, so the classes separate after projection
    data = (rng.integers(0, 100, (n, 3072)) + 10 * np.array(labels)[:, None]).astype(np.uint8)
    return {b"batch_label": f"training batch {index} of 5".encode(), b"labels": labels,
            b"data": data, b"filenames": [f"img_{index}_{i}.png".encode() for i in range(n)]}


def write(path: Path, content: object, protocol: int = 2) -> None:
    with path.open("wb") as f:
        pickle.dump(content, f, protocol=protocol)


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    for i in range(1, 6):
        write(tmp_path / f"data_batch_{i}", batch(i))
    test = batch(6, 20)
    test[b"batch_label"] = b"testing batch 1 of 1"
    write(tmp_path / "test_batch", test)
    return tmp_path


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_read_batch_returns_the_pixels_and_labels(tmp_path, protocol):
    content = batch(1)
    write(tmp_path / "data_batch_1", content, protocol)
    pixels, labels = cifar10.read_batch(tmp_path / "data_batch_1")
    assert pixels.dtype == np.uint8 and pixels.shape == (PER_BATCH, 3072)
    assert np.array_equal(pixels, content[b"data"])
    assert labels.tolist() == content[b"labels"]


def test_batches_pickled_by_numpy_1_load(tmp_path):
    # The published files predate NumPy 2, whose arrays pickle as numpy._core.multiarray.
    data = pickle.dumps(batch(1), protocol=2)
    assert data.count(b"numpy._core.multiarray") == 1
    (tmp_path / "old").write_bytes(data.replace(b"numpy._core.multiarray",
                                                b"numpy.core.multiarray"))
    pixels, _ = cifar10.read_batch(tmp_path / "old")
    assert np.array_equal(pixels, batch(1)[b"data"])


def test_load_concatenates_the_five_training_batches_in_order(cifar_dir):
    train = cifar10.load(cifar_dir)
    assert train.pixels.shape == (5 * PER_BATCH, 3072)
    assert np.array_equal(train.pixels[PER_BATCH:2 * PER_BATCH], batch(2)[b"data"])
    assert train.count(3) == 20
    test = cifar10.load(cifar_dir, "test")
    assert test.pixels.shape == (20, 3072)
    with pytest.raises(AmzConfigError, match="unknown CIFAR-10 split"):
        cifar10.load(cifar_dir, "valid")


def test_the_archive_subfolder_is_found(cifar_dir, tmp_path_factory):
    parent = tmp_path_factory.mktemp("parent")
    (parent / cifar10.SUBFOLDER).symlink_to(cifar_dir, target_is_directory=True)
    assert cifar10.load(parent).pixels.shape == (5 * PER_BATCH, 3072)


def test_a_rewritten_file_is_read_again(cifar_dir):
    before = cifar10.load(cifar_dir).pixels[0].copy()
    changed = batch(1)
    changed[b"data"] = np.full((PER_BATCH, 3072), 7, np.uint8)
    write(cifar_dir / "data_batch_1", changed)
    os.utime(cifar_dir / "data_batch_1", ns=(1, 10**18))
    after = cifar10.load(cifar_dir).pixels[0]
    assert not np.array_equal(before, after) and (after == 7).all()


def test_cifar10_tasks_are_projected_binary_tasks(cifar_dir):
    spec = TaskSpec(kind="cifar10", data_dir=str(cifar_dir), features=8, num_train=30,
                    num_valid=10, num_tasks=3)
    tasks = build_tasks(spec)
    assert tasks.name == "cifar10" and tasks.eval_type == "accuracy"
    assert tasks.train_x.shape == (3, 30, 8) and tasks.valid_x.shape == (3, 10, 8)
    assert tasks.train_y.sum(axis=1).tolist() == [15, 15, 15]
    np.testing.assert_allclose(tasks.train_x.mean(axis=1), 0, atol=1e-12)
    assert np.array_equal(build_tasks(spec).train_x, tasks.train_x)


def test_too_few_images_for_the_sizes(cifar_dir):
    with pytest.raises(AmzConfigError, match="has 40 images, fewer than the 8000 train"):
        build_tasks(task_spec("cifar10", data_dir=str(cifar_dir)))


def _damage(cifar_dir: Path, name: str, content: object) -> Path:
    path = cifar_dir / name
    write(path, content)
    return path


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("content, message", [
    (["not", "a", "dict"], "holds a list, expected a dict"),
    ({b"data": np.zeros((2, 3072), np.uint8)}, r"no b'labels' entry \(found b'data'\)"),
    ({b"labels": [1, 2]}, "no b'data' entry"),
    ({b"data": np.zeros((2, 100), np.uint8), b"labels": [1, 2]}, r"shape \(N, 3072\)"),
    ({b"data": np.zeros((2, 3072)), b"labels": [1, 2]}, "found a float64 array"),
    ({b"data": [[0] * 3072], b"labels": [1]}, "found a list"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, "2 images but b'labels'"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}, "label 10 at position 1"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": ["cat"]}, "list of integers"),
    (Evil(), "refusing to load"),
])
def test_malformed_batches_name_the_file_and_the_problem(cifar_dir, content, message):
    path = _damage(cifar_dir, "data_batch_3", content)
    with pytest.raises(AmzConfigError, match=message) as info:
        cifar10.load(cifar_dir)
    assert str(path) in str(info.value)


def test_a_file_that_is_not_a_pickle(cifar_dir):
    (cifar_dir / "data_batch_2").write_bytes(b"\x00 not a pickle at all")
    with pytest.raises(AmzConfigError, match="data_batch_2: not a CIFAR-10 python batch"):
        cifar10.load(cifar_dir)


def test_missing_files_and_folders(cifar_dir, tmp_path_factory):
    (cifar_dir / "data_batch_4").unlink()
    with pytest.raises(AmzConfigError, match="data_batch_4: missing CIFAR-10 batch file"):
        cifar10.load(cifar_dir)
    with pytest.raises(AmzConfigError, match="no such folder"):
        cifar10.load(cifar_dir / "nowhere")
    with pytest.raises(AmzConfigError, match="needs --data-dir"):
        build_tasks(TaskSpec(kind="cifar10"))
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(AmzConfigError, match="data_batch_1: missing"):
        cifar10.load(empty)


def test_cli_runs_cifar10_from_a_folder(cifar_dir):
    program = Path(__file__).resolve().parent.parent / "examples" / "logistic_regression.amz"
    runner = CliRunner()
    args = ["run", str(program), "--task", "cifar10", "--data-dir", str(cifar_dir),
            "--train", "30", "--valid", "10", "--tasks", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 cifar10 tasks, F=16, 30 train / 10 valid" in result.output
    result = runner.invoke(app, args[:4] + ["--train", "30"])
    assert result.exit_code == 2 and "needs --data-dir" in result.output
