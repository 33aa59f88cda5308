"""The recorder example in README.md runs and its TE matrix matches the one-pair estimator."""

import re
from pathlib import Path

import numpy as np
import torch

from infoplane import estimators as est

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "## Attach the recorder to your own model"
MAX_LINES = 14


def example_code() -> str:
    text = README.read_text(encoding="utf-8")
    assert HEADING in text
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


def test_example_is_short():
    assert len(example_code().strip().splitlines()) <= MAX_LINES


def test_example_runs_and_records_stream():
    torch.manual_seed(0)
    namespace = {}
    exec(compile(example_code(), str(README), "exec"), namespace)
    x, y, stream, te = (namespace[name] for name in ("x", "y", "stream", "te"))

    assert stream.layers == ["x", "1", "output"]
    assert stream.n_steps == len(x) == 2048
    assert te.shape == (12, 8)
    assert np.all(te >= 0)

    # One epoch in a random order: the recorded inputs and labels are the data set, permuted.
    recorded_rows = sorted(map(tuple, stream.bits["x"].tolist()))
    assert recorded_rows == sorted(map(tuple, x.numpy().astype(np.uint8).tolist()))
    np.testing.assert_array_equal(np.bincount(stream.labels, minlength=2), np.bincount(y.numpy(), minlength=2))

    for i in (0, 5, 11):
        for j in (0, 7):
            expected = est.transfer_entropy(stream.bits["x"][:, i], stream.bits["1"][:, j])
            assert abs(te[i, j] - expected) < 1e-9
