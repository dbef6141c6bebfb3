"""User datasets (amzc/tasks/userdata.py): NPZ and CSV loading, validation errors, eval type
inference, splits, and ``amzc run --task data:PATH``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from amzc.cli import app
from amzc.errors import AmzConfigError
from amzc.tasks import build_tasks, task_spec, userdata

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def csv_file(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def npz_file(tmp_path: Path, name: str = "d.npz", **arrays) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def rows(n: int, f: int = 2, binary: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """x[:, 0] is the row number, so tests can tell which rows went where."""
    x = np.column_stack([np.arange(n, dtype=float), np.ones((n, f - 1))])
    y = (np.arange(n) % 2).astype(float) if binary else np.arange(n) * 0.5
    return x, y


# Loading -----------------------------------------------------------------------------------


def test_npz_with_and_without_a_validation_set(tmp_path):
    x, y = rows(10, 3)
    data = userdata.load(npz_file(tmp_path, x=x, y=y))
    assert data.x.shape == (10, 3) and data.x_valid is None and data.features == 3
    data = userdata.load(npz_file(tmp_path, x=x, y=y[:, None], x_valid=x[:4], y_valid=y[:4]))
    assert data.y.shape == (10,) and data.x_valid.shape == (4, 3)
    ints = userdata.load(npz_file(tmp_path, x=x.astype(int), y=y > 2))
    assert ints.x.dtype == np.float64 and set(ints.y) == {0.0, 1.0}


def test_npz_with_scikit_learns_capital_x(tmp_path):
    x, y = rows(10, 3)
    data = userdata.load(npz_file(tmp_path, X=x, y=y, X_valid=x[:4], y_valid=y[:4]))
    assert np.array_equal(data.x, x) and np.array_equal(data.x_valid, x[:4])


def test_corrupt_npz_files_are_reported(tmp_path):
    whole = npz_file(tmp_path, x=np.ones((50, 3)), y=np.zeros(50)).read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(whole[:len(whole) // 2])
    flipped = tmp_path / "flipped.npz"
    flipped.write_bytes(whole[:100] + bytes(b ^ 0xFF for b in whole[100:120]) + whole[120:])
    for path, message in ((truncated, "not a .npz file"), (flipped, "not a readable .npz")):
        with pytest.raises(AmzConfigError, match=message):
            userdata.load(path)


def test_csv_with_a_byte_order_mark_reads_its_first_column_name(tmp_path):
    text = "label,a\n1,2\n3,4\n"
    plain = userdata.load(csv_file(tmp_path, text))
    marked = tmp_path / "bom.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode())
    data = userdata.load(marked)
    assert data.y.tolist() == [1, 3] == plain.y.tolist() and data.x.tolist() == [[2], [4]]


@pytest.mark.parametrize("header, label_index", [
    ("a,b,label", 2), ("label,a,b", 0), ("a,y,b", 1), ("a,b,target", 2), ("Y,a,label", 2),
])
def test_csv_label_column_is_label_then_y_then_the_last(tmp_path, header, label_index):
    table = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    body = "\n".join(",".join(f"{v:g}" for v in r) for r in table)
    data = userdata.load(csv_file(tmp_path, f"{header}\n{body}\n"))
    assert np.array_equal(data.y, table[:, label_index])
    assert np.array_equal(data.x, np.delete(table, label_index, axis=1))


def test_csv_split_column_blank_lines_and_spaces(tmp_path):
    text = "x1, x2 ,split,label\n1,2,train,0\n\n3, 4,valid,1\n5,6,Train,1\n7,8,valid ,0\n"
    data = userdata.load(csv_file(tmp_path, text))
    assert data.x.tolist() == [[1, 2], [5, 6]] and data.y.tolist() == [0, 1]
    assert data.x_valid.tolist() == [[3, 4], [7, 8]] and data.y_valid.tolist() == [1, 0]


# Errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("arrays, message", [
    ({"x": [[1.0, np.nan], [1, 2]], "y": [0, 1]}, r"x has a non-finite value \(nan\) at \[0, 1\]"),
    ({"x": [[1.0, 2], [1, 2]], "y": [0, np.inf]}, r"y has a non-finite value \(inf\) at \[1\]"),
    ({"x": [1.0, 2.0], "y": [0, 1]}, r"x must be 2-D .* shape \(2,\)"),
    ({"x": [[1.0], [2]], "y": [[0, 1], [1, 0]]}, r"y must be 1-D .* shape \(2, 2\)"),
    ({"x": [[1.0], [2], [3]], "y": [0, 1]}, "x has 3 rows but y has 2 labels"),
    ({"x": [["a"], ["b"]], "y": [0, 1]}, "x must hold numbers"),
    ({"x": np.zeros((0, 2)), "y": np.zeros(0)}, "x is empty"),
    ({"X": [[1.0]], "Y": [1.0]}, r"no array 'y' \(found X, Y\)"),
    ({"X": [[1.0]], "x": [[1.0]], "y": [1.0]}, "holds both x and X; keep one"),
    ({"x": [[1.0]], "y": [1.0], "x_valid": [[1.0]]}, "both x_valid and y_valid"),
    ({"x": [[1.0, 2]], "y": [1.0], "x_valid": [[1.0]], "y_valid": [0.0]},
     "x has 2 features but x_valid has 1"),
    ({"x": [[1.0]], "y": [1.0], "x_valid": [[1.0], [2]], "y_valid": [0.0]},
     "x_valid has 2 rows but y_valid has 1"),
])
def test_bad_npz_files_are_reported(tmp_path, arrays, message):
    path = npz_file(tmp_path, **{k: np.asarray(v) for k, v in arrays.items()})
    with pytest.raises(AmzConfigError, match=message) as info:
        userdata.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("", "empty CSV file"),
    ("a,label\n", "no data rows"),
    ("1,2\n3,4\n", "line 1 must be a header"),
    ("label\n1\n", "at least two columns"),
    ("a,label\n1,2\n3\n", r":3: 1 values, but the header has 2 columns"),
    ("a,label\n1,2\nx,0\n", r":3: 'x' in column 'a' is not a number"),
    ("a,label\n1,\n", r":2: empty value in column 'label'"),
    ("a,label\nnan,1\n", r":2: nan in column 'a'; remove or fill"),
    ("a,label,split\n1,0,test\n", "split must be 'train' or 'valid', not 'test'"),
    ("a,label,split\n1,0,valid\n", "every row's split is 'valid'"),
    ("a,split\n1,train\n", "the last column is 'split'"),
    ("label,split\n1,train\n", "no feature columns"),
    ('a,label\n1,2\n3,"4\n', r":3: not valid CSV \(unexpected end of data\)"),
])
def test_bad_csv_files_are_reported(tmp_path, text, message):
    path = csv_file(tmp_path, text)
    with pytest.raises(AmzConfigError, match=message) as info:
        userdata.load(path)
    assert str(path) in str(info.value)


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(AmzConfigError, match="no such data file"):
        userdata.load(tmp_path / "missing.csv")
    with pytest.raises(AmzConfigError, match="unknown data format '.txt'"):
        userdata.load(csv_file(tmp_path, "a,b\n1,2\n", "d.txt"))
    with pytest.raises(AmzConfigError, match="not a .npz file"):
        userdata.load(csv_file(tmp_path, "garbage", "d.npz"))
    with pytest.raises(AmzConfigError, match="not a readable CSV file"):
        (tmp_path / "bin.csv").write_bytes(b"a,b\n\xff\xfe,1\n")
        userdata.load(tmp_path / "bin.csv")


# Eval type and splits ----------------------------------------------------------------------


def test_eval_type_is_inferred_from_the_labels_or_checked(tmp_path):
    x, y = rows(20, binary=True)
    binary = userdata.load(npz_file(tmp_path, "b.npz", x=x, y=y))
    real = userdata.load(npz_file(tmp_path, "r.npz", x=x, y=y + 0.5))
    assert userdata.eval_type(binary, None) == "accuracy"
    assert userdata.eval_type(real, None) == "rms"
    assert userdata.eval_type(binary, "rms") == "rms"
    with pytest.raises(AmzConfigError, match="needs labels 0 and 1, found 0.5, 1.5"):
        userdata.eval_type(real, "accuracy")
    with pytest.raises(AmzConfigError, match="unknown eval type 'mse'"):
        userdata.eval_type(real, "mse")  # type: ignore[arg-type]


def test_default_split_holds_out_a_fifth_stratified_and_disjoint(tmp_path):
    x, y = rows(50, binary=True)
    tasks = build_tasks(task_spec(f"data:{npz_file(tmp_path, x=x, y=y)}"))
    assert tasks.eval_type == "accuracy" and tasks.name == "data:d.npz"
    assert tasks.num_tasks == 1 and tasks.features == 2
    assert tasks.num_train == 40 and tasks.num_valid == 10
    train_rows, valid_rows = tasks.train_x[0, :, 0], tasks.valid_x[0, :, 0]
    assert sorted(np.concatenate([train_rows, valid_rows])) == list(range(50))
    assert np.array_equal(tasks.train_y[0], y[train_rows.astype(int)])
    assert tasks.train_y.sum() == 20 and tasks.valid_y.sum() == 5
    assert not np.array_equal(train_rows, np.sort(train_rows))  # shuffled


def test_resampled_splits_differ_per_task_and_repeat_per_seed(tmp_path):
    x, y = rows(30)
    spec = task_spec(f"data:{npz_file(tmp_path, x=x, y=y)}", num_tasks=3, valid_fraction=0.3,
                     epochs=2)
    tasks = build_tasks(spec)
    assert tasks.eval_type == "rms" and tasks.valid_x.shape == (3, 9, 2)
    assert tasks.train_order.shape == (3, 2, 21)
    valid_sets = [frozenset(tasks.valid_x[k, :, 0]) for k in range(3)]
    assert len(set(valid_sets)) == 3
    assert np.array_equal(build_tasks(spec).valid_x, tasks.valid_x)
    assert not np.array_equal(build_tasks(spec.reseeded(5)).valid_x, tasks.valid_x)


def test_an_explicit_validation_set_is_used_as_given(tmp_path):
    x, y = rows(12)
    path = npz_file(tmp_path, x=x, y=y, x_valid=x[:3] + 100, y_valid=y[:3])
    tasks = build_tasks(task_spec(f"data:{path}"))
    assert np.array_equal(tasks.valid_x[0], x[:3] + 100)
    assert sorted(tasks.train_x[0, :, 0]) == list(range(12))
    capped = build_tasks(task_spec(f"data:{path}", num_train=5, num_valid=2))
    assert capped.num_train == 5 and capped.num_valid == 2
    with pytest.raises(AmzConfigError, match="fixed validation set, so it makes one task"):
        build_tasks(task_spec(f"data:{path}", num_tasks=2))


@pytest.mark.parametrize("overrides, message", [
    ({"features": 3}, "the data has 2 features but 3 were requested"),
    ({"num_train": 500}, "500 train examples requested but the data has 8"),
    ({"num_valid": 3}, "3 valid examples requested but the data has 2"),
    ({"valid_fraction": 1.0}, r"valid fraction must lie in \(0, 1\)"),
    ({"eval_type": "accuracy"}, "needs labels 0 and 1"),
])
def test_bad_requests_against_the_data(tmp_path, overrides, message):
    x, y = rows(10)
    with pytest.raises(AmzConfigError, match=message):
        build_tasks(task_spec(f"data:{npz_file(tmp_path, x=x, y=y)}", **overrides))


def test_too_few_rows_to_split(tmp_path):
    path = csv_file(tmp_path, "a,label\n1,2\n")
    with pytest.raises(AmzConfigError, match="1 rows are too few"):
        build_tasks(task_spec(f"data:{path}"))


def test_task_names(tmp_path):
    with pytest.raises(AmzConfigError, match="data:PATH"):
        task_spec("data")
    with pytest.raises(AmzConfigError, match="only data:PATH takes a file"):
        task_spec("linear:foo.csv")


# The command line --------------------------------------------------------------------------


def test_cli_learns_a_csv_classification_task(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = (x @ [1.0, -2.0, 0.5] > 0).astype(int)
    lines = ["f1,f2,f3,label"] + [f"{a},{b},{c},{t}" for (a, b, c), t in zip(x, y, strict=True)]
    path = csv_file(tmp_path, "\n".join(lines))
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(EXAMPLES / "logistic_regression.amz"), "--task",
                                 f"data:{path}", "--json"])
    assert result.exit_code == 0, result.output
    assert '"features": 3' in result.output and '"train": 160' in result.output
    assert float(result.output.split('"fitness": ')[1].split(",")[0]) > 0.9


def test_cli_reports_bad_data_without_a_traceback(tmp_path):
    path = csv_file(tmp_path, "a,label\n1,0\nnan,1\n")
    result = CliRunner().invoke(app, ["run", str(EXAMPLES / "linear_regression.amz"), "--task",
                                      f"data:{path}"])
    assert result.exit_code == 2
    assert f"{path}:3: nan in column 'a'" in result.output
    assert "Traceback" not in result.output
