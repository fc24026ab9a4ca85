import pytest

from pipe_torch import tokenizer as tokenizers


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizers.build()


def test_build_is_deterministic(tokenizer):
    assert tokenizers.build().backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()
    assert len(tokenizer) == 512


@pytest.mark.parametrize("text", [
    "Which region?\nA: chest\nB: brain Output the final answer in <answer> </answer> tags.",
    "<think> a CT image of the chest. so the answer is chest. </think> <answer> B </answer>",
    "unseen words: pneumothorax, 肺部CT, café, tabs\tand  spaces",
])
def test_round_trip(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text


def test_special_tokens_are_single_ids_and_the_chat_template_is_qwens(tokenizer):
    for token in tokenizers.SPECIAL_TOKENS:
        assert tokenizer(token, add_special_tokens=False)["input_ids"] == [tokenizer.convert_tokens_to_ids(token)]
    text = tokenizer.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]}],
                                         tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                    "<|vision_start|><|image_pad|><|vision_end|>Q<|im_end|>\n<|im_start|>assistant\n")
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
