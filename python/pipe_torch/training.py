"""What the training kinds (`sft`, `grpo`) share: the starting policy, a TRL callback that records
each logged step, and, once the trainer has run, greedy validation and the output files in the
Swift kinds' schema (`model/`, `curves.csv`, `timing.csv`, `predictions.jsonl`)."""

import math
import os
import time

from . import generation, model as models
from .errors import failure
from .progress import Progress, log
from .request import Request, policy_model_dir


def cpu() -> bool:
    """Whether TRL must be told to use the CPU (no GPU is visible)."""
    import torch
    return not torch.cuda.is_available()


def starting_policy(request: Request):
    """(model, processor): the policy input's, the checkpoint `model.path` names, or a new one from
    `model.config` seeded by the request's seed; a new one is also returned as `built=True`."""
    spec = request.options["model"]
    if request.policy is not None:
        return (*models.load(policy_model_dir(request.policy)), False)
    if "path" in spec:
        return (*models.load(spec["path"]), False)
    return (*models.build(spec["config"], request.seed), True)


def recorder(progress: Progress, curve: list, timing: list, columns: list, describe, hint: str, on_epoch=None):
    """A TRL callback: each logged step's `columns` into `curve`, its wall time into `timing`, and
    `describe(state, logs)` as the progress line; a loss that is not finite fails the run with `hint`."""
    from transformers import TrainerCallback

    class Recorder(TrainerCallback):
        def __init__(self):
            self.last = time.monotonic()

        def on_epoch_begin(self, args, state, control, **kwargs):
            if on_epoch is not None:
                on_epoch(int(round(state.epoch or 0)))

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs:
                return
            loss = float(logs["loss"])
            if not math.isfinite(loss):
                raise failure(f"the loss is {loss} at step {state.global_step}", hint)
            now = time.monotonic()
            curve.append({"step": state.global_step, **{k: v for k, v in logs.items() if k in columns}})
            timing.append((state.global_step, now - self.last))
            self.last = now
            progress.update(describe(state, logs))

    return Recorder()


def train_and_write(trainer, processor, dataset, validation: list, mode: str, options: dict, out: str, kind: str,
                    curve: list, timing: list, columns: list, progress: Progress) -> dict:
    """Trains, scores `validation` greedily, and writes the model, the curves, the timings and the
    predictions into `out`; returns the validation summary (each kind writes its own metrics.json)."""
    from transformers import PrinterCallback
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
    models.save(policy, processor, os.path.join(out, "model"), {"reasoning": mode, "kind": kind})
    with open(os.path.join(out, "curves.csv"), "w", encoding="utf-8") as file:
        file.write(curves_csv(curve, columns))
    with open(os.path.join(out, "timing.csv"), "w", encoding="utf-8") as file:
        file.write("step,seconds\n" + "".join(f"{step},{seconds:.4f}\n" for step, seconds in timing))
    with open(os.path.join(out, "predictions.jsonl"), "w", encoding="utf-8") as file:
        file.write(generation.json_lines(predictions))
    return summary


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.9g}"
    return str(value)


def curves_csv(curve: list, columns: list) -> str:
    """`curves.csv`: the header, then one row per logged step (9 significant digits)."""
    rows = [",".join(columns)] + [",".join(_number(row.get(c)) for c in columns) for row in curve]
    return "\n".join(rows) + "\n"
