"""The offline tokenizer of randomly initialised models: a byte-level BPE trained on fixed strings
(Med-R1's instructions and rationale words, tags, letters), Qwen2-VL's special tokens and chat
template, wrapped in `PreTrainedTokenizerFast`. Built the same way every time; nothing downloads.
Byte-level, so it encodes any text (unseen words fall back to bytes)."""

from .prompts import INSTRUCTIONS, rationale

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
]

# Qwen2-VL-Instruct's chat template.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_WORDS = (
    "Which imaging modality technique was used to acquire produced this image? What anatomical region organ is shown "
    "How severe is the abnormality lesion grade What is the most likely diagnosis finding How many lesions are visible "
    "CT MRI X-Ray Ultrasound Dermoscopy Fundus Photography OCT Microscopy Images chest brain abdomen knee spine heart "
    "liver lung kidney skin retina eye cell tissue bone normal mild moderate severe cyst tumor nodule hemorrhage "
    "fracture edema lesion 0 1 2 3 4 5 6 7 8 9 yes no vs so the answer is a an of"
)


def corpus() -> list:
    """The fixed strings the BPE is trained on."""
    texts = list(INSTRUCTIONS.values()) + [_WORDS]
    texts.append(rationale("CT", "chest", "cyst", "mild", "chest", ["brain", "chest", "knee", "liver"]))
    texts += [f"<think> </think> <answer> {letter} </answer>" for letter in "ABCD"] + ["A: B: C: D:\n"]
    return texts * 4


def build(vocab_size: int = 512):
    """A fresh tokenizer (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        unk_token=None, bos_token=None, clean_up_tokenization_spaces=False)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
