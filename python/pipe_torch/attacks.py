"""FGSM, PGD-Linf and PGD-L2 on raw pixels in [0, 1] (Madry et al.; torchattacks' conventions),
differentiating through the model's own image preprocessing (rescaled pixels -> normalize ->
patchify and merge order), rewritten in torch and checked against the processor's output.

The attack loss is the negative log-likelihood of the ground-truth `<answer> X </answer>` tokens,
teacher-forced right after the prompt, summed per example (so an image's attack does not depend
on the rest of its batch); it is maximised."""

from dataclasses import dataclass

from . import prompts
from .chat import pil_image, pixels01, prompt_batch
from .runtime import example_seed

CHUNK = 8


@dataclass
class Attack:
    method: str  # fgsm | pgd_linf | pgd_l2
    eps: float
    alpha: float
    steps: int
    random_start: bool


def settings(options: dict) -> list:
    """One Attack per method and eps of evaluate's `attack:` options (`EvaluateKind`'s rule:
    alpha = eps x alpha_ratio; FGSM is one step without a random start)."""
    result = []
    for method in options["methods"]:
        for eps in options["eps"]:
            fgsm = method == "fgsm"
            result.append(Attack(method, eps, eps if fgsm else eps * options["alpha_ratio"], 1 if fgsm else options["steps"],
                                 not fgsm and options["random_start"]))
    return result


def preprocess(x, image_processor):
    """Pixel values the model reads from images `x` (B, 3, H, W) in [0, 1]: normalized and
    patchified exactly as Qwen2VLImageProcessor does, (B x patches, 3 x T x P x P); differentiable."""
    import torch
    ip = image_processor
    mean = torch.tensor(ip.image_mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(ip.image_std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    y = (x - mean) / std if ip.do_normalize else x
    b, c, h, w = y.shape
    p, m, t = ip.patch_size, ip.merge_size, ip.temporal_patch_size
    gh, gw = h // p, w // p
    patches = y.reshape(b, c, gh // m, m, p, gw // m, m, p).permute(0, 2, 5, 3, 6, 1, 4, 7)
    patches = patches.unsqueeze(6).expand(*patches.shape[:6], t, p, p)
    return patches.reshape(b * gh * gw, c * t * p * p)


def answer_losses(model, batch, pixel_values):
    """The summed NLL of each example's answer tokens (`answer_mask`) given `pixel_values`."""
    import torch
    inputs = {k: v for k, v in batch.items() if k not in ("answer_mask", "pixel_values")}
    logits = model(**inputs, pixel_values=pixel_values).logits[:, :-1].float()
    targets = batch["input_ids"][:, 1:]
    mask = batch["answer_mask"][:, 1:].to(logits.dtype)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -(logp * mask).sum(dim=1)


def _random_start(x0, attack: Attack, seeds: list):
    import torch
    starts = []
    for image, seed in zip(x0, seeds):
        # Drawn on the CPU, so that a GPU run starts where a CPU run does.
        generator = torch.Generator().manual_seed(seed)
        if attack.method == "pgd_linf":
            delta = (torch.rand(image.shape, generator=generator, dtype=image.dtype) * 2 - 1) * attack.eps
        else:
            direction = torch.randn(image.shape, generator=generator, dtype=image.dtype)
            radius = torch.rand((), generator=generator, dtype=image.dtype) * attack.eps
            delta = direction / direction.norm().clamp_min(1e-12) * radius
        delta = delta.to(image.device)
        starts.append((image + delta).clamp(0, 1))
    return torch.stack(starts)


def perturb(model, processor, x0, batch, attack: Attack, seeds: list):
    """Adversarial versions of images `x0` (B, 3, H, W) in [0, 1] for the teacher-forced `batch`."""
    import torch
    if attack.eps <= 0:
        return x0.clone()
    x = _random_start(x0, attack, seeds) if attack.random_start else x0.clone()
    for _ in range(attack.steps):
        x = x.detach().requires_grad_(True)
        loss = answer_losses(model, batch, preprocess(x, processor.image_processor)).sum()
        (grad,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            if attack.method == "fgsm":
                x = (x0 + attack.eps * grad.sign()).clamp(0, 1)
            elif attack.method == "pgd_linf":
                stepped = x + attack.alpha * grad.sign()
                x = (x0 + (stepped - x0).clamp(-attack.eps, attack.eps)).clamp(0, 1)
            else:
                norms = grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1) + 1e-10
                delta = x + attack.alpha * grad / norms - x0
                factor = (attack.eps / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).clamp(max=1).view(-1, 1, 1, 1)
                x = (x0 + delta * factor).clamp(0, 1)
    return x.detach()


def teacher_forced(processor, dataset, records, mode):
    """(clean images (B, 3, H, W) in [0, 1], the batch with each answer teacher-forced)."""
    import torch
    images = [pil_image(dataset, r.image, processor) for r in records]
    batch = prompt_batch(processor, records, images, mode, answers=[prompts.answer_target(r.answer_letter) for r in records])
    return torch.stack([pixels01(i) for i in images]), batch


def attack_records(model, processor, dataset, records, mode, attack: Attack, seed: int, indices: list = None):
    """(clean images, adversarial images) for `records`, in chunks of `CHUNK`; example k's random
    start is seeded by (seed, indices[k])."""
    import torch
    indices = indices if indices is not None else list(range(len(records)))
    was_training = model.training
    model.eval()
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        clean, adversarial = [], []
        for first in range(0, len(records), CHUNK):
            chunk = records[first:first + CHUNK]
            x0, batch = teacher_forced(processor, dataset, chunk, mode)
            x0, batch = x0.to(model.device), batch.to(model.device)
            seeds = [example_seed(seed, i) for i in indices[first:first + CHUNK]]
            clean.append(x0)
            adversarial.append(perturb(model, processor, x0, batch, attack, seeds))
        return torch.cat(clean).cpu(), torch.cat(adversarial).cpu()
    finally:
        for p in frozen:
            p.requires_grad_(True)
        model.train(was_training)
