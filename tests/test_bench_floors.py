"""milestones/bench_floors.py's Winograd floor (issue 16): where TinyTorch's acceleration runs a
convolution by Winograd's F(4x4, 3x3), the floor runs the same algorithm, not im2col.

Three claims: the floor computes the convolution (against im2col's floor in float64, so any
slip shows, tiles hanging over the edge and uneven groups of images included); its forward
pass is TinyTorch's ``conv2d_winograd`` to the last bit (a network's ReLU masks depend on
it, see ``winograd_forward``); and the benchmark gives a layer the Winograd floor exactly
when TinyTorch runs Winograd's (``bench_cases.runs_winograd``). The last two import the
reference TinyTorch, in a fresh interpreter as the benchmark does. Speed is never asserted.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MILESTONES = ROOT / "milestones"
SUBPROCESS_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module")
def floors():
    """``bench_floors`` (plain NumPy: no tinytorch is imported)."""
    sys.path.insert(0, str(MILESTONES))
    try:
        return importlib.import_module("bench_floors")
    finally:
        sys.path.remove(str(MILESTONES))


def run_with_reference(code: str) -> None:
    """``code`` in a fresh interpreter that imports the reference TinyTorch and the milestones."""
    prelude = (f"import sys\nsys.path[:0] = [{str(ROOT / 'reference')!r}, {str(MILESTONES)!r}]\n"
               "import numpy as np\n")
    result = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=ROOT,
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_SECONDS, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("shape", "out_channels", "padding", "bias", "input_grad"), [
    ((5, 3, 9, 7), 4, 1, True, True),      # tiles hang over both edges; groups of 2, 2 and 1 images
    ((3, 2, 8, 8), 5, 0, False, True),     # no padding, whole tiles
    ((2, 4, 6, 11), 3, 2, True, False),    # padding 2, no input gradient
])
def test_winograd_floor_computes_the_convolution(floors, monkeypatch, shape, out_channels, padding, bias,
                                                 input_grad):
    rng = np.random.default_rng(0)
    monkeypatch.setattr(floors, "WINOGRAD_GROUP_BYTES", 2 * 36 * 6 * 3 * 8)   # the first shape's 2 images
    x = rng.standard_normal(shape)
    weight = rng.standard_normal((out_channels, shape[1], 3, 3))
    out_shape = (shape[0], out_channels, shape[2] + 2 * padding - 2, shape[3] + 2 * padding - 2)
    upstream = rng.standard_normal(out_shape)
    bias_value = rng.standard_normal(out_channels) if bias else None
    arrays = {}
    for winograd in (False, True):
        forward, backward = floors.conv_route(winograd)
        out, saved = forward(x, weight, bias_value, padding)
        grad_weight, grad_bias = np.empty_like(weight), np.empty(out_channels) if bias else None
        grad_x = backward(upstream, saved, weight, padding, grad_weight, grad_bias, input_grad)
        arrays[winograd] = {"output": out, "grad weight": grad_weight, "grad bias": grad_bias,
                            "grad input": grad_x}
    if shape[0] == 5:
        assert len(floors.winograd_groups(shape, padding, 8)) == 3
    for name, expected in arrays[False].items():
        if expected is None:
            assert arrays[True][name] is None, name
        else:
            np.testing.assert_allclose(arrays[True][name], expected, rtol=0,
                                       atol=1e-12 * np.abs(expected).max(), err_msg=name)


def test_winograd_floor_forward_is_tinytorchs_to_the_bit():
    run_with_reference("""
        import bench_floors as floors
        from tinytorch.core import Tensor
        from tinytorch.systems.winograd import (DEFAULT_TILE, conv2d_winograd, image_groups,
                                                winograd_transforms)

        assert DEFAULT_TILE == floors.WINOGRAD_TILE
        np.testing.assert_array_equal(winograd_transforms(DEFAULT_TILE, 3).G, floors.WINOGRAD_G)
        rng = np.random.default_rng(0)
        # The second: the floor's groups of images (22, 22, 20) are not TinyTorch's (32, 32).
        for shape, out_channels, padding, bias in [((3, 16, 9, 7), 8, 1, True),
                                                   ((64, 16, 16, 16), 16, 1, False),
                                                   ((2, 16, 7, 10), 4, 0, True)]:
            x = rng.standard_normal(shape).astype(np.float32)
            weight = (rng.standard_normal((out_channels, shape[1], 3, 3)) / 10).astype(np.float32)
            b = rng.standard_normal(out_channels).astype(np.float32) if bias else None
            ours = floors.winograd_forward(x, weight, b, padding)[0]
            theirs = conv2d_winograd(Tensor(x), Tensor(weight), None if b is None else Tensor(b), 1,
                                     padding).data
            assert ours.dtype == theirs.dtype == np.float32
            assert np.array_equal(ours, theirs), (shape, np.abs(ours - theirs).max())
        groups = (floors.winograd_groups((64, 16, 16, 16), 1, 4),
                  image_groups((64, 16, 16, 16), (16, 16, 3, 3), 1, 4, 4))
        assert [len(g) for g in groups] == [3, 2], groups
    """)


def test_the_floor_runs_winograd_where_tinytorch_does():
    run_with_reference("""
        from bench_cases import runs_winograd
        from tinytorch.nn import Conv2d
        from tinytorch.systems.acceleration import disable_acceleration, enable_acceleration

        hidden = Conv2d(32, 32, 3, padding=1, rng=0)
        others = [Conv2d(3, 16, 3, padding=1, rng=0), Conv2d(32, 32, 5, padding=2, rng=0),
                  Conv2d(32, 32, 3, stride=2, padding=1, rng=0)]
        float32 = np.dtype(np.float32)
        assert not runs_winograd(hidden, float32)        # acceleration off: im2col (--no-acceleration)
        enable_acceleration()
        try:
            assert runs_winograd(hidden, float32)
            assert not runs_winograd(hidden, np.dtype(np.int64))
            assert not any(runs_winograd(layer, float32) for layer in others)
        finally:
            disable_acceleration()
        assert not runs_winograd(hidden, float32)
    """)
