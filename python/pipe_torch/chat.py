"""Dataset records as model inputs: chat messages with the image, PIL images at the model's
resolution, and the processor's tensors."""

import numpy as np

from . import prompts
from .data import Dataset, Record, rationale_for


def messages(record: Record, mode: str) -> list:
    """The user turn: the image, then Med-R1's prompt."""
    text = prompts.prompt(record.question, record.options, mode)
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]


def completion(dataset: Dataset, record: Record, mode: str) -> list:
    """The assistant turn trained on: Med-R1's target for `record`."""
    text = prompts.target(record.answer_letter, rationale_for(dataset, record), mode)
    return [{"role": "assistant", "content": [{"type": "text", "text": text}]}]


def model_side(processor) -> int:
    """The square side the processor resizes images to (its smart_resize of the dataset's images is
    then the identity)."""
    ip = processor.image_processor
    return ip.patch_size * ip.merge_size


def target_size(processor, size: int) -> tuple:
    """(height, width) the processor gives a size x size image."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    ip = processor.image_processor
    return smart_resize(size, size, factor=ip.patch_size * ip.merge_size, min_pixels=ip.size.shortest_edge,
                        max_pixels=ip.size.longest_edge)


def pil_image(dataset: Dataset, row: int, processor):
    """The dataset's image `row` at the model's resolution (PIL bicubic, as the processor resizes)."""
    from PIL import Image
    image = Image.fromarray(np.asarray(dataset.image(row)), mode="RGB")
    height, width = target_size(processor, dataset.image_size)
    if (width, height) != image.size:
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    return image


def pixels01(image) -> "torch.Tensor":
    """A PIL image as a (3, H, W) float tensor in [0, 1]: the space attacks perturb."""
    import torch
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255


def prompt_batch(processor, records: list, images: list, mode: str, answers: list = None):
    """The processor's tensors for `records` (left-padded), generation prompt appended; with
    `answers` (texts), each prompt is followed by its answer text (teacher forcing) and the batch has
    `answer_mask` marking those tokens."""
    import torch
    texts = [processor.apply_chat_template(messages(r, mode), tokenize=False, add_generation_prompt=True) for r in records]
    if answers is None:
        return processor(images=images, text=texts, padding=True, padding_side="left", return_tensors="pt")
    tokenizer = processor.tokenizer
    answer_ids = [tokenizer(a, add_special_tokens=False)["input_ids"] for a in answers]
    batch = processor(images=images, text=texts, padding=True, padding_side="left", return_tensors="pt")
    width = max(len(a) for a in answer_ids)
    pad = tokenizer.pad_token_id
    extra = torch.tensor([a + [pad] * (width - len(a)) for a in answer_ids], dtype=batch["input_ids"].dtype)
    mask = torch.tensor([[1] * len(a) + [0] * (width - len(a)) for a in answer_ids], dtype=batch["attention_mask"].dtype)
    batch["input_ids"] = torch.cat([batch["input_ids"], extra], dim=1)
    batch["attention_mask"] = torch.cat([batch["attention_mask"], mask], dim=1)
    batch["mm_token_type_ids"] = torch.cat([batch["mm_token_type_ids"], torch.zeros_like(extra)], dim=1)
    batch["answer_mask"] = torch.cat([torch.zeros_like(batch["attention_mask"][:, :-width]), mask], dim=1)
    return batch
