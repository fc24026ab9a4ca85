"""`sft` on the torch backend: TRL's SFTTrainer on Med-R1's chat-format prompt and completion with
the image, then greedy validation. Writes `model/`, `curves.csv`, `timing.csv`, `metrics.json`,
`predictions.jsonl` (the Swift kind's schema; `curves.csv` with TRL's metric names)."""

import math
import os

from . import chat, data, generation, training
from .errors import failure
from .progress import Progress, log
from .request import Request
from .rng import SeededRandom, spread

# Columns of curves.csv: TRL's logged names, in this order (a metric TRL does not log stays empty).
CURVE_COLUMNS = ["step", "epoch", "loss", "learning_rate", "grad_norm", "entropy", "num_tokens", "mean_token_accuracy"]


def image_share(records: list, fraction: float) -> list:
    """The records of round(fraction x images) of their images (`SFTTrainer.imageShare`)."""
    if fraction >= 1 or not records:
        return records
    images = sorted({r.image for r in records})
    SeededRandom(0xC01D5747 ^ len(images)).shuffle(images)
    kept = set(images[:max(1, int(math.floor(len(images) * fraction + 0.5)))])
    return [r for r in records if r.image in kept]


class Rows:
    """The training rows for TRL (prompt, completion, images); `epoch` (set by a callback) reorders
    each question's options from the second epoch on when `shuffle_options` is on, seeded. TRL takes
    a `datasets.Dataset`: `dataset()` is one of row numbers whose transform builds the rows."""

    def __init__(self, dataset, records, processor, mode, shuffle_options, seed):
        self.dataset, self.records, self.processor, self.mode = dataset, records, processor, mode
        self.shuffle_options, self.seed, self.epoch = shuffle_options, seed, 0
        self.orders = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.shuffle_options and epoch > 0 and epoch not in self.orders:
            random = SeededRandom(self.seed ^ 0x5F7 ^ (epoch << 32))
            orders = []
            for r in self.records:
                order = list(range(len(r.options)))
                random.shuffle(order)
                orders.append(order)
            self.orders = {epoch: orders}

    def row(self, index: int) -> dict:
        record = self.records[index]
        if self.epoch in self.orders:
            record = record.with_options(self.orders[self.epoch][index])
        return {"prompt": chat.messages(record, self.mode), "completion": chat.completion(self.dataset, record, self.mode),
                "images": [chat.pil_image(self.dataset, record.image, self.processor)]}

    def dataset_view(self):
        import datasets
        view = datasets.Dataset.from_dict({"row": list(range(len(self.records)))})

        def transform(batch):
            rows = [self.row(i) for i in batch["row"]]
            return {key: [r[key] for r in rows] for key in ("prompt", "completion", "images")}

        view.set_transform(transform)
        return view


def trl_config(options: dict, seed: int, steps_dir: str, threads: int):
    """The stage's options as TRL's SFTConfig (see python/README.md for the mapping)."""
    from trl import SFTConfig
    micro = min(options["micro_batch"], options["batch_size"])
    return SFTConfig(
        output_dir=steps_dir, num_train_epochs=options["epochs"], per_device_train_batch_size=micro,
        gradient_accumulation_steps=options["batch_size"] // micro, learning_rate=options["lr"],
        warmup_steps=options["warmup_steps"], lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": options["min_lr_ratio"]}, weight_decay=options["weight_decay"],
        max_grad_norm=options["grad_clip"], optim="adamw_torch", seed=seed % (1 << 32), data_seed=seed % (1 << 32),
        logging_strategy="steps", logging_steps=1, save_strategy="no", eval_strategy="no", report_to="none",
        disable_tqdm=True, max_length=None, completion_only_loss=True, activation_checkpointing=False,
        dataloader_num_workers=0, remove_unused_columns=False, bf16=False, fp16=False, use_cpu=training.cpu(),
        dataloader_pin_memory=False)


def run(request: Request) -> None:
    from trl import SFTTrainer

    options, out = request.options, request.output
    mode = options["reasoning"]
    dataset = data.load(request.dataset)
    train = image_share(dataset.split("train"), options["train_fraction"])
    if not train:
        raise failure("the dataset has no training records", "check the unpack stage's split and filters")
    validation = spread(dataset.split("val"), options["eval"]["limit"])
    policy, processor, _ = training.starting_policy(request)
    log(f"model: {sum(p.numel() for p in policy.parameters())} parameters, vocabulary {len(processor.tokenizer)}, "
        f"{len(train)} training examples, {len(validation)} validation")
    rows = Rows(dataset, train, processor, mode, options["shuffle_options"], request.seed)
    curve, timing, progress = [], [], Progress()
    recorder = training.recorder(progress, curve, timing, CURVE_COLUMNS,
                                 lambda state, logs: f"step {state.global_step}/{state.max_steps} loss {float(logs['loss']):.3f}",
                                 "lower lr or raise warmup_steps", on_epoch=rows.set_epoch)
    trainer = SFTTrainer(model=policy, args=trl_config(options, request.seed, os.path.join(request.scratch, "trainer"), request.threads),
                         train_dataset=rows.dataset_view(), processing_class=processor, callbacks=[recorder])
    summary = training.train_and_write(trainer, processor, dataset, validation, mode, options, out, "sft", curve, timing, CURVE_COLUMNS, progress)
    generation.write_json({"validation": summary, "steps": len(curve), "finalLoss": float(curve[-1]["loss"]) if curve else 0.0,
                           "reasoning": mode}, os.path.join(out, "metrics.json"))
