"""Shared fixtures: offline settings, a tiny dataset in the unpack format, one trained tiny policy."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYTHON_DIR)
# A real `unpack` artifact made by the pipe binary (recipe.yaml beside it: 12 synth images of 28 x 28).
REAL_UNPACK = os.path.join(HERE, "data", "unpack-tiny")

for name, value in [("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1")]:
    os.environ[name] = value
sys.path.insert(0, PYTHON_DIR)

from pipe_torch import data  # noqa: E402
from pipe_torch.cli import main  # noqa: E402

TINY_SFT = {"model": {"config": {}}, "epochs": 1, "batch_size": 4, "micro_batch": 2, "lr": 0.003, "warmup_steps": 1,
            "eval": {"limit": 4, "max_new_tokens": 6}}


def synthetic_records(images: int, size: int, splits=("train", "train", "val", "test")):
    """Records in OmniMedVQA's shape: per image a modality and an anatomy question (a chain)."""
    modalities, regions = ["CT", "MRI", "X-Ray"], ["chest", "brain", "knee"]
    records = []
    for k in range(images):
        path = f"Images/Synth/{k:04d}.png"
        split = splits[k % len(splits)]
        records.append(data.Record(question_id=f"{k}_modality", question_type="Modality Recognition", modality=modalities[k % 3],
                                   question="Which imaging modality was used?", options=list(modalities), answer=k % 3,
                                   image_path=path, dataset="Synth", image=k, split=split, chain_id=str(k), chain_step=1))
        records.append(data.Record(question_id=f"{k}_anatomy", question_type="Anatomy Identification", modality=modalities[k % 3],
                                   question="Which region is shown?", options=regions[:2], answer=k % 2,
                                   image_path=path, dataset="Synth", image=k, split=split, chain_id=str(k), chain_step=2))
    pixels = np.random.RandomState(0).randint(0, 256, size=(images, size, size, 3)).astype(np.uint8)
    return list(pixels), records


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("synthetic") / "dataset")
    images, records = synthetic_records(8, 56)
    data.write(directory, 56, images, records)
    return directory


def write_request(path, **fields):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(fields, file)
    return str(path)


def run_cli(*args):
    """The CLI in a child process: (exit code, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    result = subprocess.run([sys.executable, "-m", "pipe_torch", *args], capture_output=True, text=True, env=env, cwd=REPO)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="session")
def trained_policy(tmp_path_factory):
    """A tiny policy trained on the real unpack artifact, through the CLI in this process."""
    base = tmp_path_factory.mktemp("policy")
    request = write_request(base / "request.json", kind="sft", seed=5, threads=1, options=TINY_SFT,
                            inputs={"dataset": REAL_UNPACK}, output=str(base / "out"), scratch=str(base / "scratch"))
    assert main(["run", request]) == 0
    return str(base / "out")
