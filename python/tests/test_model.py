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
