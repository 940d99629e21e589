"""The TinyTorch paper's import paths work, and name the same objects as ours.

The paper (Janapa Reddi, "TinyTorch", arXiv 2601.19107) imports ``tinytorch.nn.Sigmoid``,
``tinytorch.nn.Transformer``, ``tinytorch.nn.Attention``,
``tinytorch.profiling.profile_memory`` and the module ``tinytorch.nn.conv``, where our
katas define ``tinytorch.core.activations.Sigmoid``, ``GPT``, ``MultiHeadAttention``,
``tinytorch.systems.profiling.memory_profile`` and ``tinytorch.nn.spatial``. Each alias is
checked to be the very same object and to work, on the reference solution, in a fresh
interpreter with ``reference/`` first on ``sys.path`` (the test process itself keeps the
``tinytorch`` it was started with). The student's stubs must offer the same paths: the
aliases are given code, not something a kata asks for.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPROCESS_TIMEOUT_SECONDS = 60

PRELUDE = """
import sys
sys.path.insert(0, {package_parent!r})
import numpy as np
import tinytorch
from pathlib import Path
assert Path(tinytorch.__file__).parent == Path({package_parent!r}) / "tinytorch", tinytorch.__file__
from tinytorch.core import Tensor, enable_autograd
"""

# Each check imports a path exactly as the paper writes it, then shows it is ours and works.
CHECKS = {
    "nn.Sigmoid": """
        from tinytorch.nn import Linear, Sigmoid          # the paper's 1958 milestone
        import tinytorch.core.activations as activations
        import tinytorch.nn as nn
        assert Sigmoid is activations.Sigmoid
        for name in ("ReLU", "Tanh", "GELU", "Softmax", "LogSoftmax"):
            assert getattr(nn, name) is getattr(activations, name), name
        out = Sigmoid()(Tensor([[-100.0, 0.0, 100.0]]))
        np.testing.assert_allclose(out.data, [[0.0, 0.5, 1.0]], atol=1e-7)
    """,
    "nn.Transformer": """
        from tinytorch.nn import Transformer, Embedding, Attention   # the paper, after module 13
        from tinytorch.nn.transformers import GPT
        assert Transformer is GPT
        enable_autograd()
        model = Transformer(vocab_size=11, max_len=8, dim=16, num_layers=1, num_heads=2, rng=0)
        logits = model(np.arange(10).reshape(2, 5))
        assert logits.shape == (2, 5, 11), logits.shape
    """,
    "nn.Attention": """
        from tinytorch.nn import Attention
        from tinytorch.nn.attention import MultiHeadAttention
        assert Attention is MultiHeadAttention
        layer = Attention(16, 2, causal=True, rng=0)
        x = Tensor(np.random.default_rng(0).standard_normal((2, 5, 16)).astype(np.float32))
        assert layer(x).shape == (2, 5, 16)
    """,
    "profiling.profile_memory": """
        from tinytorch.profiling import profile_memory   # the paper's 2018 milestone
        import tinytorch.profiling as profiling
        import tinytorch.systems.profiling as ours
        assert profile_memory is ours.memory_profile
        for name in ("profile", "propagate", "amdahl_speedup", "Profile", "MemoryProfile"):
            assert getattr(profiling, name) is getattr(ours, name), name
        from tinytorch.nn import Linear
        from tinytorch.optim import SGD
        enable_autograd()
        model = Linear(32, 8, rng=0)
        figures = profile_memory(model, Tensor(np.ones((4, 32), dtype=np.float32)),
                                 lambda out: (out * out).sum(), SGD(model.parameters(), lr=0.1))
        assert figures.parameters == (32 * 8 + 8) * 4 == figures.gradients, figures
    """,
    "nn.conv": """
        import tinytorch.nn.conv
        from tinytorch.nn.conv import Conv2d, MaxPool2d   # the paper's module 09 path
        import tinytorch.nn.spatial as spatial
        assert tinytorch.nn.conv is spatial and Conv2d is spatial.Conv2d
        assert MaxPool2d is spatial.MaxPool2d
        out = MaxPool2d(2)(Conv2d(1, 2, 3, rng=0)(Tensor(np.ones((1, 1, 6, 6), dtype=np.float32))))
        assert out.shape == (1, 2, 2, 2), out.shape
    """,
    "the paper's other imports": """
        from tinytorch.core import Tensor
        from tinytorch.core.tensor import Tensor as T
        from tinytorch.nn import Conv2d, MaxPool2d, Linear, CrossEntropyLoss, Embedding
        from tinytorch.optim import SGD, Adam
        from tinytorch.data import DataLoader
        assert T is Tensor
    """,
}


def run_python(package_parent: Path, code: str) -> subprocess.CompletedProcess:
    script = PRELUDE.format(package_parent=str(package_parent)) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_SECONDS)


@pytest.mark.parametrize("code", CHECKS.values(), ids=CHECKS.keys())
def test_the_papers_path_is_ours_and_works_on_the_reference(code):
    completed = run_python(ROOT / "reference", code)
    assert completed.returncode == 0, completed.stderr


def test_the_students_stubs_offer_the_same_paths():
    completed = run_python(ROOT, """
        import tinytorch.nn as nn
        import tinytorch.nn.conv
        from tinytorch.nn import Sigmoid, Transformer, Attention
        from tinytorch.profiling import profile_memory
        assert (Transformer, Attention) == (nn.GPT, nn.MultiHeadAttention)
        assert tinytorch.nn.conv is nn.spatial
    """)
    assert completed.returncode == 0, completed.stderr
