"""Greedy decoding and Med-R1's scoring: predictions (`predictions.jsonl`) and their summary (the
Swift side's `EvaluationResult`)."""

import json

from . import prompts
from .chat import pil_image, prompt_batch

BATCH = 8


def decode(model, processor, dataset, records: list, mode: str, max_new_tokens: int, pixel_values=None) -> list:
    """(completion text, completion tokens) for each record by greedy decoding, in batches of
    `BATCH`; `pixel_values` (one (patches, dim) tensor per record) replace the images' own."""
    import torch
    tokenizer = processor.tokenizer
    stops = {tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.pad_token_id, model.generation_config.eos_token_id}
    outputs = []
    model.eval()
    for first in range(0, len(records), BATCH):
        chunk = records[first:first + BATCH]
        batch = prompt_batch(processor, chunk, [pil_image(dataset, r.image, processor) for r in chunk], mode)
        if pixel_values is not None:
            batch["pixel_values"] = torch.cat(pixel_values[first:first + BATCH], dim=0)
        batch = batch.to(model.device)
        with torch.no_grad():
            generated = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                       eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                       pad_token_id=tokenizer.pad_token_id)
        for row in generated[:, batch["input_ids"].shape[1]:].tolist():
            ids = []
            for token in row:
                if token in stops:
                    break
                ids.append(token)
            outputs.append((tokenizer.decode(ids, skip_special_tokens=True), len(ids)))
    return outputs


def prediction(record, completion: str, tokens: int, mode: str) -> dict:
    """One line of `predictions.jsonl` (the Swift side's `Prediction`; `predicted` absent when the
    completion has no `<answer>`)."""
    letter = prompts.answer_letter(completion)
    line = {"question_id": record.question_id, "modality": record.modality, "question_type": record.question_type,
            "answer": record.answer_letter, "correct": letter == record.answer_letter,
            "well_formed": prompts.is_well_formed(completion, mode), "completion_tokens": tokens, "completion": completion}
    if letter is not None:
        line["predicted"] = letter
    return line


def score(model, processor, dataset, records, mode, max_new_tokens, pixel_values=None) -> tuple:
    """(summary, predictions) of greedy decoding on `records`."""
    decoded = decode(model, processor, dataset, records, mode, max_new_tokens, pixel_values)
    predictions = [prediction(r, text, n, mode) for r, (text, n) in zip(records, decoded)]
    return summarize(predictions), predictions


def _share(predictions, key) -> dict:
    counts = {}
    for p in predictions:
        right, total = counts.get(p[key], (0, 0))
        counts[p[key]] = (right + p["correct"], total + 1)
    return {k: right / total for k, (right, total) in sorted(counts.items())}


def summarize(predictions: list) -> dict:
    """count, accuracy, formatRate, meanCompletionTokens, byModality, byQuestionType."""
    n = max(1, len(predictions))
    return {"count": len(predictions), "accuracy": sum(p["correct"] for p in predictions) / n,
            "formatRate": sum(p["well_formed"] for p in predictions) / n,
            "meanCompletionTokens": sum(p["completion_tokens"] for p in predictions) / n,
            "byModality": _share(predictions, "modality"), "byQuestionType": _share(predictions, "question_type")}


def json_lines(predictions: list) -> str:
    """`predictions.jsonl`: one JSON object a line, keys sorted."""
    return "".join(json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n" for p in predictions)


def write_json(value, path: str) -> None:
    """Pretty JSON with sorted keys (deterministic bytes)."""
    with open(path, "w", encoding="utf-8") as file:
        file.write(json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
