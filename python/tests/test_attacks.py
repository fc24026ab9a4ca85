import pytest
import torch

from conftest import REAL_UNPACK
from pipe_torch import attacks, chat, data, model as models
from pipe_torch.runtime import seed_everything


@pytest.fixture(scope="module")
def setup():
    seed_everything(11, 1)
    model, processor = models.build({}, seed=11)
    dataset = data.load(REAL_UNPACK)
    return model, processor, dataset, dataset.split("test")[:6]


def test_preprocessing_in_torch_equals_the_processors(setup):
    model, processor, dataset, records = setup
    x0, _ = attacks.teacher_forced(processor, dataset, records, "cot")
    images = [chat.pil_image(dataset, r.image, processor) for r in records]
    expected = processor(images=images, text=["<|vision_start|><|image_pad|><|vision_end|>"] * len(images), return_tensors="pt")
    assert x0.shape == (6, 3, 56, 56)  # the 28 x 28 images at the model's resolution
    assert torch.equal(attacks.preprocess(x0, processor.image_processor), expected["pixel_values"])


def _losses(model, processor, batch, x):
    with torch.no_grad():
        return attacks.answer_losses(model, batch, attacks.preprocess(x, processor.image_processor))


@pytest.mark.parametrize("attack, norm", [
    (attacks.Attack("fgsm", 8 / 255, 8 / 255, 1, False), "linf"),
    (attacks.Attack("pgd_linf", 8 / 255, 2 / 255, 4, True), "linf"),
    (attacks.Attack("pgd_l2", 1.0, 0.2, 4, True), "l2"),
])
def test_attacks_stay_in_the_ball_and_in_range_and_raise_the_loss(setup, attack, norm):
    model, processor, dataset, records = setup
    clean, adversarial = attacks.attack_records(model, processor, dataset, records, "cot", attack, seed=3)
    delta = (adversarial - clean).flatten(1)
    size = delta.abs().max(dim=1).values if norm == "linf" else delta.norm(dim=1)
    assert torch.all(size <= attack.eps + 1e-6)
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert torch.any(delta != 0)
    _, batch = attacks.teacher_forced(processor, dataset, records, "cot")
    assert torch.all(_losses(model, processor, batch, adversarial) >= _losses(model, processor, batch, clean))
    again = attacks.attack_records(model, processor, dataset, records, "cot", attack, seed=3)[1]
    assert torch.equal(adversarial, again)
    assert all(p.requires_grad for p in model.parameters()) and not any(p.grad is not None for p in model.parameters())


def test_zero_budget_leaves_images_alone_and_settings_follow_evaluate(setup):
    model, processor, dataset, records = setup
    clean, adversarial = attacks.attack_records(model, processor, dataset, records[:2], "instruct",
                                                attacks.Attack("pgd_linf", 0.0, 0.0, 3, True), seed=1)
    assert torch.equal(clean, adversarial)
    chosen = attacks.settings({"methods": ["fgsm", "pgd_l2"], "eps": [0.01, 0.5], "steps": 7, "alpha_ratio": 0.25, "random_start": True})
    assert [(a.method, a.eps, a.alpha, a.steps, a.random_start) for a in chosen] == [
        ("fgsm", 0.01, 0.01, 1, False), ("fgsm", 0.5, 0.5, 1, False), ("pgd_l2", 0.01, 0.0025, 7, True), ("pgd_l2", 0.5, 0.125, 7, True)]
