"""Kata 18: Winograd minimal filtering, a 3x3 convolution with fewer multiplications.

Kata 09's im2col turns a convolution into one matrix product and lets BLAS run it near the
processor's peak: the fastest loop for the arithmetic the definition asks for, ``r * r``
multiplications per output and per pair of (input, output) channels, 9 for a 3x3 kernel.
Winograd's minimal filtering changes the arithmetic instead of the loop: F(2x2, 3x3)
computes a 2x2 tile of outputs with 16 multiplications where the definition needs 36
(2.25 times fewer), F(4x4, 3x3) a 4x4 tile with 36 instead of 144 (4 times fewer). The
additions it needs move into transforms done once per tile and channel, not once per
channel PAIR, so on a layer with tens of channels they add few multiplications, and the
same BLAS, given fewer multiplications, finishes sooner: fewer multiplications beat a
faster loop. In NumPy the transforms are whole-array passes over memory, which is what
they cost here instead; this kata's speed test weighs the two on a benchmark layer.

**The idea, in one dimension.** Two outputs of a 3-tap filter ``g`` on four inputs ``d``::

    y0 = d0 g0 + d1 g1 + d2 g2
    y1 = d1 g0 + d2 g1 + d3 g2          6 multiplications

Multiplying polynomials does the same arithmetic: a polynomial ``u`` with ``m``
coefficients times ``g`` with ``r`` has ``n = m + r - 1`` coefficients, and a polynomial
with ``n`` coefficients is fixed by its values at ``n`` points. So evaluate ``u`` and ``g``
at ``n`` points (additions and multiplications by known constants), multiply the ``n``
pairs of values (the only multiplications that involve both operands), and interpolate
the product back. In matrices, with ``V_k`` the ``n x k`` matrix of the points' powers
(the point "infinity" evaluates the leading coefficient) and ``C`` the inverse of ``V_n``::

    u * g = C [(V_r g) . (V_m u)]              (. is the element-wise product)

``u -> u * g`` is a multiplication by an ``n x m`` Toeplitz matrix ``T(g)``, and filtering
(the cross-correlation conv2d computes, ``y_i = sum_k d_{i+k} g_k``) is exactly its
transpose, ``y = T(g)^T d``. Transposing the factorisation gives minimal filtering::

    y = A^T [(G g) . (B^T d)]      with  A^T = V_m^T,  G = V_r,  B^T = C^T

``n`` multiplications for ``m`` outputs, the fewest possible (Winograd, 1980).
:func:`winograd_transforms` builds the three matrices from the points, exactly, with
fractions. A row of ``B^T`` may be scaled if the same row of ``G`` is divided by it: it
scales ``B^T`` to small integers, so that transforming the data is (nearly) all additions.
With the points 0, 1, -1 and infinity this is F(2, 3)::

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, 1]]

(Lavin and Gray's matrices, up to the sign of the point at infinity); 0, 1, -1, 2, -2 and
infinity give F(4, 3), whose transforms multiply by 2, 4, 5 and 8.

**Two dimensions.** Nest the 1-D algorithm along the rows and the columns: an ``n x n``
tile ``d`` of the input gives an ``m x m`` tile of the output::

    Y = A^T [(G g G^T) . (B^T d B)] A              n * n multiplications for m * m outputs

**A layer.** It sums over the input channels: for filter ``o`` and tile ``t``,
``M[o, t] = sum_c U[o, c] . V[c, t]`` with ``U = G g G^T`` (once per filter pair, reused
for every tile of every image) and ``V = B^T d B`` (once per tile and channel, reused for
every filter). At each of the ``n * n`` positions of the transformed tile that sum is a
matrix product ``(O, C) @ (C, tiles)``: the convolution becomes ``n * n`` smaller matrix
products, which BLAS runs as fast as im2col's one big product, plus the transforms.

**Tiles.** Output tile ``(a, b)`` covers rows ``a m .. a m + m - 1``; the input tile it
needs starts at row ``a m`` and is ``n`` rows high, so neighbouring input tiles overlap by
``r - 1`` rows. When the output's height is not a multiple of ``m``, the last tiles hang
over the edge: pad the input with zeros at the bottom and on the right, compute whole
tiles and crop the output (:class:`WinogradTiling`).

**Gradients.** Every stage is linear in each operand, so each stage's backward is its
transpose: ``Y = A^T M A`` gives ``dM = A dY A^T``; ``M = sum U . V`` gives
``dU = sum over tiles of dM . V`` and ``dV = sum over filters of dM . U``; ``U = G g G^T``
gives ``dg = G^T dU G``, and ``V = B^T d B`` gives ``dd = B dV B^T``, added back where each
(overlapping) tile came from. The weight's gradient is summed over every tile and image in
the transformed domain, ``n * n`` matrix products, and mapped back once.

**Rounding.** The identity is exact in exact arithmetic only. In floating point the
transforms add numbers of different sizes and ``G`` holds fractions (1/2 in F(2, 3); 1/4,
1/6, 1/12 and 1/24 in F(4, 3)), so the error grows with the tile: this kata's tests
measure it against a float64 direct convolution.

Why one long file: it is one kernel, found by name from its test file
(``test_8b_winograd.py``) and its stub; its sections follow the stages above: the
transforms, the tiles, the forward pass, the backward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np

from ..core.autograd import Function, Gradients, record
from ..core.tensor import Tensor
from ..nn.spatial import conv2d_output_shape

# F(4x4, 3x3) by default: fewer multiplications than F(2x2, 3x3) (2.25 per output and channel
# pair instead of 4) and smaller transformed arrays (2.25 times the input instead of 4), at
# the price of rounding about 20 times larger in float32. This kata's speed test times both.
DEFAULT_TILE = 4

# What transform combines: a list of equal-shaped views, or an array along its first axis
Rows = Sequence[np.ndarray] | np.ndarray

# How transform computes one row of a matrix: groups (scale, [(sign, j), ...]), see _row_plan
RowPlan = list[tuple[float, list[tuple[float, int]]]]

# The finite interpolation points, in the order they are used; infinity comes last. Small
# integers first (their transforms are additions), then halves (F(6, 3) needs eight points).
POINTS = (Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-2), Fraction(1, 2),
          Fraction(-1, 2))


# -- the transforms ---------------------------------------------------------------------------

@dataclass(frozen=True)
class WinogradTransforms:
    """The matrices of F(m, r): ``AT`` (m, n), ``G`` (n, r) and ``BT`` (n, n), n = m + r - 1.

    ``y = AT @ ((G @ g) * (BT @ d))`` filters ``d`` (n numbers) with ``g`` (r taps) into
    ``m`` outputs, ``y[i] = sum_k d[i + k] g[k]``.
    """

    tile: int
    kernel_size: int
    AT: np.ndarray
    G: np.ndarray
    BT: np.ndarray

    @property
    def size(self) -> int:
        """``n = m + r - 1``: the input tile's side."""
        return self.tile + self.kernel_size - 1


def _powers(points: Sequence[Fraction], count: int) -> list[list[Fraction]]:
    """The rows ``[1, p, p^2, ..., p^(count-1)]`` of each point, then ``[0, ..., 0, 1]`` for
    infinity: the values at those points of a polynomial with ``count`` coefficients."""
    rows = [[point ** power for power in range(count)] for point in points]
    return rows + [[Fraction(0)] * (count - 1) + [Fraction(1)]]


def _inverse(matrix: list[list[Fraction]]) -> list[list[Fraction]]:
    """Gauss-Jordan elimination in exact fractions (the matrices here are at most 8 x 8)."""
    size = len(matrix)
    work = [row[:] + [Fraction(int(i == j)) for j in range(size)] for i, row in enumerate(matrix)]
    for column in range(size):
        pivot = next(row for row in range(column, size) if work[row][column] != 0)
        work[column], work[pivot] = work[pivot], work[column]
        lead = work[column][column]
        work[column] = [value / lead for value in work[column]]
        for row in range(size):
            if row != column and work[row][column] != 0:
                factor = work[row][column]
                work[row] = [value - factor * top for value, top in zip(work[row], work[column])]
    return [row[size:] for row in work]


def _integer_scale(row: list[Fraction]) -> Fraction:
    """The positive factor that turns ``row`` into coprime integers."""
    denominators = np.lcm.reduce([value.denominator for value in row])
    numerators = np.gcd.reduce([int(value * denominators) for value in row])
    return Fraction(int(denominators), int(numerators))


@cache
def winograd_transforms(tile: int, kernel_size: int = 3) -> WinogradTransforms:
    """F(tile, kernel_size)'s matrices, derived from the interpolation points (given).

    ``n = tile + kernel_size - 1`` points: the first ``n - 1`` of :data:`POINTS` and
    infinity. Then, as the module's docstring derives, ``AT = V_m^T``, ``G = V_r`` and
    ``BT = C^T`` with ``C`` the inverse of ``V_n``, computed in exact fractions; each row of
    ``BT`` is scaled to coprime integers and the same row of ``G`` divided by that scale.
    The arrays are float64 (a float32 computation multiplies by Python floats taken from
    them, which keeps float32).

    ``ValueError`` unless ``tile >= 1``, ``kernel_size >= 1`` and there are enough points
    (``n <= 8``).
    """
    size = tile + kernel_size - 1
    if tile < 1 or kernel_size < 1 or size > len(POINTS) + 1:
        raise ValueError(f"winograd_transforms: F({tile}, {kernel_size}) needs tile >= 1, "
                         f"kernel_size >= 1 and tile + kernel_size - 1 <= {len(POINTS) + 1} "
                         f"interpolation points")
    points = POINTS[:size - 1]
    data_transform = [list(column) for column in zip(*_inverse(_powers(points, size)))]
    filter_transform = _powers(points, kernel_size)
    for index, row in enumerate(data_transform):
        scale = _integer_scale(row)
        data_transform[index] = [value * scale for value in row]
        filter_transform[index] = [value / scale for value in filter_transform[index]]
    output_transform = [list(column) for column in zip(*_powers(points, tile))]

    def floats(matrix: list[list[Fraction]]) -> np.ndarray:
        return np.array([[float(value) for value in row] for row in matrix])

    return WinogradTransforms(tile, kernel_size, floats(output_transform), floats(filter_transform),
                              floats(data_transform))


def _row_plan(coefficients: np.ndarray) -> RowPlan:
    """One row of a transform as groups ``(scale, [(sign, j), ...])``: the terms whose
    coefficients have the same magnitude, added or subtracted first and then multiplied
    once (``4 d1 + 4 d2`` is ``4 (d1 + d2)``). The groups that multiply come first, the
    unit group (scale 1) last; each group starts with a positive term, its scale taking
    the sign when it has none."""
    groups: dict[float, list[tuple[float, int]]] = {}
    for j, coefficient in enumerate(coefficients):
        if coefficient != 0:
            groups.setdefault(abs(float(coefficient)), []).append((float(np.sign(coefficient)), j))
    plan = []
    for scale, terms in sorted(groups.items(), key=lambda group: group[0] == 1):
        if all(sign < 0 for sign, _ in terms):
            scale, terms = -scale, [(-sign, j) for sign, j in terms]
        plan.append((scale, sorted(terms, key=lambda term: -term[0])))
    return plan


def _plans(matrix: np.ndarray) -> tuple[RowPlan, ...]:
    """The :func:`_row_plan` of every row of ``matrix``, worked out once per matrix: a
    convolution transforms with the same few matrices hundreds of times per training step."""
    return _plans_of_rows(tuple(tuple(row) for row in matrix.tolist()))


@cache
def _plans_of_rows(rows: tuple[tuple[float, ...], ...]) -> tuple[RowPlan, ...]:
    return tuple(_row_plan(np.array(row)) for row in rows)


def _signed_sum(out: np.ndarray, rows: Rows, scale: float,
                terms: list[tuple[float, int]]) -> None:
    """``out = scale * sum of sign * rows[j]``, in place, one pass per term (the first two
    share one), one multiplication per element unless the scale is 1 or -1."""
    (_, first), rest = terms[0], terms[1:]
    if not rest:
        if scale == 1:
            np.copyto(out, rows[first])
        elif scale == -1:
            np.negative(rows[first], out=out)
        else:
            np.multiply(rows[first], scale, out=out)
        return
    (np.add if rest[0][0] > 0 else np.subtract)(rows[first], rows[rest[0][1]], out=out)
    for sign, j in rest[1:]:
        (np.add if sign > 0 else np.subtract)(out, rows[j], out=out)
    if scale == -1:
        np.negative(out, out=out)
    elif scale != 1:
        np.multiply(out, scale, out=out)


def transform(matrix: np.ndarray, rows: Rows) -> np.ndarray:
    """``out[i] = sum over j of matrix[i, j] * rows[j]``, as whole-array operations (given).

    ``rows`` is a sequence of equal-shaped arrays (a list of views, or an array, whose
    first axis is then the one combined); ``out`` has the shape ``(len(matrix),
    *rows[0].shape)`` and the rows' dtype. The matrices of Winograd's transforms are small
    and mostly 0, 1 and -1, so a matrix product would waste its multiplications: zeros are
    skipped, a coefficient of 1 or -1 is an addition or a subtraction, and terms whose
    coefficients share a magnitude are added first and multiplied once
    (:func:`transform_multiplications` counts what is left). Works for any dtype NumPy can
    add and multiply, Python objects included.
    """
    if matrix.shape[1] != len(rows):
        raise ValueError(f"transform: a matrix of shape {matrix.shape} combines "
                         f"{matrix.shape[1]} rows, got {len(rows)}")
    out = np.empty((len(matrix), *rows[0].shape), dtype=rows[0].dtype)
    scratch = None
    for target, plan in zip(out, _plans(matrix)):
        if not plan:
            target[...] = 0
        for index, (scale, terms) in enumerate(plan):
            if index == 0:
                _signed_sum(target, rows, scale, terms)
            elif abs(scale) == 1:
                for sign, j in terms:
                    (np.add if sign * scale > 0 else np.subtract)(target, rows[j], out=target)
            else:
                scratch = np.empty_like(target) if scratch is None else scratch
                _signed_sum(scratch, rows, scale, terms)
                target += scratch
    return out


def transform_multiplications(matrix: np.ndarray) -> int:
    """How many multiplications :func:`transform` does per element of a row: in each row
    of ``matrix``, the magnitudes other than 0 and 1 (given)."""
    return sum(len({abs(float(c)) for c in row} - {0.0, 1.0}) for row in matrix)


def transform_2d(matrix: np.ndarray, array: np.ndarray) -> np.ndarray:
    """``matrix @ X @ matrix.T`` for every ``X = array[:, :, ...]`` on the two leading axes
    (given): :func:`transform` along the second axis, then along the first. ``array`` is
    (k, k, ...); the result (len(matrix), len(matrix), ...)."""
    half = transform(matrix, array.swapaxes(0, 1))
    return transform(matrix, half.swapaxes(0, 1))


# -- tiles ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WinogradTiling:
    """How F(m, r) cuts a convolution into tiles (given): made by :func:`winograd_tiling`.

    The output (N, O, out_height, out_width) is covered by ``tiles_high x tiles_wide`` tiles
    of ``m x m``; input tile ``(a, b)`` is the ``n x n`` block of the padded input starting
    at row ``a m`` and column ``b m``. The padded input is ``padded_height x padded_width``:
    the convolution's ``padding`` on every side, and more zeros at the bottom and on the
    right where the last tiles hang over.

    The kernel works channels-last, on images ``(N, H, W, C)`` and tiles laid out
    ``(..., N, tiles_high, tiles_wide, C)``: the transformed tiles then reshape to the
    matrices ``(tiles, C)`` of the products without a copy, and every strided view of an
    image still reads whole rows of channels from contiguous memory. :meth:`tiles` copies
    the input tiles out, tile-major; ``add_rows``/``add_columns`` go the other way for the
    gradient: they add row (column) ``i`` of every tile back where it came from.
    """

    tile: int
    size: int
    padding: int
    in_height: int
    in_width: int
    out_height: int
    out_width: int
    tiles_high: int
    tiles_wide: int

    @property
    def padded_height(self) -> int:
        return self.tile * self.tiles_high + self.size - self.tile

    @property
    def padded_width(self) -> int:
        return self.tile * self.tiles_wide + self.size - self.tile

    def _offset(self, start: int, count: int, axis: int, ndim: int) -> tuple[slice, ...]:
        index = [slice(None)] * ndim
        index[axis] = slice(start, start + self.tile * (count - 1) + 1, self.tile)
        return tuple(index)

    def tiles(self, padded: np.ndarray) -> np.ndarray:
        """Every ``n x n`` input tile of the padded images ``padded`` (N, Hp, Wp, C), copied
        out tile-major: (n, n, N, tiles_high, tiles_wide, C), overlaps and all. Element
        ``[i, j]`` is then row ``i``, column ``j`` of every tile as ONE contiguous block, so
        each pass of a transform streams through memory. (Run on strided views of the
        padded images instead, row ``i`` of every tile at once, whose contiguous runs are a
        few dozen numbers, the same passes took about four times as long per number.)"""
        windows = np.lib.stride_tricks.sliding_window_view(padded, (self.size, self.size), axis=(1, 2))
        return np.ascontiguousarray(windows[:, ::self.tile, ::self.tile].transpose(4, 5, 0, 1, 2, 3))

    def add_rows(self, target: np.ndarray, parts: Rows) -> np.ndarray:
        """Add ``parts[i]`` (..., tiles_high, W, C) into row ``i`` of every tile of
        ``target`` (..., padded_height, W, C), in place (tiles overlap, so rows shared by two
        tiles get both)."""
        for i, part in enumerate(parts):
            target[self._offset(i, self.tiles_high, -3, target.ndim)] += part
        return target

    def add_columns(self, target: np.ndarray, parts: Rows) -> np.ndarray:
        """The same along the width: ``parts[j]`` (..., H, tiles_wide, C) into column ``j``
        of every tile."""
        for j, part in enumerate(parts):
            target[self._offset(j, self.tiles_wide, -2, target.ndim)] += part
        return target

    def pad(self, x: np.ndarray) -> np.ndarray:
        """``x`` (N, C, H, W) channels-last in zeros (N, padded_height, padded_width, C), at
        ``[padding:padding + H, padding:padding + W]``: one copy pads and transposes."""
        batch, channels = x.shape[:2]
        padded = np.zeros((batch, self.padded_height, self.padded_width, channels), dtype=x.dtype)
        p = self.padding
        padded[:, p:p + self.in_height, p:p + self.in_width] = x.transpose(0, 2, 3, 1)
        return padded

    def unpad(self, padded: np.ndarray) -> np.ndarray:
        """The transpose of :meth:`pad`: the (N, C, H, W) part of ``padded``, contiguous."""
        p = self.padding
        inside = padded[:, p:p + self.in_height, p:p + self.in_width]
        return np.ascontiguousarray(inside.transpose(0, 3, 1, 2))

    def assemble(self, tiles: np.ndarray) -> np.ndarray:
        """Output tiles (m, m, N * tiles_high * tiles_wide, O) as the output image
        (N, O, out_height, out_width): each tile in its place, the overhang cropped."""
        m, out_channels = self.tile, tiles.shape[-1]
        grid = tiles.reshape(m, m, -1, self.tiles_high, self.tiles_wide, out_channels)
        image = np.ascontiguousarray(grid.transpose(2, 3, 0, 4, 1, 5)).reshape(
            -1, self.tiles_high * m, self.tiles_wide * m, out_channels)
        return np.ascontiguousarray(image[:, :self.out_height, :self.out_width].transpose(0, 3, 1, 2))

    def split(self, image: np.ndarray) -> np.ndarray:
        """The transpose of :meth:`assemble`: an output-shaped gradient as tiles
        (m, m, N, tiles_high, tiles_wide, O), zeros on the overhang."""
        m, (batch, out_channels) = self.tile, image.shape[:2]
        whole = np.zeros((batch, self.tiles_high * m, self.tiles_wide * m, out_channels), dtype=image.dtype)
        whole[:, :self.out_height, :self.out_width] = image.transpose(0, 2, 3, 1)
        grid = whole.reshape(batch, self.tiles_high, m, self.tiles_wide, m, out_channels)
        return np.ascontiguousarray(grid.transpose(2, 4, 0, 1, 3, 5))


def winograd_tiling(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], padding: int,
                    tile: int) -> WinogradTiling:
    """Check a stride-1 convolution's operands and cut it into F(tile, k) tiles (given).

    The operands are checked by kata 09's
    :func:`~tinytorch.nn.spatial.conv2d_output_shape`; ``ValueError`` too for a kernel that
    is not square, a negative padding, or a tile :func:`winograd_transforms` cannot build.
    """
    if len(weight_shape) != 4 or weight_shape[2] != weight_shape[3]:
        raise ValueError(f"winograd: the weight must be (O, C, k, k) with a square kernel, got "
                         f"shape {tuple(weight_shape)}")
    if not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"winograd: padding must be an integer >= 0, got padding={padding!r}")
    kernel = weight_shape[-1]
    size = winograd_transforms(tile, kernel).size
    _, _, out_height, out_width = conv2d_output_shape(x_shape, weight_shape, 1, padding)
    return WinogradTiling(tile, size, padding, x_shape[2], x_shape[3], out_height, out_width,
                          -(-out_height // tile), -(-out_width // tile))


# -- the forward pass ---------------------------------------------------------------------------

@dataclass(frozen=True)
class WinogradResult:
    """What :func:`winograd_conv2d` computes: the ``output`` (N, O, H_out, W_out), and what
    the backward pass needs: the transformed ``filters`` (n, n, C, O) and the transformed
    input ``tiles`` (n, n, N * tiles_high * tiles_wide, C)."""

    output: np.ndarray
    filters: np.ndarray
    tiles: np.ndarray


def winograd_conv2d(x: np.ndarray, weight: np.ndarray, padding: int = 0,
                    tile: int = DEFAULT_TILE) -> WinogradResult:
    """The stride-1 convolution of ``x`` (N, C, H, W) with ``weight`` (O, C, k, k), by
    F(tile x tile, k x k): ``Y = A^T [sum over c of (G g G^T) . (B^T d B)] A`` per tile.

    With ``t = winograd_transforms(tile, k)``, ``tiling = winograd_tiling(...)`` and
    ``n = t.size``:

    1. **Filters**: ``U = G g G^T`` for every (c, o) at once, :func:`transform_2d` of
       ``t.G`` and the weight with its kernel axes first (``weight.transpose(2, 3, 1, 0)``):
       (n, n, C, O).
    2. **Input tiles**: ``V = B^T d B`` for every tile of every image and channel. Pad
       (``tiling.pad(x)``, channels-last: (N, Hp, Wp, C)), copy the tiles out tile-major
       (``tiling.tiles``: (n, n, N, tiles_high, tiles_wide, C), one copy for all of them)
       and :func:`transform_2d` them with ``t.BT``.
    3. **Products**: at each of the n * n positions, ``(tiles, C) @ (C, O)``: one batched
       ``@`` of ``V`` reshaped (n * n, -1, C) and ``U`` reshaped (n * n, C, O).
    4. **Output**: ``A^T M A``, :func:`transform_2d` of ``t.AT`` and the products
       reshaped (n, n, -1, O), then ``tiling.assemble``.

    Return a :class:`WinogradResult` with ``filters = U`` and ``tiles = V`` reshaped to
    (n, n, -1, C). Arrays in, arrays out, in the result dtype of ``x`` and ``weight``
    (float32 stays float32; Python objects work too, which is how the tests count your
    multiplications). Errors: those of :func:`winograd_tiling`.
    """
    tiling = winograd_tiling(x.shape, weight.shape, padding, tile)
    t = winograd_transforms(tile, weight.shape[-1])
    raise NotImplementedError("winograd_conv2d: not implemented yet (kata 18 Acceleration)")


@dataclass(frozen=True)
class MultiplicationCount:
    """The multiplications of one :func:`winograd_conv2d` call, stage by stage, with the
    number of ``outputs`` (N * O * H_out * W_out) and what the ``direct`` convolution
    (kata 09's, im2col or loops) multiplies: ``outputs * C * k * k``."""

    filter_transform: int
    input_transform: int
    products: int
    output_transform: int
    outputs: int
    direct: int

    @property
    def total(self) -> int:
        return self.filter_transform + self.input_transform + self.products + self.output_transform

    @property
    def per_output(self) -> float:
        return self.total / self.outputs

    @property
    def saving(self) -> float:
        """How many times fewer multiplications than the direct convolution."""
        return self.direct / self.total


def winograd_multiplications(x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                             padding: int = 0, tile: int = DEFAULT_TILE) -> MultiplicationCount:
    """Count the multiplications :func:`winograd_conv2d` does, from the shapes alone.

    Every multiplication is in :func:`transform` (``transform_multiplications(matrix)``
    per element of one of its rows) or in the products. With ``n``, the tiling's
    ``tiles_high = th`` and ``tiles_wide = tw``:

    - filters: ``t.G`` on rows of ``k * C * O`` numbers, then of ``n * C * O``;
    - input: ``t.BT`` on rows of ``n * N * th * tw * C`` numbers, twice (the tiles are
      copied out before the transform, so the rows two tiles share are transformed twice);
    - products: ``n * n * N * th * tw * C * O``, every tile paying for the whole tile,
      overhang included;
    - output: ``t.AT`` on rows of ``n * N * th * tw * O``, then of ``m * N * th * tw * O``.

    ``outputs`` and ``direct`` as :class:`MultiplicationCount` says. For F(2x2, 3x3) the
    products alone are 16 / 4 = 4 per output and channel pair where the direct
    convolution needs 9. Errors: those of :func:`winograd_tiling`.
    """
    tiling = winograd_tiling(x_shape, weight_shape, padding, tile)
    t = winograd_transforms(tile, weight_shape[-1])
    raise NotImplementedError("winograd_multiplications: not implemented yet (kata 18 Acceleration)")


# -- the backward pass --------------------------------------------------------------------------

def winograd_weight_grad(grad_products: np.ndarray, tiles: np.ndarray,
                         transforms: WinogradTransforms) -> np.ndarray:
    """The weight's gradient (O, C, k, k), from ``grad_products`` = ``dM`` (n, n, P, O)
    and the forward's transformed input ``tiles`` ``V`` (n, n, P, C), P = N * tiles.

    The forward's products were ``M = V @ U`` at each of the n * n positions, so
    ``dU = V^T @ dM``: (C, P) @ (P, O), summed over every tile of every image by the matrix
    product itself (one batched ``@`` with ``tiles.swapaxes(-1, -2)``). Then back through
    ``U = G g G^T``: ``dg = G^T dU G``, :func:`transform_2d` of ``transforms.G.T``, which
    gives (k, k, C, O); move the axes to (O, C, k, k).
    """
    raise NotImplementedError("winograd_weight_grad: not implemented yet (kata 18 Acceleration)")


def winograd_input_grad(grad_products: np.ndarray, filters: np.ndarray, transforms: WinogradTransforms,
                        tiling: WinogradTiling) -> np.ndarray:
    """The input's gradient (N, C, H, W), from ``dM`` (n, n, N, tiles_high, tiles_wide, O)
    and the forward's transformed ``filters`` ``U`` (n, n, C, O) (given).

    Each forward stage run backwards, transposed:

    - ``dV = dM @ U^T`` at each position: (P, O) @ (O, C);
    - ``V = BT (tile) BT^T`` was the tiles copied out of the padded images, then
      :func:`transform` with ``BT`` along their columns and their rows; backwards,
      ``transform`` with ``BT.T`` along the rows and ADD each row back where it came from
      (``tiling.add_rows``), then the same along the columns (``add_columns``): tiles
      overlap by ``k - 1`` rows and columns, and a pixel two tiles read receives both
      gradients;
    - ``tiling.unpad``: drop the padding and the overhang, back to (N, C, H, W).

    The same numbers as :func:`~tinytorch.systems.acceleration.input_grad_by_convolution`
    (a stride-1 convolution's input gradient is a convolution of the gradient with the
    flipped, channel-swapped kernels; run through Winograd it would be these stages in
    another order), but ``dM`` is shared with the weight's gradient, and any padding works.
    """
    n, in_channels, out_channels = transforms.size, filters.shape[2], filters.shape[3]
    batch = grad_products.shape[2]
    filters_t = filters.reshape(n * n, in_channels, out_channels).swapaxes(1, 2)
    grad_tiles = (grad_products.reshape(n * n, -1, out_channels) @ filters_t).reshape(
        n, n, batch, tiling.tiles_high, tiling.tiles_wide, in_channels)
    across = np.zeros((n, batch, tiling.padded_height, tiling.tiles_wide, in_channels), grad_tiles.dtype)
    tiling.add_rows(across, transform(transforms.BT.T, grad_tiles))
    padded = np.zeros((batch, tiling.padded_height, tiling.padded_width, in_channels), grad_tiles.dtype)
    tiling.add_columns(padded, transform(transforms.BT.T, across))
    return tiling.unpad(padded)


# Bytes of transformed input tiles per group of images: conv2d_winograd runs the batch in
# groups of about this size, so that every stage's arrays stay in the processor's caches
# (this kata's tiling lever, applied to the batch). See image_groups.
GROUP_BYTES = 2**21


def image_groups(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], padding: int, tile: int,
                 itemsize: int) -> list[slice]:
    """The batch axis cut into as few equal slices as keep each one's transformed tiles
    within :data:`GROUP_BYTES` (but at least one image each) (given).

    Every stage of :func:`winograd_conv2d` streams arrays a few times the size of its input
    through memory; a group small enough to stay in cache runs each pass at cache speed.
    On the benchmark layer (64 images of 32 x 16 x 16, 32 filters) groups of 16 images (2 MB
    of tiles) measured 1.6 times faster, forward and backward, than the whole batch at
    once; groups a quarter that size lost much of it again to Python's cost per call.
    """
    tiling = winograd_tiling(x_shape, weight_shape, padding, tile)
    per_image = tiling.size ** 2 * tiling.tiles_high * tiling.tiles_wide * x_shape[1] * itemsize
    count = -(-x_shape[0] * per_image // GROUP_BYTES)
    step = -(-x_shape[0] // count)
    return [slice(start, start + step) for start in range(0, x_shape[0], step)]


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class WinogradConv2dBackward(Function):
    """The gradients of :func:`conv2d_winograd`; inputs ``(x, weight)`` or ``(x, weight,
    bias)``; arguments ``groups`` (the :func:`image_groups`), ``filters`` and ``tiles`` (of
    each group's :class:`WinogradResult`), ``padding`` and ``tile`` (given).

    For each group of images, ``dM = A dY A^T``: the output's gradient cut into tiles
    (``tiling.split``, zeros on the overhang, where the forward computed numbers it then
    cropped) and :func:`transform_2d` with ``AT.T``. Both gradients start from it:
    :func:`winograd_input_grad` gives the group's images theirs, and
    :func:`winograd_weight_grad` adds the group's share to the weight's; each only when its
    input requires grad. The bias's is ``grad`` summed over images and positions.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        x, weight = self.inputs[0], self.inputs[1]
        padding, tile, filters = self.arguments["padding"], self.arguments["tile"], self.arguments["filters"]
        t = winograd_transforms(tile, weight.shape[-1])
        n, out_channels = t.size, weight.shape[0]
        grad_x_parts, grad_weight = [], None
        for group, tiles in zip(self.arguments["groups"], self.arguments["tiles"]):
            tiling = winograd_tiling(x.data[group].shape, weight.shape, padding, tile)
            grad_products = transform_2d(t.AT.T, tiling.split(grad[group]))
            if x.requires_grad:
                grad_x_parts.append(winograd_input_grad(grad_products, filters, t, tiling))
            if weight.requires_grad:
                part = winograd_weight_grad(grad_products.reshape(n, n, -1, out_channels), tiles, t)
                grad_weight = part if grad_weight is None else grad_weight + part
        grad_x = _joined(grad_x_parts) if x.requires_grad else None
        if len(self.inputs) == 2:
            return grad_x, grad_weight
        return grad_x, grad_weight, grad.sum(axis=(0, 2, 3))


def conv2d_winograd(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
                    padding: int = 0, tile: int = DEFAULT_TILE) -> Tensor:
    """Kata 09's :func:`~tinytorch.nn.spatial.conv2d` by Winograd's F(tile x tile, k x k)
    (given): the same signature, stride 1 only, floating-point operands.

    :func:`winograd_conv2d` on each of the :func:`image_groups`, the outputs joined, plus
    the bias as ``(O, 1, 1)``, recorded with :class:`WinogradConv2dBackward`.
    ``ValueError`` for a stride other than 1 (a stride-2 convolution skips the outputs the
    tiles share their work between), ``TypeError`` for integer operands (``G`` holds
    fractions).
    """
    if stride != 1:
        raise ValueError(f"conv2d_winograd computes stride-1 convolutions only, got stride={stride!r}")
    dtypes = [tensor.dtype for tensor in (x, weight, bias) if tensor is not None]
    if any(dtype.kind != "f" for dtype in dtypes):
        raise TypeError(f"conv2d_winograd needs floating-point operands, got dtypes "
                        f"{', '.join(str(dtype) for dtype in dtypes)}")
    groups = image_groups(x.shape, weight.shape, padding, tile, x.dtype.itemsize)
    results = [winograd_conv2d(x.data[group], weight.data, padding, tile) for group in groups]
    output = _joined([result.output for result in results])
    inputs: tuple[Tensor, ...] = (x, weight)
    if bias is not None:
        output += bias.data[:, np.newaxis, np.newaxis]
        inputs = (x, weight, bias)
    return record(Tensor(output), WinogradConv2dBackward, inputs, groups=groups,
                  filters=results[0].filters, tiles=[result.tiles for result in results],
                  padding=padding, tile=tile)
