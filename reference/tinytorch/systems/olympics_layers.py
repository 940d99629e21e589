"""The layers a model file may hold, and what a declared architecture costs before it is built.

A model file rebuilds each layer from its type and its configuration, so the file decides
what the verifier allocates: ``{"type": "Linear", "config": {"in_features": 20000,
"out_features": 20000}}`` fits in a file of about 400 bytes and is 1.6 GB of weights once
constructed, before a single array of the file has been compared with it.
:func:`check_architecture` therefore walks the architecture first, on paper: every
configuration field is checked (type, range, no unknown keys), the shape of one rules input
is followed from layer to layer (``(1, 28, 28)`` through a ``Flatten`` is ``(784,)``), and
what each layer implies is counted: its parameters against ``MAX_PARAMETERS``, the largest
array it makes against ``MAX_VALUES_PER_IMAGE``, its operations against
``MAX_OPERATIONS_PER_IMAGE``. Only an architecture that passes is built. The TinyTalks event
(``olympics_talks``) checks its GPT the same way, with its own registry and limits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ..data.dataloader import Normalize
from ..nn.layers import Dropout, Linear, Module
from ..nn.spatial import AvgPool2d, BatchNorm2d, Conv2d, Flatten, MaxPool2d, conv_output_size
from .olympics_files import short_repr, shorten
from .olympics_rules import (
    INPUT_SHAPE,
    MAX_DIMENSION,
    MAX_LAYERS,
    MAX_OPERATIONS_PER_IMAGE,
    MAX_PARAMETERS,
    MAX_VALUES_PER_IMAGE,
)
from .quantization import QuantizedConv2d, QuantizedLinear, QuantizedTensor

Shape = tuple[int, ...]
Rule = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Footprint:
    """What one layer implies for ONE image: its output's shape, the parameters it holds,
    the most numbers it makes at once (its output, or a convolution's windows), and the
    operations it runs (multiply-adds for a matrix product, one per number otherwise)."""

    output: Shape
    parameters: int
    values: int
    operations: int


# -- configuration fields ------------------------------------------------------------------

def size(low: int = 1, high: int = MAX_DIMENSION) -> Rule:
    """A rule for an integer from ``low`` to ``high`` (a bool or 2.5 is refused)."""
    def check(key: str, value: Any) -> int:
        if type(value) is not int or not low <= value <= high:
            raise ValueError(f"config {key!r} must be an integer from {low} to {high:,}, "
                             f"got {short_repr(value)}")
        return value
    return check


def flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"config {key!r} must be true or false, got {short_repr(value)}")
    return value


def number(low: float, high: float, high_included: bool = True) -> Rule:
    """A rule for a finite number in ``[low, high]`` (or ``[low, high)``)."""
    def check(key: str, value: Any) -> float:
        inside = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                  and low <= value and (value <= high if high_included else value < high))
        if not inside:
            bracket = "]" if high_included else ")"
            raise ValueError(f"config {key!r} must be a number in [{low}, {high}{bracket}, got {short_repr(value)}")
        return value
    return check


def integer(key: str, value: Any) -> int:
    if type(value) is not int or abs(value) > MAX_DIMENSION:
        raise ValueError(f"config {key!r} must be an integer, got {short_repr(value)}")
    return value


def optional_axis(allowed: int) -> Rule:
    """A quantized weight's channel axis: null (per tensor) or ``allowed``."""
    def check(key: str, value: Any) -> int | None:
        if value is not None and (type(value) is not int or value != allowed):
            raise ValueError(f"config {key!r} must be null or {allowed}, got {short_repr(value)}")
        return value
    return check


def per_channel(low: float, high: float) -> Rule:
    """A rule for a list of 1 to ``MAX_DIMENSION`` numbers, each in ``[low, high]``."""
    element = number(low, high)

    def check(key: str, value: Any) -> list[float]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_DIMENSION:
            raise ValueError(f"config {key!r} must be a list of 1 to {MAX_DIMENSION:,} numbers, "
                             f"got {short_repr(value)}")
        return [element(f"{key}[{index}]", item) for index, item in enumerate(value)]
    return check


# -- following one image through a layer ----------------------------------------------------

def need_features(shape: Shape, expected: int, source: str) -> None:
    """Refuse an input whose last axis is not ``expected`` long; ``source`` says where the
    layer's size comes from (``"config 'in_features' = 100"``)."""
    if shape[-1] != expected:
        raise ValueError(f"{source}, but its input has {shape[-1]} features (shape {shape} per image)")


def need_images(shape: Shape, channels: int | None = None, source: str = "") -> Shape:
    """``shape`` as ``(channels, height, width)``, checked; ``source`` as for
    :func:`need_features`."""
    if len(shape) != 3:
        raise ValueError(f"takes images (channels, height, width), but its input has shape {shape} "
                         f"per image")
    if channels is not None and shape[0] != channels:
        raise ValueError(f"{source}, but its input has {shape[0]} channels (shape {shape} per image)")
    return shape


def window_positions(shape: Shape, kernel: int, stride: int, padding: int) -> tuple[int, int]:
    """How many window positions fit along the height and the width."""
    _, height, width = shape
    if kernel > min(height, width) + 2 * padding:
        raise ValueError(f"config 'kernel_size' = {kernel} is larger than its input {height}x{width} "
                         f"padded by {padding}")
    return (conv_output_size(height, kernel, stride, padding),
            conv_output_size(width, kernel, stride, padding))


def plan_same_shape(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    return Footprint(shape, 0, math.prod(shape), math.prod(shape))


def plan_linear(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    need_features(shape, config["in_features"], f"config 'in_features' = {config['in_features']}")
    output = (*shape[:-1], config["out_features"])
    parameters = (config["in_features"] + config["bias"]) * config["out_features"]
    return Footprint(output, parameters, math.prod(output), math.prod(output) * config["in_features"])


def plan_conv2d(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    channels, _, _ = need_images(shape, config["in_channels"], f"config 'in_channels' = {config['in_channels']}")
    kernel = config["kernel_size"]
    height, width = window_positions(shape, kernel, config["stride"], config["padding"])
    output = (config["out_channels"], height, width)
    parameters = (channels * kernel * kernel + config["bias"]) * config["out_channels"]
    windows = channels * kernel * kernel * height * width
    return Footprint(output, parameters, max(math.prod(output), windows), windows * config["out_channels"])


def plan_batch_norm(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    need_images(shape, config["num_features"], f"config 'num_features' = {config['num_features']}")
    return Footprint(shape, 4 * config["num_features"], math.prod(shape), math.prod(shape))


def plan_pool(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    channels, _, _ = need_images(shape)
    height, width = window_positions(shape, config["kernel_size"], config["stride"], 0)
    return Footprint((channels, height, width), 0, math.prod(shape), math.prod(shape))


def plan_flatten(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    return Footprint((math.prod(shape),), 0, math.prod(shape), 0)


def plan_softmax(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    dimensions = len(shape) + 1   # the batch axis comes first
    if not -dimensions <= config["axis"] < dimensions:
        raise ValueError(f"config 'axis' = {config['axis']} is not an axis of its input, shape "
                         f"(batch, {', '.join(map(str, shape))})")
    return plan_same_shape(config, shape, arrays)


def plan_normalize(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    if len(config["mean"]) != len(config["std"]):
        raise ValueError(f"config 'mean' has {len(config['mean'])} values and 'std' {len(config['std'])}")
    need_images(shape, len(config["mean"]), f"config 'mean' has {len(config['mean'])} channels")
    return plan_same_shape(config, shape, arrays)


def quantized_weight(arrays: Mapping[str, Shape], dimensions: int) -> Shape:
    weight = arrays.get("weight")
    if weight is None or len(weight) != dimensions:
        raise ValueError(f"needs a {dimensions}-D array 'weight', the file has "
                         f"{'none' if weight is None else f'one of shape {weight}'}")
    return weight


def plan_quantized_linear(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    in_features, out_features = quantized_weight(arrays, 2)
    need_features(shape, in_features, f"array 'weight' has shape {arrays['weight']}")
    output = (*shape[:-1], out_features)
    return Footprint(output, sum(map(math.prod, arrays.values())), math.prod(output),
                     math.prod(output) * in_features)


def plan_quantized_conv2d(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    out_channels, in_channels, kernel, kernel_width = quantized_weight(arrays, 4)
    if kernel != kernel_width:
        raise ValueError(f"array 'weight' of shape {arrays['weight']} is not a square kernel")
    need_images(shape, in_channels, f"array 'weight' has shape {arrays['weight']}")
    height, width = window_positions(shape, kernel, config["stride"], config["padding"])
    output = (out_channels, height, width)
    windows = in_channels * kernel * kernel * height * width
    return Footprint(output, sum(map(math.prod, arrays.values())), max(math.prod(output), windows),
                     windows * out_channels)


# -- the registry -------------------------------------------------------------------------

def _no_config(layer: Any) -> dict[str, Any]:
    return {}


def _bias(layer: Any) -> bool:
    return layer.bias is not None


@dataclass(frozen=True)
class LayerType:
    """How one kind of layer goes into a model file and comes back out.

    - ``cls``: the class; only layers of exactly this class are accepted (a subclass may
      compute something else);
    - ``config``: the constructor arguments that rebuild the layer, as JSON values;
    - ``fields``: the rule for each of those arguments (every one is required, no other is
      accepted), and ``plan``: what the layer implies for one image (:class:`Footprint`),
      both used by :func:`check_architecture` before anything is built.

    The arrays are the layer's ``state_dict()`` (kata 03): its parameters and its buffers,
    such as BatchNorm2d's running statistics, which evaluation needs as much as the weights.
    """

    cls: type
    config: Callable[[Any], dict[str, Any]] = _no_config
    fields: Mapping[str, Rule] = field(default_factory=dict)
    plan: Callable[[dict[str, Any], Shape, Mapping[str, Shape]], Footprint] = plan_same_shape

    def arrays(self, layer: Any) -> dict[str, np.ndarray]:
        """The layer's arrays by name (none for an activation, which is not a Module)."""
        return layer.state_dict() if isinstance(layer, Module) else {}

    def footprint(self, config: Any, shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
        """Check ``config`` field by field, then :attr:`plan` the layer for one input of
        ``shape`` given the shapes of its ``arrays``; ``ValueError`` naming the field."""
        if not isinstance(config, dict):
            raise TypeError(f"config must be a JSON object, got {short_repr(config)}")
        unknown = sorted(set(config) - set(self.fields))
        if unknown:
            raise ValueError(f"config has unknown keys {unknown}; {self.cls.__name__} takes "
                             f"{sorted(self.fields) or 'none'}")
        missing = [key for key in self.fields if key not in config]
        if missing:
            raise ValueError(f"config is missing {missing}")
        checked = {key: rule(key, config[key]) for key, rule in self.fields.items()}
        return self.plan(checked, shape, arrays)

    def rebuild(self, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        """A new layer from ``config``, holding ``arrays``; ``ValueError`` if they do not fit.

        ``load_state_dict`` names missing keys, unexpected keys and shape mismatches, and
        casts each array into the layer's own dtype (a float16 weight comes back float32).
        """
        if not isinstance(config, dict):
            raise TypeError(f"the config must be a JSON object, got {short_repr(config)}")
        layer = self.cls(**config)
        if isinstance(layer, Module):
            layer.load_state_dict(arrays)
        elif arrays:
            raise ValueError(f"{self.cls.__name__} has no arrays, the file holds {sorted(arrays)}")
        return layer


@dataclass(frozen=True)
class QuantizedLayerType(LayerType):
    """Kata 15's int8 layers: the weight's int8 values, scales and zero points, the float32
    bias, and (static quantization) the input's scale and zero point."""

    def arrays(self, layer: Any) -> dict[str, np.ndarray]:
        arrays = {"weight": layer.weight.data, "weight_scale": layer.weight.scale,
                  "weight_zero_point": layer.weight.zero_point}
        if layer.bias is not None:
            arrays["bias"] = layer.bias
        if layer.static:
            arrays["input_scale"] = layer.input_scale
            arrays["input_zero_point"] = layer.input_zero_point
        return arrays

    def rebuild(self, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        if not isinstance(config, dict):
            raise TypeError(f"the config must be a JSON object, got {short_repr(config)}")
        arrays = dict(arrays)
        options = dict(config)
        missing = [name for name in ("weight", "weight_scale", "weight_zero_point") if name not in arrays]
        if missing:
            raise ValueError(f"missing arrays {missing}")
        weight = QuantizedTensor(arrays.pop("weight"), arrays.pop("weight_scale"),
                                 arrays.pop("weight_zero_point"), options.pop("axis", None))
        bias = arrays.pop("bias", None)
        input_scale, input_zero_point = arrays.pop("input_scale", None), arrays.pop("input_zero_point", None)
        if arrays:
            raise ValueError(f"unexpected arrays {sorted(arrays)}")
        layer = self.cls(weight, bias, **options)
        if (input_scale is None) != (input_zero_point is None):
            raise ValueError("a static layer needs both input_scale and input_zero_point")
        if input_scale is not None:
            layer.input_scale = np.asarray(input_scale, dtype=np.float32)
            layer.input_zero_point = np.asarray(input_zero_point, dtype=np.int32)
        return layer


POOL_FIELDS = {"kernel_size": size(), "stride": size()}
AXIS_FIELDS = {"axis": integer}

LAYER_TYPES: dict[str, LayerType] = {
    "Linear": LayerType(
        Linear, lambda layer: {"in_features": layer.in_features, "out_features": layer.out_features,
                               "bias": _bias(layer)},
        {"in_features": size(), "out_features": size(), "bias": flag}, plan_linear),
    "Conv2d": LayerType(
        Conv2d, lambda layer: {"in_channels": layer.in_channels, "out_channels": layer.out_channels,
                               "kernel_size": layer.kernel_size, "stride": layer.stride,
                               "padding": layer.padding, "bias": _bias(layer)},
        {"in_channels": size(), "out_channels": size(), "kernel_size": size(), "stride": size(),
         "padding": size(0), "bias": flag}, plan_conv2d),
    "BatchNorm2d": LayerType(
        BatchNorm2d, lambda layer: {"num_features": layer.num_features, "momentum": layer.momentum,
                                    "eps": layer.eps},
        {"num_features": size(), "momentum": number(0, 1), "eps": number(1e-12, 1)}, plan_batch_norm),
    "MaxPool2d": LayerType(MaxPool2d, lambda layer: {"kernel_size": layer.kernel_size, "stride": layer.stride},
                           POOL_FIELDS, plan_pool),
    "AvgPool2d": LayerType(AvgPool2d, lambda layer: {"kernel_size": layer.kernel_size, "stride": layer.stride},
                           POOL_FIELDS, plan_pool),
    "Flatten": LayerType(Flatten, plan=plan_flatten),
    "ReLU": LayerType(ReLU),
    "Sigmoid": LayerType(Sigmoid),
    "Tanh": LayerType(Tanh),
    "GELU": LayerType(GELU),
    "Softmax": LayerType(Softmax, lambda layer: {"axis": layer.axis}, AXIS_FIELDS, plan_softmax),
    "LogSoftmax": LayerType(LogSoftmax, lambda layer: {"axis": layer.axis}, AXIS_FIELDS, plan_softmax),
    "Dropout": LayerType(Dropout, lambda layer: {"p": layer.p}, {"p": number(0, 1, high_included=False)}),
    "Normalize": LayerType(Normalize, lambda layer: {"mean": layer.mean.tolist(), "std": layer.std.tolist()},
                           {"mean": per_channel(-1e6, 1e6), "std": per_channel(1e-12, 1e6)}, plan_normalize),
    "QuantizedLinear": QuantizedLayerType(QuantizedLinear, lambda layer: {"axis": layer.weight.axis},
                                          {"axis": optional_axis(1)}, plan_quantized_linear),
    "QuantizedConv2d": QuantizedLayerType(
        QuantizedConv2d, lambda layer: {"axis": layer.weight.axis, "stride": layer.stride,
                                        "padding": layer.padding},
        {"axis": optional_axis(0), "stride": size(), "padding": size(0)}, plan_quantized_conv2d),
}


@dataclass(frozen=True)
class Limits:
    """What an architecture may imply: parameters, numbers one layer makes from one input
    (``values_of`` says what that input is), and operations per ``operations_per``."""

    parameters: int
    values: int
    operations: int
    values_of: str
    operations_per: str


IMAGE_LIMITS = Limits(MAX_PARAMETERS, MAX_VALUES_PER_IMAGE, MAX_OPERATIONS_PER_IMAGE, "one image", "image")


def check_architecture(layers: list[Any], arrays: Mapping[str, np.ndarray], where: str,
                       input_shape: Shape = INPUT_SHAPE, registry: Mapping[str, LayerType] = LAYER_TYPES,
                       limits: Limits = IMAGE_LIMITS) -> None:
    """Refuse an architecture before it is built if it is malformed or too large.

    ``layers`` is the architecture's list of ``{"type", "config"}`` objects and ``arrays``
    the file's arrays (``"<index>/<name>"``; only their shapes are used, for the quantized
    layers, whose sizes the arrays give). One image of ``input_shape`` is followed through
    the layers. A ``ValueError`` starting with ``where`` names the first layer at fault and
    its field:

    - more than ``MAX_LAYERS`` layers; a type not in ``LAYER_TYPES``;
    - a configuration field missing, unknown, of the wrong type or out of range (sizes are
      integers from 1 to ``MAX_DIMENSION``: ``Linear(0, 10)`` and ``Linear(2.5, 10)`` are
      refused here);
    - a layer whose input does not fit it (``in_features`` against the features arriving);
    - parameters adding up to more than ``MAX_PARAMETERS``, a layer that would make more
      than ``MAX_VALUES_PER_IMAGE`` numbers from one image, or layers running more than
      ``MAX_OPERATIONS_PER_IMAGE`` operations on one image (verification runs the model on
      about 7,000 images: the limits bound its memory, and this one its time).

    ``registry`` and ``limits`` are the digits' unless given: the TinyTalks event checks its
    one-layer architecture, a GPT, with ``olympics_talks``'s.
    """
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"{where}: the architecture has {len(layers):,} layers, more than the "
                         f"{MAX_LAYERS} a model may have")
    shape, parameters, operations = tuple(input_shape), 0, 0
    for index, layer in enumerate(layers):
        name = layer.get("type") if isinstance(layer, dict) else None
        kind = registry.get(name) if isinstance(name, str) else None
        if kind is None:
            raise ValueError(f"{where}: layer {index} has the unknown type {short_repr(name)}; known types "
                             f"are {', '.join(registry)}")
        prefix = f"{index}/"
        own = {key[len(prefix):]: array.shape for key, array in arrays.items() if key.startswith(prefix)}
        config = layer.get("config", {})
        try:
            footprint = kind.footprint(config, shape, own)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: layer {index} ({name}): {error}") from None
        parameters += footprint.parameters
        if parameters > limits.parameters:
            raise ValueError(f"{where}: layer {index} ({name}): config {shorten(json.dumps(config), 120)} "
                             f"means {footprint.parameters:,} parameters, {parameters:,} so far, more "
                             f"than the {limits.parameters:,} a model may hold")
        if footprint.values > limits.values:
            raise ValueError(f"{where}: layer {index} ({name}): config {shorten(json.dumps(config), 120)} "
                             f"makes {footprint.values:,} numbers from {limits.values_of} (output "
                             f"{footprint.output}), more than the {limits.values:,} a layer may make")
        operations += footprint.operations
        if operations > limits.operations:
            raise ValueError(f"{where}: layer {index} ({name}): config {shorten(json.dumps(config), 120)} "
                             f"runs {footprint.operations:,} operations per {limits.operations_per}, "
                             f"{operations:,} so far, more than the {limits.operations:,} a model may run")
        shape = footprint.output
