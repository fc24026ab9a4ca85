"""`grpo` on the torch backend: TRL's GRPOTrainer with Med-R1's rewards (format and accuracy, as the
Swift kind computes them), then greedy validation. Writes `model/`, `curves.csv` (TRL's metric
names), `timing.csv`, `metrics.json`, `predictions.jsonl` (the Swift kind's files)."""

import os
import re
import warnings

from . import chat, data, generation, model as models, prompts, training
from .errors import failure
from .progress import log, Progress
from .request import Request
from .rng import spread

# Columns of curves.csv: TRL's logged names, in this order (a metric TRL does not log in a step, such
# as `kl` with beta 0 or the rewards on a reused batch when num_iterations > 1, stays empty). Timing
# metrics (`step_time`) go to timing.csv, never here: curves.csv is reproducible.
CURVE_COLUMNS = ["step", "epoch", "loss", "learning_rate", "grad_norm", "reward", "reward_std", "rewards/format/mean",
                 "rewards/format/std", "rewards/accuracy/mean", "rewards/accuracy/std", "frac_reward_zero_std", "kl", "entropy",
                 "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean", "completions/mean_length",
                 "completions/min_length", "completions/max_length", "completions/clipped_ratio", "num_tokens"]

ANSWER_CONTENT = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def format_reward_value(completion: str, mode: str) -> float:
    """1 when the whole completion has the mode's format (`Rewards.format`), else 0."""
    return 1.0 if prompts.is_well_formed(completion, mode) else 0.0


def accuracy_reward_value(completion: str, truth: str) -> float:
    """1 when the text inside the first `<answer>...</answer>`, trimmed, equals `truth` exactly
    (`Rewards.accuracy`: `b` is not `B`, `A B` is not `A`, no tags is 0), else 0."""
    match = ANSWER_CONTENT.search(completion)
    return 1.0 if match is not None and match.group(1).strip() == truth else 0.0


def completion_text(completion) -> str:
    """A TRL completion as text: a string, or conversational messages (the assistant turn's text)."""
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(block.get("text", "") for block in content if block.get("type") == "text")
    return "".join(parts)


def reward_functions(mode: str) -> list:
    """TRL reward functions named `format` and `accuracy` (so TRL logs `rewards/format/mean`, ...);
    their sum is the Swift kind's reward (2 at most)."""

    def format(completions, **kwargs):  # noqa: A001 - the name TRL logs
        return [format_reward_value(completion_text(c), mode) for c in completions]

    def accuracy(completions, answer, **kwargs):
        return [accuracy_reward_value(completion_text(c), truth) for c, truth in zip(completions, answer)]

    return [format, accuracy]


def dataset_view(dataset, records, processor, mode):
    """TRL's rows (`prompt`: the user turn with an image placeholder, `image`, `answer`: the letter),
    built on access from a `datasets.Dataset` of row numbers."""
    import datasets
    view = datasets.Dataset.from_dict({"row": list(range(len(records)))})

    def transform(batch):
        chosen = [records[i] for i in batch["row"]]
        return {"prompt": [chat.messages(r, mode) for r in chosen],
                "image": [chat.pil_image(dataset, r.image, processor) for r in chosen],
                "answer": [r.answer_letter for r in chosen]}

    view.set_transform(transform)
    return view


def trl_config(options: dict, seed: int, steps_dir: str):
    """The stage's options as TRL's GRPOConfig (see python/README.md for the mapping)."""
    from trl import GRPOConfig
    completions = options["prompts_per_step"] * options["group_size"]
    accumulation = completions // options["micro_batch"]
    return GRPOConfig(
        output_dir=steps_dir, max_steps=options["steps"] * options["num_iterations"],
        per_device_train_batch_size=options["micro_batch"], gradient_accumulation_steps=accumulation,
        steps_per_generation=accumulation, num_generations=options["group_size"], num_iterations=options["num_iterations"],
        learning_rate=options["lr"], warmup_steps=options["warmup_steps"], lr_scheduler_type="constant_with_warmup",
        adam_epsilon=options["adam_epsilon"], weight_decay=0.0, optim="adamw_torch", max_grad_norm=options["grad_clip"],
        beta=options["beta"], epsilon=options["epsilon"], epsilon_high=options["epsilon_high"], loss_type=options["loss_type"],
        scale_rewards=options["scale_rewards"], top_entropy_quantile=options["top_entropy_quantile"],
        importance_sampling_level=options["importance_sampling_level"], delta=options["delta"],
        mask_truncated_completions=options["mask_truncated_completions"], temperature=options["temperature"],
        top_p=options["top_p"], top_k=options["top_k"], max_completion_length=options["max_new_tokens"],
        seed=seed % (1 << 32), data_seed=seed % (1 << 32), shuffle_dataset=True,
        logging_strategy="steps", logging_steps=1, save_strategy="no", eval_strategy="no", report_to="none",
        disable_tqdm=True, log_completions=False, activation_checkpointing=False, bf16=False, fp16=False, use_cpu=training.cpu(), remove_unused_columns=False,
        dataloader_num_workers=0, dataloader_pin_memory=False)


def _describe(state, logs) -> str:
    """The progress line: the step, then reward, format, accuracy, KL and loss where logged."""
    line = f"step {state.global_step}/{state.max_steps}"
    for name, label in [("reward", "reward"), ("rewards/format/mean", "format"), ("rewards/accuracy/mean", "accuracy"),
                        ("kl", "kl"), ("loss", "loss")]:
        if logs.get(name) is not None:
            line += f" {label} {float(logs[name]):.3f}"
    return line


def run(request: Request) -> None:
    from trl import GRPOTrainer

    # TRL asks the model about gradient checkpointing by its deprecated name at every step.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    options, out = request.options, request.output
    mode = options["reasoning"]
    dataset = data.load(request.dataset)
    train = dataset.split("train")
    if not train:
        raise failure("the dataset has no training records", "check the unpack stage's split and filters")
    validation = spread(dataset.split("val"), options["eval"]["limit"])
    policy, processor = _policy(request)
    log(f"model: {sum(p.numel() for p in policy.parameters())} parameters, {len(train)} training prompts, "
        f"{options['steps']} steps of {options['prompts_per_step']} prompts x {options['group_size']} completions, "
        f"{len(validation)} validation")
    curve, timing, progress = [], [], Progress()
    trainer = GRPOTrainer(model=policy, reward_funcs=reward_functions(mode),
                          args=trl_config(options, request.seed, os.path.join(request.scratch, "trainer")),
                          train_dataset=dataset_view(dataset, train, processor, mode), processing_class=processor,
                          callbacks=[training.recorder(progress, curve, timing, CURVE_COLUMNS, _describe, "lower lr")])
    summary = training.train_and_write(trainer, processor, dataset, validation, mode, options, out, "grpo", curve, timing, CURVE_COLUMNS, progress)
    generation.write_json({"validation": summary}, os.path.join(out, "metrics.json"))


def _policy(request: Request):
    """The starting policy (`training.starting_policy`). TRL builds the frozen reference (beta > 0)
    from the policy's directory, so a new model is first saved into the scratch directory and named
    by it: the reference is the policy at the start."""
    policy, processor, built = training.starting_policy(request)
    if built:
        start = os.path.join(request.scratch, "start")
        models.save(policy, processor, start, {"kind": "start"})
        policy.config._name_or_path = start
        policy.name_or_path = start
    return policy, processor
