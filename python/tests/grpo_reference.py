"""An independent NumPy port of the Swift kind's GRPO objective
(Sources/PipeTraining/GRPO/GRPOObjective.swift: `advantages`, `highEntropyMask`, `zeroStdFraction`,
`loss`), line for line, in float64. It derives the expected values of
`fixtures/grpo_vectors.json`; the tests compare TRL's computation against them.

Run `python tests/grpo_reference.py` (from python/) to rewrite the fixture from its inputs."""

import json
import math
import os

import numpy as np

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "grpo_vectors.json")


def std(values) -> float:
    """`GRPOObjective.standardDeviation`: Bessel's correction, 0 for fewer than two values."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return 0.0
    return float(math.sqrt(((values - values.mean()) ** 2).sum() / (values.size - 1)))


def advantages(rewards_by_prompt, scaling: str) -> list:
    """`GRPOObjective.advantages`: per prompt, (r - group mean) scaled by the group's std, the
    batch's std, or not at all (+1e-4 under the division)."""
    batch_std = std([r for group in rewards_by_prompt for r in group])
    out = []
    for group in rewards_by_prompt:
        mean = sum(group) / max(1, len(group))
        if scaling == "group":
            s = std(group)
            out.append([(r - mean) / (s + 1e-4) for r in group])
        elif scaling == "batch":
            out.append([(r - mean) / (batch_std + 1e-4) for r in group])
        else:
            out.append([r - mean for r in group])
    return out


def zero_std_fraction(rewards_by_prompt) -> float:
    """`GRPOObjective.zeroStdFraction`: the share of groups whose rewards are all equal."""
    if not rewards_by_prompt:
        return 0.0
    return sum(all(r == g[0] for r in g) for g in rewards_by_prompt) / len(rewards_by_prompt)


def high_entropy_mask(entropies, top: float) -> list:
    """`GRPOObjective.highEntropyMask`: tokens at or above the (1 - top) quantile (linear
    interpolation) of all tokens' entropies."""
    values = sorted(e for row in entropies for e in row)
    if top >= 1 or not values:
        return [[True] * len(row) for row in entropies]
    position = (1 - max(0.0, top)) * (len(values) - 1)
    below = int(math.floor(position))
    above = min(len(values) - 1, below + 1)
    threshold = values[below] + (values[above] - values[below]) * (position - below)
    return [[e >= threshold for e in row] for row in entropies]


def loss(logp, old_logp, ref_logp, advantage, settings: dict, trained=None) -> dict:
    """`GRPOObjective.loss` over one whole batch: the loss, d loss / d logp per token, the mean k3
    KL, the clip fraction and the mean ratio over the batch's tokens."""
    completions = len(logp)
    active = sum(len(row) for row in logp)
    total = kl = ratios = 0.0
    clipped = 0
    grads = []
    for i, row in enumerate(logp):
        n = len(row)
        kind = settings["loss_type"]
        if kind == "grpo":
            weight = 1 / max(1, n) / max(1, completions)
        elif kind == "bnpo":
            weight = 1 / max(1, active)
        elif kind == "dr_grpo":
            weight = 1 / max(1, completions * settings["max_completion_length"])
        else:  # dapo
            weight = 1 / max(1, active)
        a = advantage[i]
        row_grads = []
        for t in range(n):
            ratio = math.exp(row[t] - old_logp[i][t])
            clipped_ratio = min(max(ratio, 1 - settings["epsilon"]), 1 + settings["epsilon_high"])
            unclipped_term, clipped_term = ratio * a, clipped_ratio * a
            kept = True if trained is None else trained[i][t]
            token_loss = -min(unclipped_term, clipped_term) if kept else 0.0
            grad = -ratio * a if kept and unclipped_term <= clipped_term else 0.0
            if (ratio < 1 - settings["epsilon"] and a < 0) or (ratio > 1 + settings["epsilon_high"] and a > 0):
                clipped += 1
            ratios += ratio
            if settings["beta"] != 0 and ref_logp is not None:
                d = ref_logp[i][t] - row[t]
                k3 = math.exp(d) - d - 1
                token_loss += settings["beta"] * k3
                grad += settings["beta"] * (1 - math.exp(d))
                kl += k3
            total += weight * token_loss
            row_grads.append(weight * grad)
        grads.append(row_grads)
    count = max(1, active)
    return {"loss": total, "dlogp": grads, "mean_kl": kl / count, "clip_fraction": clipped / count, "mean_ratio": ratios / count}


def expected(case: dict) -> dict:
    """The Swift kind's values for one fixture case."""
    adv = advantages(case["rewards_by_prompt"], case["scale_rewards"])
    flat = [a for group in adv for a in group]
    trained = None
    if case.get("top_entropy_quantile", 1) < 1:
        trained = high_entropy_mask(case["entropies"], case["top_entropy_quantile"])
    result = loss(case["logp"], case["old_logp"], case.get("ref_logp"), flat, case, trained)
    result.update({"advantages": adv, "frac_reward_zero_std": zero_std_fraction(case["rewards_by_prompt"])})
    if trained is not None:
        result["trained"] = trained
    return result


def _inputs(seed: int, groups: int, group_size: int) -> dict:
    """Rewards in {0, 1, 2} (one flat group), log-probs of completions of 1 to 5 tokens, the
    sampling policy's and the reference's nearby, entropies."""
    random = np.random.RandomState(seed)
    rewards = [[float(r) for r in random.randint(0, 3, size=group_size)] for _ in range(groups)]
    rewards[1] = [1.0] * group_size
    lengths = random.randint(1, 6, size=groups * group_size)
    logp = [list(np.round(-random.uniform(0.05, 3, size=n), 6)) for n in lengths]
    old = [list(np.round(np.asarray(row) + random.normal(0, 0.3, size=len(row)), 6)) for row in logp]
    ref = [list(np.round(np.asarray(row) + random.normal(0, 0.2, size=len(row)), 6)) for row in logp]
    # Entropies are float32 values, as a model gives them (TRL picks the top ones in float32).
    entropies = [list(np.round(random.uniform(0.1, 4, size=len(row)), 6).astype(np.float32).astype(np.float64)) for row in logp]
    as_float = lambda rows: [[float(v) for v in row] for row in rows]  # noqa: E731
    return {"rewards_by_prompt": rewards, "logp": as_float(logp), "old_logp": as_float(old), "ref_logp": as_float(ref),
            "entropies": as_float(entropies)}


def cases() -> list:
    """Every loss_type x scale_rewards the Swift kind has, on one batch of 3 prompts x 4
    completions; then beta 0, a wider upper clip, and top_entropy_quantile 0.5."""
    base = _inputs(39, 3, 4)
    out = []
    for loss_type in ("grpo", "bnpo", "dr_grpo", "dapo"):
        for scale in ("group", "batch", "none"):
            out.append({"name": f"{loss_type}/{scale}", "loss_type": loss_type, "scale_rewards": scale, "beta": 0.04,
                        "epsilon": 0.2, "epsilon_high": 0.2, "max_completion_length": 8, **base})
    out.append({"name": "grpo/group beta 0", "loss_type": "grpo", "scale_rewards": "group", "beta": 0.0, "epsilon": 0.2,
                "epsilon_high": 0.28, "max_completion_length": 8, **base})
    out.append({"name": "dapo/group top entropy 0.5", "loss_type": "dapo", "scale_rewards": "group", "beta": 0.1, "epsilon": 0.1,
                "epsilon_high": 0.3, "max_completion_length": 8, "top_entropy_quantile": 0.5, **_inputs(7, 2, 3)})
    return out


def write() -> None:
    vectors = []
    for case in cases():
        vectors.append({**case, "expected": expected(case)})
    note = ("GRPO test vectors shared by the Swift and torch backends. Inputs: rewards per prompt (groups), per completion "
            "the tokens' log-probs under the current policy (logp), the sampling policy (old_logp) and the reference (ref_logp). "
            "expected: the Swift kind's GRPOObjective (advantages, loss over the whole batch, d loss / d logp, mean k3 KL, clip "
            "fraction, frac_reward_zero_std), computed by python/tests/grpo_reference.py.")
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with open(FIXTURE, "w", encoding="utf-8") as file:  # one case a line
        file.write('{"note": ' + json.dumps(note) + ',\n "cases": [\n')
        file.write(",\n".join("  " + json.dumps(v) for v in vectors) + "\n ]}\n")


if __name__ == "__main__":
    write()
