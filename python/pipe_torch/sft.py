"""`sft` on the torch backend: TRL's SFTTrainer on Med-R1's chat-format prompt and completion with
the image, then greedy validation. Writes `model/`, `curves.csv`, `timing.csv`, `metrics.json`,
`predictions.jsonl` (the Swift kind's schema; `curves.csv` with TRL's metric names)."""

import math
import os
import time

from . import chat, data, generation, model as models
from .errors import failure
from .progress import Progress, log
from .request import Request, policy_model_dir
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
        dataloader_num_workers=0, remove_unused_columns=False, bf16=False, fp16=False, use_cpu=_cpu(),
        dataloader_pin_memory=False)


def _cpu() -> bool:
    import torch
    return not torch.cuda.is_available()


def _callback(rows: Rows, progress: Progress, curve: list, timing: list):
    from transformers import TrainerCallback

    class Recorder(TrainerCallback):
        def __init__(self):
            self.last = time.monotonic()

        def on_epoch_begin(self, args, state, control, **kwargs):
            rows.set_epoch(int(round(state.epoch or 0)))

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs:
                return
            loss = float(logs["loss"])
            if not math.isfinite(loss):
                raise failure(f"the loss is {loss} at step {state.global_step}", "lower lr or raise warmup_steps")
            now = time.monotonic()
            curve.append({"step": state.global_step, **{k: v for k, v in logs.items() if k in CURVE_COLUMNS}})
            timing.append((state.global_step, now - self.last))
            self.last = now
            progress.update(f"step {state.global_step}/{state.max_steps} loss {loss:.3f}")

    return Recorder()


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.9g}"
    return str(value)


def curves_csv(curve: list, columns: list = CURVE_COLUMNS) -> str:
    """`curves.csv`: the header, then one row per logged step (9 significant digits)."""
    rows = [",".join(columns)] + [",".join(_number(row.get(c)) for c in columns) for row in curve]
    return "\n".join(rows) + "\n"


def run(request: Request) -> None:
    from transformers import PrinterCallback
    from trl import SFTTrainer

    options, out = request.options, request.output
    mode = options["reasoning"]
    dataset = data.load(request.dataset)
    train = image_share(dataset.split("train"), options["train_fraction"])
    if not train:
        raise failure("the dataset has no training records", "check the unpack stage's split and filters")
    validation = spread(dataset.split("val"), options["eval"]["limit"])
    policy, processor = _policy(request)
    log(f"model: {sum(p.numel() for p in policy.parameters())} parameters, vocabulary {len(processor.tokenizer)}, "
        f"{len(train)} training examples, {len(validation)} validation")
    rows = Rows(dataset, train, processor, mode, options["shuffle_options"], request.seed)
    curve, timing, progress = [], [], Progress()
    scratch = os.path.join(request.scratch, "trainer")
    trainer = SFTTrainer(model=policy, args=trl_config(options, request.seed, scratch, request.threads), train_dataset=rows.dataset_view(),
                         processing_class=processor, callbacks=[_callback(rows, progress, curve, timing)])
    trainer.remove_callback(PrinterCallback)  # it prints each log dict on stdout; the curve goes to curves.csv
    start = time.monotonic()
    trainer.train()
    trained = time.monotonic() - start
    policy = trainer.model
    start = time.monotonic()
    progress.update(f"validating {len(validation)} records")
    summary, predictions = generation.score(policy, processor, dataset, validation, mode, options["eval"]["max_new_tokens"])
    log(f"trained {len(curve)} steps in {trained:.1f} s; validation accuracy {summary['accuracy']:.3f} on "
        f"{summary['count']} records ({time.monotonic() - start:.1f} s)")
    models.save(policy, processor, os.path.join(out, "model"), {"reasoning": mode, "kind": "sft"})
    with open(os.path.join(out, "curves.csv"), "w", encoding="utf-8") as file:
        file.write(curves_csv(curve))
    with open(os.path.join(out, "timing.csv"), "w", encoding="utf-8") as file:
        file.write("step,seconds\n" + "".join(f"{step},{seconds:.4f}\n" for step, seconds in timing))
    generation.write_json({"validation": summary, "steps": len(curve), "finalLoss": float(curve[-1]["loss"]) if curve else 0.0,
                           "reasoning": mode}, os.path.join(out, "metrics.json"))
    with open(os.path.join(out, "predictions.jsonl"), "w", encoding="utf-8") as file:
        file.write(generation.json_lines(predictions))


def _policy(request: Request):
    """The model to train: the policy input's, a checkpoint's, or a new one from the config."""
    spec = request.options["model"]
    if request.policy is not None:
        return models.load(policy_model_dir(request.policy))
    if "path" in spec:
        return models.load(spec["path"])
    return models.build(spec["config"], request.seed)
