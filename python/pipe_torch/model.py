"""Qwen2-VL-family policies: a processor that needs no video processor (and so no torchvision), a
small random model built from `model: {config: {...}}` seeded by the stage seed, and checkpoints
loaded from `model: {path: DIR}` (a Hugging Face model directory), each checked before any weight is read."""

import json
import os

from .errors import PipeTorchError

# `model.config` keys: name -> (default, low, high). The text model's width, depth and heads; the
# vision tower's; the square image side the processor resizes every image to (a multiple of
# patch_size x spatial_merge_size).
CONFIG_KEYS = {
    "hidden_size": (64, 8, 16384),
    "intermediate_size": (128, 8, 65536),
    "layers": (2, 1, 256),
    "heads": (4, 1, 256),
    "kv_heads": (2, 1, 256),
    "vision_depth": (2, 1, 256),
    "vision_embed_dim": (32, 8, 8192),
    "vision_heads": (2, 1, 256),
    "vision_mlp_ratio": (2, 1, 16),
    "patch_size": (14, 1, 64),
    "spatial_merge_size": (2, 1, 8),
    "image_size": (56, 8, 4096),
    "max_position_embeddings": (4096, 64, 1 << 20),
    "vocab_size": (512, 300, 65536),
}
# model_type in config.json -> (model class, processor base class) in transformers.
FAMILY = {
    "qwen2_vl": ("Qwen2VLForConditionalGeneration", "Qwen2VLProcessor"),
    "qwen2_5_vl": ("Qwen2_5_VLForConditionalGeneration", "Qwen2_5_VLProcessor"),
}
PIPE_FILE = "pipe.json"
PATH_HINT = "give `model: {path: DIR}` a local Hugging Face checkpoint directory of a Qwen2-VL-family model (its config.json has model_type qwen2_vl or qwen2_5_vl)"


def did_you_mean(name: str, names) -> str:
    import difflib
    close = difflib.get_close_matches(name, list(names), n=1)
    return f"did you mean `{close[0]}`? " if close else ""


def resolve_config(options: dict, where: str = "model.config") -> dict:
    """The config with its defaults filled in; unknown keys and values out of range are errors."""
    if not isinstance(options, dict):
        raise PipeTorchError(f"{where} must be a mapping of the keys {', '.join(CONFIG_KEYS)}; got {options!r}")
    for key in options:
        if key not in CONFIG_KEYS:
            raise PipeTorchError(f"{where}.{key}: unknown model config key {key!r}",
                                 did_you_mean(key, CONFIG_KEYS) + f"the keys are: {', '.join(CONFIG_KEYS)}")
    config = {}
    for key, (default, low, high) in CONFIG_KEYS.items():
        value = options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise PipeTorchError(f"{where}.{key}: {value!r} is not an integer from {low} to {high}")
        config[key] = value
    _check_shape(config, where)
    return config


def _check_shape(c: dict, where: str) -> None:
    problems = []
    if c["hidden_size"] % c["heads"] or (c["hidden_size"] // c["heads"]) % 2:
        problems.append(f"hidden_size {c['hidden_size']} must be divisible by heads {c['heads']} into an even head size")
    if c["heads"] % c["kv_heads"]:
        problems.append(f"heads {c['heads']} must be divisible by kv_heads {c['kv_heads']}")
    if c["vision_embed_dim"] % c["vision_heads"] or (c["vision_embed_dim"] // c["vision_heads"]) % 4:
        problems.append(f"vision_embed_dim {c['vision_embed_dim']} must be divisible by vision_heads {c['vision_heads']} into a head size divisible by 4")
    factor = c["patch_size"] * c["spatial_merge_size"]
    if c["image_size"] % factor:
        problems.append(f"image_size {c['image_size']} must be a multiple of patch_size x spatial_merge_size = {factor}")
    if problems:
        raise PipeTorchError(f"{where}: " + "; ".join(problems), "change the config so that the sizes fit together")


def processor_class(base_name: str = "Qwen2VLProcessor"):
    """`base_name` without its video processor: transformers 5.25 requires one, and the video
    processor needs torchvision, which this environment does not have."""
    import transformers
    from transformers.processing_utils import ProcessorMixin

    base = getattr(transformers, base_name)

    class Processor(base):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            kwargs.pop("video_processor", None)
            self.image_token = getattr(tokenizer, "image_token", None) or "<|image_pad|>"
            self.video_token = getattr(tokenizer, "video_token", None) or "<|video_pad|>"
            self.image_token_id = getattr(tokenizer, "image_token_id", None) or tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = getattr(tokenizer, "video_token_id", None) or tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

        @classmethod
        def from_pretrained(cls, directory, **kwargs):
            """The processor saved in `directory`: its tokenizer and the PIL image processor."""
            from transformers import AutoTokenizer, Qwen2VLImageProcessorPil
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            image_processor = Qwen2VLImageProcessorPil.from_pretrained(directory, local_files_only=True)
            return cls(image_processor=image_processor, tokenizer=tokenizer, chat_template=tokenizer.chat_template)

    # Saved as the base class, so that a full transformers install (with torchvision) loads it as usual.
    Processor.__name__ = Processor.__qualname__ = base_name
    return Processor


def _mrope_section(head_dim: int) -> list:
    half = head_dim // 2
    spatial = half * 3 // 8
    return [half - 2 * spatial, spatial, spatial]


def build(config_options: dict, seed: int):
    """A randomly initialised Qwen2-VL from `model.config` (defaults filled in), weights drawn from
    torch's generator seeded with `seed`; returns (model, processor)."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessorPil

    from .tokenizer import build as build_tokenizer

    c = resolve_config(config_options)
    tokenizer = build_tokenizer(c["vocab_size"])
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in [
        ("image", "<|image_pad|>"), ("video", "<|video_pad|>"), ("start", "<|vision_start|>"), ("end", "<|vision_end|>"),
        ("eos", "<|im_end|>"), ("pad", "<|endoftext|>")]}
    head_dim = c["hidden_size"] // c["heads"]
    text = dict(vocab_size=len(tokenizer), hidden_size=c["hidden_size"], intermediate_size=c["intermediate_size"],
                num_hidden_layers=c["layers"], num_attention_heads=c["heads"], num_key_value_heads=c["kv_heads"],
                max_position_embeddings=c["max_position_embeddings"], eos_token_id=ids["eos"], pad_token_id=ids["pad"],
                bos_token_id=None, tie_word_embeddings=True,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": _mrope_section(head_dim)})
    vision = dict(depth=c["vision_depth"], embed_dim=c["vision_embed_dim"], hidden_size=c["hidden_size"],
                  num_heads=c["vision_heads"], mlp_ratio=c["vision_mlp_ratio"], patch_size=c["patch_size"],
                  spatial_merge_size=c["spatial_merge_size"], temporal_patch_size=2)
    config = Qwen2VLConfig(text_config=text, vision_config=vision, image_token_id=ids["image"], video_token_id=ids["video"],
                           vision_start_token_id=ids["start"], vision_end_token_id=ids["end"], tie_word_embeddings=True)
    pixels = c["image_size"] ** 2
    image_processor = Qwen2VLImageProcessorPil(min_pixels=pixels, max_pixels=pixels, patch_size=c["patch_size"],
                                               merge_size=c["spatial_merge_size"], temporal_patch_size=2)
    processor = processor_class()(image_processor=image_processor, tokenizer=tokenizer, chat_template=tokenizer.chat_template)
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["eos"]
    model.generation_config.pad_token_id = ids["pad"]
    model.generation_config.bos_token_id = None
    return model, processor


def check_path(path: str) -> str:
    """Checks that `path` is a Qwen2-VL-family checkpoint directory without reading its weights;
    returns its model_type."""
    if not isinstance(path, str) or not path:
        raise PipeTorchError(f"model.path must be a directory path; got {path!r}", PATH_HINT)
    if not os.path.exists(path):
        raise PipeTorchError(f"model.path {path!r} does not exist", PATH_HINT)
    if not os.path.isdir(path):
        raise PipeTorchError(f"model.path {path!r} is not a directory", PATH_HINT)
    config_path = os.path.join(path, "config.json")
    try:
        with open(config_path, encoding="utf-8") as file:
            config = json.load(file)
    except FileNotFoundError:
        raise PipeTorchError(f"model.path {path!r} has no config.json: it is not a Hugging Face checkpoint", PATH_HINT) from None
    except (OSError, ValueError) as error:
        raise PipeTorchError(f"cannot read {config_path}: {error}", PATH_HINT) from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in FAMILY:
        raise PipeTorchError(f"model.path {path!r} holds a {model_type!r} model, not a Qwen2-VL-family vision-language model "
                             f"({' or '.join(FAMILY)})", PATH_HINT)
    weights = [n for n in os.listdir(path) if n.endswith(".safetensors") or n.endswith(".safetensors.index.json")]
    if not weights:
        raise PipeTorchError(f"model.path {path!r} has no .safetensors weights", PATH_HINT)
    has = lambda *names: any(os.path.isfile(os.path.join(path, n)) for n in names)
    if not has("processor_config.json", "preprocessor_config.json") or not has("tokenizer.json", "tokenizer_config.json"):
        raise PipeTorchError(f"model.path {path!r} has no processor (processor_config.json or preprocessor_config.json, and a tokenizer)",
                             "save the processor beside the weights: processor.save_pretrained(DIR)")
    return model_type


def load(path: str):
    """The model and processor in checkpoint directory `path` (checked first); returns (model, processor)."""
    import transformers

    model_type = check_path(path)
    model_name, processor_name = FAMILY[model_type]
    try:
        processor = processor_class(processor_name).from_pretrained(path)
        model = getattr(transformers, model_name).from_pretrained(path, local_files_only=True, dtype="float32")
    except Exception as error:  # a corrupt or incomplete checkpoint is bad input, reported, never a traceback
        raise PipeTorchError(f"cannot load the checkpoint in {path!r}: {type(error).__name__}: {str(error)[:300]}",
                             "check that the directory is a complete save_pretrained of the model and its processor") from None
    return model, processor


def read_pipe_info(path: str) -> dict:
    """`pipe.json` beside a checkpoint written by this package ({} for other checkpoints)."""
    try:
        with open(os.path.join(path, PIPE_FILE), encoding="utf-8") as file:
            info = json.load(file)
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def save(model, processor, directory: str, info: dict) -> None:
    """Writes the model (safetensors), processor, tokenizer and `pipe.json` (`info`) into `directory`."""
    os.makedirs(directory, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    with open(os.path.join(directory, PIPE_FILE), "w", encoding="utf-8") as file:
        file.write(json.dumps(info, sort_keys=True, indent=2) + "\n")
