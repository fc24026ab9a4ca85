import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from pipe_torch import model as models
from pipe_torch.errors import PipeTorchError


@pytest.fixture(scope="module")
def tiny():
    return models.build({}, seed=3)


def _inputs(processor):
    image = Image.fromarray(np.random.RandomState(1).randint(0, 256, (56, 56, 3)).astype(np.uint8))
    text = processor.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]}],
                                         tokenize=False, add_generation_prompt=True)
    return processor(images=[image], text=[text], return_tensors="pt")


def test_build_is_seeded(tiny):
    model, _ = tiny
    again, _ = models.build({}, seed=3)
    other, _ = models.build({}, seed=4)
    state, same, different = model.state_dict(), again.state_dict(), other.state_dict()
    assert all(torch.equal(state[k], same[k]) for k in state)
    assert any(not torch.equal(state[k], different[k]) for k in state)
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 400_000


def test_save_and_reload_give_identical_logits(tiny, tmp_path):
    model, processor = tiny
    directory = str(tmp_path / "model")
    models.save(model, processor, directory, {"reasoning": "instruct"})
    loaded, loaded_processor = models.load(directory)
    inputs, again = _inputs(processor), _inputs(loaded_processor)
    assert all(torch.equal(inputs[k], again[k]) for k in inputs)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, loaded(**again).logits)
    assert models.read_pipe_info(directory) == {"reasoning": "instruct"}
    assert type(loaded_processor.image_processor).__name__ == "Qwen2VLImageProcessorPil"
    with open(os.path.join(directory, "processor_config.json")) as file:
        assert json.load(file)["processor_class"] == "Qwen2VLProcessor"


@pytest.mark.parametrize("config, message, hint", [
    ({"hidden_sise": 64}, "model.config.hidden_sise: unknown model config key 'hidden_sise'", "did you mean `hidden_size`?"),
    ({"layers": 0}, "model.config.layers: 0 is not an integer from 1 to 256", ""),
    ({"layers": "2"}, "model.config.layers: '2' is not an integer", ""),
    ({"hidden_size": 60, "heads": 8}, "hidden_size 60 must be divisible by heads 8", "sizes fit"),
    ({"image_size": 50}, "image_size 50 must be a multiple of patch_size x spatial_merge_size = 28", ""),
    ([], "model.config must be a mapping", ""),
])
def test_config_errors(config, message, hint):
    with pytest.raises(PipeTorchError) as caught:
        models.resolve_config(config)
    assert message in caught.value.message and hint in caught.value.hint


def _checkpoint(tmp_path, config=None, files=("model.safetensors", "processor_config.json", "tokenizer.json")):
    directory = tmp_path / "ckpt"
    directory.mkdir()
    if config is not None:
        (directory / "config.json").write_text(json.dumps(config))
    for name in files:
        (directory / name).write_text("{}")
    return str(directory)


@pytest.mark.parametrize("make, message", [
    (lambda t: str(t / "absent"), "does not exist"),
    (lambda t: str((t / "file").write_text("x") and t / "file"), "is not a directory"),
    (lambda t: _checkpoint(t), "has no config.json: it is not a Hugging Face checkpoint"),
    (lambda t: _checkpoint(t, {"model_type": "llama"}), "holds a 'llama' model, not a Qwen2-VL-family vision-language model"),
    (lambda t: _checkpoint(t, {"model_type": "qwen2_vl"}, files=("processor_config.json", "tokenizer.json")), "has no .safetensors weights"),
    (lambda t: _checkpoint(t, {"model_type": "qwen2_vl"}, files=("model.safetensors",)), "has no processor"),
])
def test_checkpoint_errors(tmp_path, make, message):
    with pytest.raises(PipeTorchError) as caught:
        models.check_path(make(tmp_path))
    assert message in caught.value.message and caught.value.exit_code == 2


def test_a_qwen2_5_vl_checkpoint_loads_and_its_preprocessing_is_the_attacks(tmp_path):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessorPil

    from pipe_torch import attacks, chat, tokenizer as tokenizers
    tokenizer = tokenizers.build()
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, eos_token_id=ids("<|im_end|>"), pad_token_id=0, bos_token_id=None,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, patch_size=14,
                           spatial_merge_size=2, window_size=56, fullatt_block_indexes=[1]),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"), vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"))
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    processor = models.processor_class("Qwen2_5_VLProcessor")(image_processor=Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=3136),
                                                              tokenizer=tokenizer, chat_template=tokenizer.chat_template)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert models.check_path(str(tmp_path)) == "qwen2_5_vl"
    loaded, loaded_processor = models.load(str(tmp_path))
    assert type(loaded).__name__ == "Qwen2_5_VLForConditionalGeneration"
    inputs = _inputs(loaded_processor)
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, loaded(**inputs).logits)
    image = Image.fromarray(np.random.RandomState(1).randint(0, 256, (56, 56, 3)).astype(np.uint8))
    pixels = chat.pixels01(image).unsqueeze(0)
    assert torch.equal(attacks.preprocess(pixels, loaded_processor.image_processor), inputs["pixel_values"])


def test_a_corrupt_checkpoint_is_an_input_error(tmp_path, tiny):
    model, processor = tiny
    directory = tmp_path / "model"
    models.save(model, processor, str(directory), {})
    (directory / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(PipeTorchError) as caught:
        models.load(str(directory))
    assert f"cannot load the checkpoint in '{directory}'" in caught.value.message and caught.value.exit_code == 2
