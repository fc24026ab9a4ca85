"""The request a run reads (JSON, written by pipe) and the options of each kind, checked and with
their defaults filled in. Option names and defaults mirror the Swift kinds' schemas
(Sources/PipeStages/SFTKind.swift, EvaluateKind.swift, GRPOKind.swift); `model` is the torch backend's
own, and `grpo` takes a few of TRL's GRPOConfig options the Swift kind does not have."""

import json
import os
import sys
from dataclasses import dataclass

from .errors import PipeTorchError
from .model import did_you_mean

KINDS = ("sft", "evaluate", "grpo")
LATER_KINDS = ("at-grpo", "smooth")
# The Swift kind's loss types first, then TRL's further ones (passed through).
LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo")
ATTACK_METHODS = ("fgsm", "pgd_linf", "pgd_l2")
DEFAULT_BUDGETS = [b / 255 for b in (1.0, 2.0, 4.0, 8.0)]


class Opt:
    """One option: kind (int, number, bool, text, numbers, texts, group, model), default, range or choices."""

    def __init__(self, kind, default=None, low=None, high=None, choices=None, group=None):
        self.kind, self.default, self.low, self.high, self.choices, self.group = kind, default, low, high, choices, group


EVAL = {"limit": Opt("int", 0, 0, 10_000_000), "max_new_tokens": Opt("int", 96, 1, 4096)}
ADVERSARIAL = {"norm": Opt("text", "linf", choices=("linf", "l2")), "eps": Opt("number", None, 0, 1000),
               "alpha": Opt("number", None, 0, 1000), "steps": Opt("int", 10, 1, 1000), "random_start": Opt("bool", True),
               "fraction": Opt("number", 1.0, 0, 1), "eps_warmup_steps": Opt("int", 0, 0, 1_000_000)}
SFT = {
    "backend": Opt("text", "torch", choices=("torch",)),
    "model": Opt("model"),
    "reasoning": Opt("text", "cot", choices=("cot", "instruct")),
    "epochs": Opt("int", 2, 1, 10_000),
    "batch_size": Opt("int", 32, 1, 65_536),
    "micro_batch": Opt("int", 8, 1, 4096),
    "lr": Opt("number", 1e-3, 0, 10),
    "warmup_steps": Opt("int", 20, 0, 1_000_000),
    "min_lr_ratio": Opt("number", 0.1, 0, 1),
    "weight_decay": Opt("number", 0.01, 0, 10),
    "grad_clip": Opt("number", 1.0, 0, 1e6),
    "shuffle_options": Opt("bool", True),
    "train_fraction": Opt("number", 1.0, 0.001, 1),
    "adversarial": Opt("group", None, group=ADVERSARIAL),
    "eval": Opt("group", {}, group=EVAL),
}
ATTACK = {"methods": Opt("texts", [], choices=ATTACK_METHODS), "eps": Opt("numbers", DEFAULT_BUDGETS, 0, 1000),
          "steps": Opt("int", 10, 1, 1000), "limit": Opt("int", 0, 0, 10_000_000), "alpha_ratio": Opt("number", 0.25, 0, 100),
          "random_start": Opt("bool", True)}
CERTIFY = {"sigma": Opt("number", None, 0.0001, 100), "n0": Opt("int", None, 1, 10_000_000), "n": Opt("int", None, 1, 100_000_000),
           "alpha": Opt("number", None, 1e-12, 0.5), "predict_n": Opt("int", 0, 0, 100_000_000),
           "radii": Opt("numbers", [0, 0.125, 0.25, 0.5, 0.75, 1], 0, 1000), "limit": Opt("int", 0, 0, 10_000_000),
           "batch_size": Opt("int", 32, 1, 4096)}
EVALUATE = {
    "backend": Opt("text", "torch", choices=("torch",)),
    "model": Opt("model"),
    "split": Opt("text", "test", choices=("train", "val", "test")),
    "limit": Opt("int", 0, 0, 10_000_000),
    "reasoning": Opt("text", "auto", choices=("auto", "cot", "instruct")),
    "max_new_tokens": Opt("int", 96, 1, 4096),
    "attack": Opt("group", {}, group=ATTACK),
    "cues": Opt("group", {}, group={"limit": Opt("int", 0, 0, 10_000_000)}),
    "certify": Opt("group", None, group=CERTIFY),
}
GRPO = {
    "backend": Opt("text", "torch", choices=("torch",)),
    "model": Opt("model"),
    "reasoning": Opt("text", "cot", choices=("cot", "instruct")),
    "steps": Opt("int", 100, 1, 1_000_000),
    "prompts_per_step": Opt("int", 8, 1, 4096),
    "group_size": Opt("int", 4, 2, 64),
    "temperature": Opt("number", 1.0, 0.01, 10),
    "max_new_tokens": Opt("int", 96, 1, 4096),
    "num_iterations": Opt("int", 1, 1, 64),
    "lr": Opt("number", 1e-4, 0, 10),
    "warmup_steps": Opt("int", 0, 0, 1_000_000),
    "adam_epsilon": Opt("number", 1e-8, 0, 1),
    "beta": Opt("number", 0.04, 0, 100),
    "epsilon": Opt("number", 0.2, 0, 10),
    "epsilon_high": Opt("number", 0.2, 0, 10),
    "loss_type": Opt("text", "grpo", choices=LOSS_TYPES),
    "top_entropy_quantile": Opt("number", 1.0, 0.001, 1),
    "scale_rewards": Opt("text", "group", choices=("group", "batch", "none")),
    "grad_clip": Opt("number", 1.0, 0, 1e6),
    "micro_batch": Opt("int", 8, 1, 4096),
    "eval": Opt("group", {}, group=EVAL),
    # TRL's, passed through (not options of the Swift kind).
    "importance_sampling_level": Opt("text", "token", choices=("token", "sequence")),
    "delta": Opt("number", None, 1, 1000),
    "mask_truncated_completions": Opt("bool", False),
    "top_p": Opt("number", 1.0, 0.001, 1),
    "top_k": Opt("int", 0, 0, 1_000_000),
}
SCHEMAS = {"sft": SFT, "evaluate": EVALUATE, "grpo": GRPO}


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(value, opt: Opt, where: str):
    kind = opt.kind
    if kind == "model":
        return _model(value, where)
    if value is None:
        return opt.default if kind != "group" or opt.default is None else resolve(opt.default, opt.group, where)
    span = f"from {opt.low:g} to {opt.high:g}" if opt.low is not None else ""
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not opt.low <= value <= opt.high:
            raise PipeTorchError(f"{where}: {value!r} is not an integer {span}")
    elif kind == "number":
        if not _number(value) or not opt.low <= value <= opt.high:
            raise PipeTorchError(f"{where}: {value!r} is not a number {span}")
        value = float(value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise PipeTorchError(f"{where}: {value!r} is not true or false")
    elif kind == "text":
        if value not in opt.choices:
            raise PipeTorchError(f"{where}: {value!r} is not one of {', '.join(opt.choices)}",
                                 did_you_mean(str(value), opt.choices).strip())
    elif kind == "numbers":
        if not isinstance(value, list) or not all(_number(v) and opt.low <= v <= opt.high for v in value):
            raise PipeTorchError(f"{where}: {value!r} is not a list of numbers {span}")
        value = [float(v) for v in value]
    elif kind == "texts":
        bad = [v for v in value if v not in opt.choices] if isinstance(value, list) else [value]
        if bad:
            raise PipeTorchError(f"{where}: {bad[0]!r} is not one of {', '.join(opt.choices)}",
                                 did_you_mean(str(bad[0]), opt.choices).strip())
    elif kind == "group":
        value = resolve(value, opt.group, where)
    return value


def resolve(options, schema: dict, where: str) -> dict:
    """`options` checked against `schema`, defaults filled in; an unknown key is an error."""
    if not isinstance(options, dict):
        raise PipeTorchError(f"{where}: expected a mapping, got {options!r}")
    for key in options:
        if key not in schema:
            raise PipeTorchError(f"{where}.{key}: unknown option {key!r}",
                                 did_you_mean(key, schema) + f"the options are: {', '.join(schema)}")
    return {key: _check(options.get(key), opt, f"{where}.{key}") for key, opt in schema.items()}


def _model(value, where: str):
    """`model: {path: DIR}` or `model: {config: {...}}` (null members count as absent), or None."""
    from .model import resolve_config
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PipeTorchError(f"{where}: expected {{path: DIR}} or {{config: {{...}}}}, got {value!r}")
    for key in value:
        if key not in ("path", "config"):
            raise PipeTorchError(f"{where}.{key}: unknown option {key!r}", did_you_mean(key, ("path", "config")) + "the options are: path, config")
    path, config = value.get("path"), value.get("config")
    if path is not None and config is not None:
        raise PipeTorchError(f"{where}: give either `path` or `config`, not both")
    if path is not None:
        if not isinstance(path, str) or not path:
            raise PipeTorchError(f"{where}.path: expected a directory path, got {path!r}")
        return {"path": path}
    if config is not None:
        return {"config": resolve_config(config, f"{where}.config")}
    return None


@dataclass
class Request:
    kind: str
    options: dict
    seed: int
    dataset: str
    policy: str
    output: str
    scratch: str
    threads: int
    path: str


def read(path: str) -> Request:
    """The request in `path` (`-`: standard input), checked (types, options; not yet the files it names)."""
    try:
        if path == "-":
            raw = json.load(sys.stdin)
        else:
            with open(path, encoding="utf-8") as file:
                raw = json.load(file)
    except FileNotFoundError:
        raise PipeTorchError(f"the request file {path!r} does not exist", "give the path of a request JSON file") from None
    except (OSError, ValueError) as error:
        raise PipeTorchError(f"cannot read the request {path!r}: {error}", "the request is a JSON object; see python/README.md") from None
    if not isinstance(raw, dict):
        raise PipeTorchError(f"{path}: the request must be a JSON object")
    known = ("kind", "options", "seed", "inputs", "output", "scratch", "threads")
    for key in raw:
        if key not in known:
            raise PipeTorchError(f"{path}: unknown request field {key!r}", did_you_mean(key, known) + f"the fields are: {', '.join(known)}")
    kind = raw.get("kind")
    if kind in LATER_KINDS:
        raise PipeTorchError(f"{path}: kind {kind!r} is not available on the torch backend yet", "use backend: swift for it")
    if kind not in KINDS:
        raise PipeTorchError(f"{path}: kind {kind!r} is not one of {', '.join(KINDS)}")
    seed = raw.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 1 << 64:
        raise PipeTorchError(f"{path}: seed {seed!r} is not an integer from 0 to 2^64-1")
    threads = raw.get("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 4096:
        raise PipeTorchError(f"{path}: threads {threads!r} is not an integer from 1 to 4096")
    inputs = raw.get("inputs")
    if not isinstance(inputs, dict) or not isinstance(inputs.get("dataset"), str):
        raise PipeTorchError(f"{path}: inputs.dataset is missing", "give inputs: {\"dataset\": DIR} (an unpack artifact)")
    allowed = {"sft": ("dataset", "policy"), "evaluate": ("dataset", "policy", "smoothing"), "grpo": ("dataset", "policy")}[kind]
    for role, value in inputs.items():
        if role not in allowed or not isinstance(value, str):
            raise PipeTorchError(f"{path}: inputs.{role} is not an input of {kind} (inputs: {', '.join(allowed)}, each a directory)")
    if "smoothing" in inputs:
        raise PipeTorchError(f"{path}: the `smoothing` input (certification) is not available on the torch backend yet", "use backend: swift for it")
    output, scratch = raw.get("output"), raw.get("scratch")
    if not isinstance(output, str) or not output:
        raise PipeTorchError(f"{path}: output is missing", "give output: DIR, a new or empty directory")
    if scratch is not None and (not isinstance(scratch, str) or not scratch):
        raise PipeTorchError(f"{path}: scratch {scratch!r} is not a directory path")
    options = resolve(raw.get("options", {}), SCHEMAS[kind], "options")
    _unsupported(kind, options)
    return Request(kind=kind, options=options, seed=seed, dataset=inputs["dataset"], policy=inputs.get("policy"),
                   output=output, scratch=scratch, threads=threads, path=path)


def _unsupported(kind: str, options: dict) -> None:
    if kind == "sft" and options["adversarial"] is not None:
        raise PipeTorchError("options.adversarial: adversarial training is not available on the torch backend yet",
                             "remove `adversarial:` or use backend: swift")
    if kind == "evaluate" and options["certify"] is not None and options["certify"]["sigma"] is not None:
        raise PipeTorchError("options.certify: randomized smoothing is not available on the torch backend yet",
                             "remove `certify:` or use backend: swift")
    if kind == "sft" and options["batch_size"] % min(options["micro_batch"], options["batch_size"]):
        raise PipeTorchError(f"options.batch_size {options['batch_size']} is not a multiple of micro_batch {options['micro_batch']}",
                             "TRL steps on micro_batch x gradient_accumulation_steps examples: make batch_size a multiple of micro_batch")
    if kind == "grpo":
        _grpo_shapes(options)


def _grpo_shapes(options: dict) -> None:
    """What TRL's GRPOConfig needs beyond each option's range: the step's completions split evenly
    into micro-batches, and `luspo` at the sequence level."""
    completions = options["prompts_per_step"] * options["group_size"]
    if completions % options["micro_batch"]:
        divisors = [d for d in range(1, completions + 1) if completions % d == 0]
        raise PipeTorchError(f"options.micro_batch {options['micro_batch']} does not divide the step's {completions} completions "
                             f"(prompts_per_step {options['prompts_per_step']} x group_size {options['group_size']})",
                             f"TRL accumulates whole micro-batches: pick micro_batch from {', '.join(map(str, divisors))}")
    if options["loss_type"] == "luspo" and options["importance_sampling_level"] != "sequence":
        raise PipeTorchError("options.loss_type 'luspo' needs importance_sampling_level 'sequence'",
                             "add importance_sampling_level: sequence, or pick another loss_type")


def check_files(request: Request) -> None:
    """Checks what the request names on disk, reading no weights: the dataset, the model or policy,
    the output directory (new, or empty)."""
    from . import data, model
    data.read_index(request.dataset)
    spec = request.options.get("model")
    if request.policy is not None:
        model.check_path(policy_model_dir(request.policy))
    elif spec is not None and "path" in spec:
        model.check_path(spec["path"])
    elif request.kind in ("evaluate", "grpo") and spec is None:
        raise PipeTorchError(f"{request.kind} on the torch backend needs a policy: inputs.policy (a torch sft stage) or "
                             f"{'options.model.path' if request.kind == 'evaluate' else 'options.model'}",
                             "give the stage `inputs: {policy: STAGE}`")
    elif spec is None:
        raise PipeTorchError("options.model: sft on the torch backend needs `model: {path: DIR}` or `model: {config: {...}}` (or a policy input)",
                             "e.g. model: {config: {}} for the tiny default model")
    if request.kind == "evaluate" and spec is not None and "config" in spec:
        raise PipeTorchError("options.model.config: evaluate scores a trained policy, not a new random model",
                             "give inputs.policy or options.model.path")
    out = request.output
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise PipeTorchError(f"the output directory {out!r} is not empty", "give a new or empty directory")
    if not os.path.exists(out) and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise PipeTorchError(f"the output directory's parent {os.path.dirname(os.path.abspath(out))!r} does not exist")


def policy_model_dir(policy: str) -> str:
    """The model directory inside a policy artifact (this package's sft output: `model/`), or the
    artifact itself when it is a checkpoint directory."""
    inner = os.path.join(policy, "model")
    if not os.path.exists(policy):
        raise PipeTorchError(f"the policy input {policy!r} does not exist", "give a torch sft stage as the `policy` input")
    if os.path.isdir(inner):
        return inner
    if os.path.isfile(os.path.join(policy, "model.safetensors")) and not os.path.isfile(os.path.join(policy, "config.json")):
        raise PipeTorchError(f"the policy input {policy!r} is a swift-backend checkpoint (model.safetensors without config.json)",
                             "give a policy trained with backend: torch")
    return policy
