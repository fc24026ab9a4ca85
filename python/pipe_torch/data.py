"""Reads an `unpack` artifact (format `pipe-vqa 1`, see Sources/PipeData/DatasetFiles.swift):
`index.json` (image paths by row, every record with its image row and split) and `images.u8`
(N x size x size x 3 bytes, row-major RGB)."""

import json
import os
from dataclasses import dataclass, field

import numpy as np

from .errors import PipeTorchError

FORMAT = "pipe-vqa 1"
SPLITS = ("train", "val", "test")
HINT = "give an `unpack` stage's artifact as the `dataset` input"


@dataclass
class Record:
    """One multiple-choice question about one image (`VQARecord`)."""

    question_id: str
    question_type: str
    modality: str
    question: str
    options: list
    answer: int
    image_path: str
    dataset: str
    image: int
    split: str
    chain_id: str = None
    chain_step: int = None

    @property
    def answer_letter(self) -> str:
        return chr(65 + self.answer)

    def with_options(self, order: list) -> "Record":
        """The same question with option k = options[order[k]], the answer moved with its text."""
        copy = Record(**self.__dict__)
        copy.options = [self.options[k] for k in order]
        copy.answer = order.index(self.answer)
        return copy


@dataclass
class Dataset:
    directory: str
    image_size: int
    records: list
    images: np.ndarray  # (N, H, W, 3) uint8, memory-mapped
    attributes: dict = field(default_factory=dict)

    def split(self, name: str) -> list:
        return [r for r in self.records if r.split == name]

    def image(self, row: int) -> np.ndarray:
        return self.images[row]

    def rationale_facts(self, record: Record) -> dict:
        """The answers of the image's questions by question type (its known attributes)."""
        return self.attributes.get(record.image_path, {})


def _field(raw, key, kind, where):
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise PipeTorchError(f"{where}: field `{key}` is missing or not a {kind.__name__}", HINT)
    return value


def _record(entry, number, path, image_count) -> Record:
    where = f"{path}: records[{number}]"
    raw = _field(entry, "record", dict, where)
    options = _field(raw, "options", list, where)
    answer = _field(raw, "answer", int, where)
    image = _field(entry, "image", int, where)
    split = _field(entry, "split", str, where)
    if not 2 <= len(options) <= 4 or not 0 <= answer < len(options):
        raise PipeTorchError(f"{where}: {len(options)} options with answer {answer}", HINT)
    if not 0 <= image < image_count or split not in SPLITS:
        raise PipeTorchError(f"{where}: image row {image} or split {split!r} out of range", HINT)
    return Record(
        question_id=_field(raw, "questionID", str, where), question_type=_field(raw, "questionType", str, where),
        modality=_field(raw, "modality", str, where), question=_field(raw, "question", str, where),
        options=[str(o) for o in options], answer=answer, image_path=_field(raw, "imagePath", str, where),
        dataset=_field(raw, "dataset", str, where), image=image, split=split,
        chain_id=raw.get("chainID"), chain_step=raw.get("chainStep"))


def read_index(directory: str) -> dict:
    path = os.path.join(directory, "index.json")
    if not os.path.isdir(directory):
        raise PipeTorchError(f"the dataset directory {directory!r} does not exist", HINT)
    try:
        with open(path, "rb") as file:
            index = json.load(file)
    except FileNotFoundError:
        raise PipeTorchError(f"{path} does not exist: {directory!r} is not an unpack artifact", HINT) from None
    except (OSError, ValueError) as error:
        raise PipeTorchError(f"cannot read {path}: {error}", HINT) from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        found = index.get("format") if isinstance(index, dict) else None
        raise PipeTorchError(f"{path}: unsupported dataset format {found!r} (expected {FORMAT!r})", HINT)
    return index


def load(directory: str) -> Dataset:
    """The dataset in `directory`, checked: format, fields, image rows, the pixel file's size."""
    index = read_index(directory)
    path = os.path.join(directory, "index.json")
    size = _field(index, "imageSize", int, path)
    channels = _field(index, "channels", int, path)
    names = _field(index, "images", list, path)
    entries = _field(index, "records", list, path)
    records = [_record(entry, k, path, len(names)) for k, entry in enumerate(entries)]
    pixels = os.path.join(directory, "images.u8")
    expected = len(names) * size * size * channels
    actual = os.path.getsize(pixels) if os.path.isfile(pixels) else -1
    if channels != 3 or actual != expected:
        raise PipeTorchError(f"{pixels} holds {max(actual, 0)} bytes; the index describes {expected} ({len(names)} images of "
                             f"{size}x{size}x{channels})", HINT)
    images = np.memmap(pixels, dtype=np.uint8, mode="r", shape=(len(names), size, size, 3)) if names else \
        np.zeros((0, size, size, 3), np.uint8)
    attributes = {}
    for r in records:
        attributes.setdefault(r.image_path, {})[r.question_type] = r.options[r.answer]
    return Dataset(directory=directory, image_size=size, records=records, images=images, attributes=attributes)


def rationale_for(dataset: Dataset, record: Record) -> str:
    """The `cot` rationale for `record` (`ExampleBuilder.rationale`)."""
    from .prompts import rationale
    known = dataset.rationale_facts(record)
    return rationale(record.modality, known.get("Anatomy Identification"), known.get("Disease Diagnosis"),
                     known.get("Lesion Grading"), record.options[record.answer], record.options)


def write(directory: str, image_size: int, images: list, records: list) -> None:
    """Writes an unpack artifact exactly as the Swift side does (keys sorted, no spaces): `images`
    are (size, size, 3) uint8 arrays by row, `records` `Record`s. For tests and tools."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "images.u8"), "wb") as file:
        for image in images:
            file.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    paths = {}
    for r in records:
        paths.setdefault(r.image, r.image_path)
    entries = []
    for r in records:
        raw = {"answer": r.answer, "dataset": r.dataset, "imagePath": r.image_path, "modality": r.modality,
               "options": r.options, "question": r.question, "questionID": r.question_id, "questionType": r.question_type}
        if r.chain_id is not None:
            raw["chainID"] = r.chain_id
        if r.chain_step is not None:
            raw["chainStep"] = r.chain_step
        entries.append({"image": r.image, "record": raw, "split": r.split})
    index = {"channels": 3, "format": FORMAT, "imageSize": image_size,
             "images": [paths.get(k, f"Images/x/{k}.png") for k in range(len(images))], "records": entries}
    with open(os.path.join(directory, "index.json"), "w", encoding="utf-8") as file:
        file.write(json.dumps(index, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
