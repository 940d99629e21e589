"""The MLP of a block: expand, GELU, project back, token by token."""

import numpy as np

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.nn import MLP

X = np.random.default_rng(2).standard_normal((2, 3, 8)).astype(np.float32)


def test_two_linear_layers_dim_hidden_dim():
    mlp = MLP(8, 32, rng=0)
    shapes = {name: p.shape for name, p in mlp.named_parameters()}
    assert shapes == {"fc.weight": (8, 32), "fc.bias": (32,), "proj.weight": (32, 8), "proj.bias": (8,)}


def test_forward_is_proj_of_gelu_of_fc(formulas, rng):
    _, numpy_gelu = formulas
    mlp = MLP(8, 32, rng=0)
    mlp.fc.bias.data[:] = rng.standard_normal(32)
    out = mlp(Tensor(X))
    assert out.shape == X.shape and out.dtype == np.float32
    hidden = numpy_gelu(X.astype(np.float64) @ mlp.fc.weight.numpy() + mlp.fc.bias.numpy())
    np.testing.assert_allclose(out.numpy(), hidden @ mlp.proj.weight.numpy() + mlp.proj.bias.numpy(),
                               rtol=1e-4, atol=1e-5)


def test_each_token_goes_through_on_its_own():
    mlp = MLP(8, 16, rng=1)
    np.testing.assert_allclose(mlp(Tensor(X)).numpy()[1, 2], mlp(Tensor(X[1, 2:3])).numpy()[0],
                               rtol=1e-5, atol=1e-6)


def test_gradcheck_through_the_mlp(float64, rng):
    mlp = float64(MLP(3, 6, rng=3))

    def run(x, w1, w2):
        mlp.fc.weight, mlp.proj.weight = w1, w2
        return mlp(x)

    gradcheck(run, rng.standard_normal((2, 2, 3)), mlp.fc.weight.numpy(), mlp.proj.weight.numpy())
