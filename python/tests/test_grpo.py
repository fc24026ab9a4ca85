"""`grpo` on the torch backend: Med-R1's rewards, the options and their mapping onto TRL's
GRPOConfig, bad input, the shared GRPO test vectors against TRL's own code, and a tiny run end to
end (files, schema, progress, byte-identical rerun across processes, a run that learns)."""

import csv
import json
import os
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

import grpo_reference
from conftest import REAL_UNPACK, run_cli, write_request
from pipe_torch import grpo, request
from pipe_torch.cli import main

# --- Rewards: the Swift kind's `Rewards.format` and `Rewards.accuracy`, case for case.

REWARDS = [
    # (completion, mode, truth, format, accuracy)
    ("<think> a CT image. </think> <answer> B </answer>", "cot", "B", 1, 1),
    ("<think>x</think><answer>B</answer>", "cot", "A", 1, 0),
    ("<think>\nline\n</think>\n<answer>\nC\n</answer>", "cot", "C", 1, 1),
    ("<answer> B </answer>", "cot", "B", 0, 1),                        # cot needs the thinking
    ("<think> x </think> <answer> B </answer> more", "cot", "B", 0, 1),  # a full match, not a prefix
    ("  <answer> D </answer>", "instruct", "D", 1, 1),
    ("<answer> b </answer>", "instruct", "B", 1, 0),                   # `b` is not `B`
    ("<answer> A B </answer>", "instruct", "A", 1, 0),                 # `A B` is not `A`
    ("<answer></answer>", "instruct", "A", 1, 0),
    ("the answer is A", "instruct", "A", 0, 0),                        # no tags
    ("<answer> A </answer><answer> B </answer>", "instruct", "B", 1, 0),  # the first answer counts
    ("<answer> A", "instruct", "A", 0, 0),
    ("x <answer>A</answer>", "instruct", "A", 0, 1),
]


@pytest.mark.parametrize("completion, mode, truth, fmt, acc", REWARDS)
def test_rewards_are_the_swift_kinds(completion, mode, truth, fmt, acc):
    assert grpo.format_reward_value(completion, mode) == fmt
    assert grpo.accuracy_reward_value(completion, truth) == acc
    # As TRL calls them: conversational completions, the dataset's `answer` column as a keyword.
    format_fn, accuracy_fn = grpo.reward_functions(mode)
    assert (format_fn.__name__, accuracy_fn.__name__) == ("format", "accuracy")
    turn = [[{"role": "assistant", "content": completion}]]
    assert format_fn(completions=turn, prompts=[None]) == [fmt]
    assert accuracy_fn(completions=turn, answer=[truth], prompts=[None]) == [acc]
    assert accuracy_fn(completions=[completion], answer=[truth]) == [acc]


# --- Options: the Swift kind's names and defaults, checked; their mapping onto GRPOConfig.

def _fields(tmp_path, **changes):
    fields = {"kind": "grpo", "seed": 3, "threads": 1, "options": {"model": {"config": {}}}, "inputs": {"dataset": REAL_UNPACK},
              "output": str(tmp_path / "out")}
    fields.update(changes)
    return fields


def test_defaults_are_the_swift_kinds(tmp_path):
    options = request.read(write_request(tmp_path / "r.json", **_fields(tmp_path))).options
    swift = {"reasoning": "cot", "steps": 100, "prompts_per_step": 8, "group_size": 4, "temperature": 1.0, "max_new_tokens": 96,
             "num_iterations": 1, "lr": 1e-4, "warmup_steps": 0, "adam_epsilon": 1e-8, "beta": 0.04, "epsilon": 0.2,
             "epsilon_high": 0.2, "loss_type": "grpo", "top_entropy_quantile": 1.0, "scale_rewards": "group", "grad_clip": 1.0,
             "micro_batch": 8, "eval": {"limit": 0, "max_new_tokens": 96}}
    assert {k: options[k] for k in swift} == swift
    assert (options["importance_sampling_level"], options["delta"], options["mask_truncated_completions"]) == ("token", None, False)


def test_options_map_onto_grpo_config(tmp_path):
    options = request.read(write_request(tmp_path / "r.json", **_fields(tmp_path, options={
        "model": {"config": {}}, "steps": 5, "prompts_per_step": 3, "group_size": 4, "micro_batch": 6, "num_iterations": 2,
        "lr": 0.01, "beta": 0.1, "epsilon": 0.1, "epsilon_high": 0.28, "loss_type": "dapo", "scale_rewards": "batch",
        "importance_sampling_level": "sequence", "max_new_tokens": 12, "temperature": 0.7, "top_entropy_quantile": 0.2}))).options
    config = grpo.trl_config(options, 2**40 + 7, str(tmp_path / "steps"))
    assert config.max_steps == 10  # steps x num_iterations: TRL counts optimizer steps
    assert (config.num_generations, config.generation_batch_size, config.per_device_train_batch_size) == (4, 12, 6)
    assert config.gradient_accumulation_steps == config.steps_per_generation == 2
    assert (config.num_iterations, config.learning_rate, config.beta, config.epsilon, config.epsilon_high) == (2, 0.01, 0.1, 0.1, 0.28)
    assert (config.loss_type, config.scale_rewards, config.importance_sampling_level) == ("dapo", "batch", "sequence")
    assert (config.max_completion_length, config.temperature, config.top_entropy_quantile) == (12, 0.7, 0.2)
    assert (config.seed, config.lr_scheduler_type.value, config.weight_decay) == (7, "constant_with_warmup", 0.0)


BAD = [
    ("micro batch", {"micro_batch": 3}, "options.micro_batch 3 does not divide the step's 32 completions", "1, 2, 4, 8, 16, 32"),
    ("group of one", {"group_size": 1}, "options.group_size: 1 is not an integer from 2 to 64", ""),
    ("misspelt", {"group_sise": 4}, "options.group_sise: unknown option 'group_sise'", "did you mean `group_size`?"),
    ("loss type", {"loss_type": "ppo"}, "options.loss_type: 'ppo' is not one of grpo, bnpo, dr_grpo, dapo", ""),
    ("luspo", {"loss_type": "luspo"}, "options.loss_type 'luspo' needs importance_sampling_level 'sequence'", "importance_sampling_level: sequence"),
    ("scaling", {"scale_rewards": "True"}, "options.scale_rewards: 'True' is not one of group, batch, none", ""),
]


@pytest.mark.parametrize("name, options, message, hint", BAD, ids=[b[0] for b in BAD])
def test_bad_options_exit_2_and_write_nothing(tmp_path, capsys, name, options, message, hint):
    path = write_request(tmp_path / "r.json", **_fields(tmp_path, options={"model": {"config": {}}, **options}))
    for command in ("check", "run"):
        assert main([command, path]) == 2
        err = capsys.readouterr().err
        assert f"error: {message}" in err and hint in err
        assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_bad_inputs_exit_2_and_write_nothing(tmp_path, capsys):
    without_model = write_request(tmp_path / "a.json", **_fields(tmp_path, options={}))
    assert main(["run", without_model]) == 2
    assert "grpo on the torch backend needs a policy: inputs.policy (a torch sft stage) or options.model" in capsys.readouterr().err
    smoothing = write_request(tmp_path / "b.json", **_fields(tmp_path, inputs={"dataset": REAL_UNPACK, "smoothing": "/x"}))
    assert main(["run", smoothing]) == 2
    assert "inputs.smoothing is not an input of grpo (inputs: dataset, policy" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out")


# --- Shared test vectors: TRL's advantages, loss, gradient, KL and clip fraction against the Swift
# kind's (fixtures/grpo_vectors.json, derived by grpo_reference.py, a NumPy port of
# GRPOObjective.swift). Compared functions:
#   advantages  TRL: the `sum_then_normalize` block of GRPOTrainer._generate_and_score_completions,
#               reproduced below with TRL's own `nanstd`  vs  Swift: GRPOObjective.advantages
#   loss, dlogp, kl, clip   TRL: GRPOTrainer._compute_loss itself (its per-token log-probs supplied)
#               vs  Swift: GRPOObjective.loss (loss, dlogp, meanKL, clipFraction)
#   top entropy mask  TRL: GRPOTrainer.get_high_entropy_mask  vs  Swift: GRPOObjective.highEntropyMask

with open(grpo_reference.FIXTURE, encoding="utf-8") as _file:
    VECTORS = json.load(_file)["cases"]


# TRL's `nanstd` takes Bessel's correction count / (count - 1) in float32 (an integer division), so
# its advantages differ from float64 ones in the 8th digit: TRL against the fixture is compared to
# 1e-6 relative, the fixture against its own formulas to 1e-12.
TRL_TOLERANCE = {"rel": 1e-6, "abs": 1e-9}


def _close(got, want, rel=1e-12, abs=1e-15) -> bool:
    """Nested lists and dicts equal, numbers within `rel` (relative) or `abs`."""
    if isinstance(want, dict):
        return isinstance(got, dict) and set(got) == set(want) and all(_close(got[k], want[k], rel, abs) for k in want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(_close(g, w, rel, abs) for g, w in zip(got, want))
    return got == pytest.approx(want, rel=rel, abs=abs)


def test_the_fixture_is_the_swift_formulas():
    for case in VECTORS:
        assert _close(grpo_reference.expected(case), case["expected"]), case["name"]


def trl_advantages(rewards, num_generations: int, scale_rewards: str):
    """TRL 1.16's code path (`_generate_and_score_completions`, sum_then_normalize, one reward
    function of weight 1), line for line, with its own `nanstd`: (advantages, is_std_zero)."""
    from trl.trainer.utils import nanstd
    mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
    mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
    if scale_rewards in ["group", "none"]:
        std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
        std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
    else:
        std_rewards = nanstd(rewards).expand_as(rewards)
    advantages = rewards - mean_grouped_rewards
    if scale_rewards != "none":
        advantages = advantages / (std_rewards + 1e-4)
    return torch.nan_to_num(advantages, nan=0.0), torch.isclose(std_rewards, torch.zeros_like(std_rewards))


def _padded(rows):
    width = max(len(r) for r in rows)
    values = torch.tensor([r + [0.0] * (width - len(r)) for r in rows], dtype=torch.float64)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
    return values, mask


class _Accelerator:
    num_processes = 1

    def reduce(self, tensor, reduction="sum"):
        return tensor

    def gather(self, tensor):
        return tensor

    def gather_for_metrics(self, tensor):
        return tensor

    def pad_across_processes(self, tensor, dim=0, pad_index=0):
        return tensor


def trl_loss(case, rows, advantages, accumulation: int = 1, items: int = None):
    """GRPOTrainer._compute_loss on completions `rows` (indices into the case) as one micro-batch of
    an optimizer step of `accumulation` micro-batches: (loss, d loss / d logp per row, metrics)."""
    from trl import GRPOTrainer
    logp, mask = _padded([case["logp"][i] for i in rows])
    logp.requires_grad_(True)
    old, _ = _padded([case["old_logp"][i] for i in rows])
    ref, _ = _padded([case["ref_logp"][i] for i in rows])
    entropies, _ = _padded([case["entropies"][i] for i in rows])
    fake = SimpleNamespace(
        top_entropy_quantile=case.get("top_entropy_quantile", 1.0), off_policy_mask_threshold=None, importance_sampling_level="token",
        beta=case["beta"], args=SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=accumulation),
        loss_type=case["loss_type"], epsilon_low=case["epsilon"], epsilon_high=case["epsilon_high"], use_vllm=False,
        vllm_importance_sampling_correction=False, model=SimpleNamespace(training=True), current_gradient_accumulation_steps=accumulation,
        max_completion_length=case["max_completion_length"], accelerator=_Accelerator(), _entropy_bonus_enabled=False,
        aux_loss_enabled=False, _metrics={"train": defaultdict(list), "eval": defaultdict(list)})
    fake._get_per_token_logps_and_entropies = lambda *args, **kwargs: (logp, entropies, None)
    fake.get_high_entropy_mask = lambda *args: GRPOTrainer.get_high_entropy_mask(fake, *args)
    active = sum(len(case["logp"][i]) for i in rows)
    inputs = {"prompt_ids": torch.zeros(len(rows), 1, dtype=torch.long), "prompt_mask": torch.ones(len(rows), 1, dtype=torch.long),
              "completion_ids": torch.zeros_like(mask), "completion_mask": mask,
              "advantages": torch.tensor([advantages[i] for i in rows], dtype=torch.float64),
              "old_per_token_logps": old, "ref_per_token_logps": ref,
              "num_items_in_batch": torch.tensor(float(items if items is not None else active))}
    loss = GRPOTrainer._compute_loss(fake, None, inputs)
    loss.backward()
    grads = [logp.grad[k, :len(case["logp"][i])].tolist() for k, i in enumerate(rows)]
    return loss.item(), grads, {k: v[-1] for k, v in fake._metrics["train"].items()}


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_trl_objective_equals_the_swift_kinds(case):
    expected = case["expected"]
    groups = case["rewards_by_prompt"]
    size = len(groups[0])
    advantages, zero = trl_advantages(torch.tensor([r for g in groups for r in g], dtype=torch.float64), size, case["scale_rewards"])
    assert _close(advantages.view(-1, size).tolist(), expected["advantages"], **TRL_TOLERANCE)
    # TRL's frac_reward_zero_std is the share of completions whose scaling std is zero: per group
    # under group and none (the Swift kind's share of flat groups), the whole batch's under batch.
    zero_share = zero.double().mean().item()
    if case["scale_rewards"] == "batch":
        assert zero_share == 0 and expected["frac_reward_zero_std"] > 0
    else:
        assert zero_share == pytest.approx(expected["frac_reward_zero_std"], rel=1e-12)
    flat = advantages.tolist()
    loss, grads, metrics = trl_loss(case, list(range(len(flat))), flat)
    assert loss == pytest.approx(expected["loss"], **TRL_TOLERANCE)
    assert _close(grads, expected["dlogp"], **TRL_TOLERANCE)
    if case["beta"]:
        assert metrics["kl"] == pytest.approx(expected["mean_kl"], **TRL_TOLERANCE)
    assert metrics["clip_ratio/region_mean"] == pytest.approx(expected["clip_fraction"], **TRL_TOLERANCE)
    if "trained" in expected:
        from trl import GRPOTrainer
        entropies, mask = _padded(case["entropies"])
        entropies = entropies.float()  # as the model gives them
        fake = SimpleNamespace(accelerator=_Accelerator())
        picked = GRPOTrainer.get_high_entropy_mask(fake, entropies, mask, 1 - case["top_entropy_quantile"])
        assert [row[:len(e)] for row, e in zip(picked.tolist(), case["entropies"])] == expected["trained"]


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo", "bnpo"])
def test_micro_batches_add_up_to_the_whole_batch(loss_type):
    """A step's completions in micro-batches of 4 (TRL's gradient accumulation, as
    `micro_batch` maps it) give the whole batch's loss and gradient, as the Swift kind's weighing
    of micro-batches by the whole batch does -- except bnpo, which TRL normalizes by each
    micro-batch's own token count (documented in TRL's GRPOConfig; the Swift kind by the batch's)."""
    case = next(c for c in VECTORS if c["name"] == f"{loss_type}/group")
    flat = [a for g in case["expected"]["advantages"] for a in g]
    chunks = [list(range(k, k + 4)) for k in range(0, len(flat), 4)]
    active = sum(len(r) for r in case["logp"])
    parts = [trl_loss(case, rows, flat, accumulation=len(chunks), items=active) for rows in chunks]
    total = sum(p[0] for p in parts)
    grads = [g for p in parts for g in p[1]]
    if loss_type != "bnpo":
        assert total == pytest.approx(case["expected"]["loss"], rel=1e-12)
        assert _close(grads, case["expected"]["dlogp"], rel=1e-12, abs=1e-15)
    else:
        local = [grpo_reference.loss([case["logp"][i] for i in rows], [case["old_logp"][i] for i in rows],
                                     [case["ref_logp"][i] for i in rows], [flat[i] for i in rows], case)["loss"] for rows in chunks]
        assert total == pytest.approx(sum(local) / len(chunks), rel=1e-10)
        assert total != pytest.approx(case["expected"]["loss"], rel=1e-6)


@pytest.mark.parametrize("prompts, group, micro, iterations", [(8, 4, 8, 1), (3, 4, 6, 2), (5, 2, 1, 1), (2, 3, 6, 3), (7, 2, 14, 1)])
def test_groups_stay_grouped_by_prompt_for_any_batch_shape(tmp_path, prompts, group, micro, iterations):
    """TRL's sampler, as `_get_train_sampler` builds it from our GRPOConfig: every run of
    `group_size` completions in a generation batch (`rewards.view(-1, G)`) is one prompt's, each
    generation batch holds `prompts_per_step` distinct prompts, reused `num_iterations` times."""
    from trl.trainer.utils import RepeatSampler
    options = request.read(write_request(tmp_path / "r.json", **_fields(tmp_path, options={
        "model": {"config": {}}, "prompts_per_step": prompts, "group_size": group, "micro_batch": micro,
        "num_iterations": iterations}))).options
    config = grpo.trl_config(options, 11, str(tmp_path / "steps"))
    sampler = RepeatSampler(data_source=list(range(23)), mini_repeat_count=config.num_generations,
                            batch_size=config.generation_batch_size // config.num_generations,
                            repeat_count=config.num_iterations * config.steps_per_generation, shuffle=True, seed=config.seed)
    indices = list(sampler)
    per_load = config.per_device_train_batch_size * config.steps_per_generation  # TRL's dataloader batch
    batches = [indices[k:k + per_load] for k in range(0, len(indices) - per_load + 1, per_load)]
    assert batches and per_load == prompts * group
    for batch in batches:
        rows = torch.tensor(batch).view(-1, group)
        assert (rows == rows[:, :1]).all()
        assert len(set(rows[:, 0].tolist())) == prompts
    # The same prompts come back for each of the num_iterations x steps_per_generation loads.
    repeat = iterations * config.steps_per_generation
    for k in range(0, len(batches) - repeat + 1, repeat):
        assert all(batches[k + j] == batches[k] for j in range(repeat))


# --- End to end.

TINY = {"model": {"config": {}}, "steps": 2, "prompts_per_step": 2, "group_size": 2, "micro_batch": 2, "max_new_tokens": 8,
        "lr": 0.003, "eval": {"limit": 2, "max_new_tokens": 6}}
CURVE_HEADER = ("step,epoch,loss,learning_rate,grad_norm,reward,reward_std,rewards/format/mean,rewards/format/std,"
                "rewards/accuracy/mean,rewards/accuracy/std,frac_reward_zero_std,kl,entropy,clip_ratio/low_mean,"
                "clip_ratio/high_mean,clip_ratio/region_mean,completions/mean_length,completions/min_length,"
                "completions/max_length,completions/clipped_ratio,num_tokens")


def _files(directory):
    out = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                out[os.path.relpath(path, directory)] = file.read()
    return out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny grpo run through `python -m pipe_torch run` in a child process."""
    base = tmp_path_factory.mktemp("grpo")
    progress = base / "progress"
    path = write_request(base / "request.json", kind="grpo", seed=3, threads=1, options=TINY, inputs={"dataset": REAL_UNPACK},
                         output=str(base / "out"))
    os.environ["PIPE_PROGRESS"] = str(progress)
    try:
        code, out, err = run_cli("run", path)
    finally:
        del os.environ["PIPE_PROGRESS"]
    return base, code, out, err


def test_a_tiny_run_writes_the_swift_kinds_files(tiny_run):
    base, code, out, err = tiny_run
    assert code == 0, err
    assert out == ""
    files = _files(base / "out")
    assert {"curves.csv", "timing.csv", "metrics.json", "predictions.jsonl", "model/model.safetensors", "model/config.json",
            "model/pipe.json", "model/tokenizer.json"} <= set(files)
    assert json.loads(files["model/pipe.json"]) == {"kind": "grpo", "reasoning": "cot"}
    rows = list(csv.DictReader(files["curves.csv"].decode().splitlines()))
    assert files["curves.csv"].decode().splitlines()[0] == CURVE_HEADER
    assert [r["step"] for r in rows] == ["1", "2"]
    for row in rows:
        for name in ("reward", "reward_std", "frac_reward_zero_std", "kl", "entropy", "clip_ratio/region_mean", "grad_norm",
                     "learning_rate", "completions/mean_length"):
            float(row[name])
        assert 0 <= float(row["reward"]) <= 2 and float(row["completions/max_length"]) <= 8
    metrics = json.loads(files["metrics.json"])
    assert set(metrics) == {"validation"}
    assert set(metrics["validation"]) == {"count", "accuracy", "formatRate", "meanCompletionTokens", "byModality", "byQuestionType"}
    assert metrics["validation"]["count"] == 2
    predictions = [json.loads(line) for line in files["predictions.jsonl"].decode().splitlines()]
    assert len(predictions) == 2 and {"question_id", "answer", "correct", "well_formed", "completion"} <= set(predictions[0])
    assert files["timing.csv"].decode().startswith("step,seconds\n1,")
    lines = (base / "progress").read_text().splitlines()
    assert lines[0].startswith("step 1/2 reward 0.000 format 0.000 accuracy 0.000 kl ") and lines[-1] == "validating 2 records"
    assert not os.path.exists(base / "scratch")


def test_the_same_request_gives_the_same_bytes_in_another_process(tiny_run, tmp_path):
    base, code, _, _ = tiny_run
    assert code == 0
    path = write_request(tmp_path / "request.json", kind="grpo", seed=3, threads=1, options=TINY, inputs={"dataset": REAL_UNPACK},
                         output=str(tmp_path / "out"))
    assert main(["run", path]) == 0
    first, second = _files(base / "out"), _files(tmp_path / "out")
    del first["timing.csv"], second["timing.csv"]
    assert first == second


def test_a_run_with_a_signal_learns(tmp_path, monkeypatch):
    """The random tiny model never earns Med-R1's rewards; a reward that varies within groups (a
    completion's length) shows the update path: the weights move, the KL to the start grows."""
    from safetensors.torch import load_file

    def lengthy(completions, **kwargs):
        return [len(grpo.completion_text(c)) / 10 for c in completions]

    monkeypatch.setattr(grpo, "reward_functions", lambda mode: [lengthy])
    path = write_request(tmp_path / "request.json", kind="grpo", seed=4, threads=1, options={**TINY, "lr": 0.05, "beta": 0.5},
                         inputs={"dataset": REAL_UNPACK}, output=str(tmp_path / "out"), scratch=str(tmp_path / "scratch"))
    assert main(["run", path]) == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "curves.csv")))
    assert float(rows[0]["grad_norm"]) > 0 and float(rows[0]["frac_reward_zero_std"]) < 1
    assert float(rows[0]["kl"]) == 0 and float(rows[1]["kl"]) > 0
    start, end = load_file(tmp_path / "scratch" / "start" / "model.safetensors"), load_file(tmp_path / "out" / "model" / "model.safetensors")
    assert any(not torch.equal(start[k], end[k]) for k in start)

