"""The commands pipe calls: env, check and run (sft, evaluate), their outputs' schema, exit codes,
messages, and byte-identical reruns."""

import csv
import json
import os
import subprocess
import sys

import pytest
from safetensors import safe_open

from conftest import PYTHON_DIR, REAL_UNPACK, REPO, TINY_SFT, run_cli, write_request
from pipe_torch.cli import main

PREDICTION_KEYS = {"question_id", "modality", "question_type", "answer", "correct", "well_formed", "completion_tokens", "completion"}
RESULT_KEYS = {"count", "accuracy", "formatRate", "meanCompletionTokens", "byModality", "byQuestionType"}


def test_env_reports_every_locked_package():
    code, out, err = run_cli("env")
    report = json.loads(out)
    assert code == 0, err
    assert report["packages"]["torch"].startswith("2.13.0") and report["packages"]["transformers"] == "5.25.0"
    assert report["packages"]["trl"] == "1.16.0" and report["missing"] == [] and report["broken"] == []
    with open(os.path.join(PYTHON_DIR, "requirements.lock")) as file:
        pinned = [line for line in file if "==" in line and not line.startswith("#")]
    assert len(report["packages"]) == len(pinned)


def test_env_reports_mismatches_and_missing_packages_without_failing(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("torch==2.13.0\ntransformers==5.24.0\nno-such-package==1.0\n")
    code, out, _ = run_cli("env", "--lock", str(lock))
    report = json.loads(out)
    assert code == 0
    assert report["mismatches"] == [{"name": "transformers", "installed": "5.25.0", "locked": "5.24.0"}]
    assert report["missing"] == ["no-such-package"]


def test_env_without_imports_reads_metadata_only():
    # What pipe keys a torch stage on: the same versions, without importing torch (which would show in sys.modules).
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    probe = "import sys; from pipe_torch import cli; code = cli.main(['env', '--no-import']); " \
            "print('IMPORTED' if 'torch' in sys.modules else 'NOT-IMPORTED', file=sys.stderr); sys.exit(code)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["packages"]["transformers"] == "5.25.0" and report["broken"] == []
    assert "NOT-IMPORTED" in result.stderr


def test_env_without_torch_is_an_input_error():
    # -S leaves site-packages off the path: an interpreter with none of the packages.
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    result = subprocess.run([sys.executable, "-S", "-m", "pipe_torch", "env"], capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 2
    assert "error: the Python environment" in result.stderr and "torch is not installed" in result.stderr
    assert "hint: install the locked versions: bash scripts/torch-env.sh" in result.stderr
    assert "pip install --no-deps -r python/requirements.lock" in result.stderr


def _request(tmp_path, name="request.json", **changes):
    fields = {"kind": "sft", "seed": 1, "threads": 1, "options": dict(TINY_SFT), "inputs": {"dataset": REAL_UNPACK},
              "output": str(tmp_path / "out")}
    fields.update(changes)
    return write_request(tmp_path / name, **fields)


def _not_a_vlm(tmp_path):
    directory = tmp_path / "llama"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return str(directory)


BAD = [
    ("missing model path", lambda t: {"options": {"model": {"path": str(t / "nowhere")}}}, "model.path", "does not exist"),
    ("not a VLM", lambda t: {"options": {"model": {"path": _not_a_vlm(t)}}}, "holds a 'llama' model, not a Qwen2-VL-family", "model_type qwen2_vl"),
    ("unknown config key", lambda t: {"options": {"model": {"config": {"layer": 2}}}}, "options.model.config.layer: unknown model config key 'layer'", "did you mean `layers`?"),
    ("missing dataset", lambda t: {"inputs": {"dataset": str(t / "no-dataset")}}, "the dataset directory", "unpack"),
    ("unknown option", lambda t: {"options": {"model": {"config": {}}, "epoch": 1}}, "options.epoch: unknown option 'epoch'", "did you mean `epochs`?"),
    ("bad value", lambda t: {"options": {"model": {"config": {}}, "reasoning": "cto"}}, "options.reasoning: 'cto' is not one of cot, instruct", "did you mean `cot`?"),
    ("no model", lambda t: {"options": {}}, "sft on the torch backend needs `model: {path: DIR}`", "model: {config: {}}"),
    ("later kind", lambda t: {"kind": "at-grpo"}, "kind 'at-grpo' is not available on the torch backend yet", "backend: swift"),
    ("adversarial", lambda t: {"options": {"model": {"config": {}}, "adversarial": {}}}, "adversarial training is not available", "backend: swift"),
    ("evaluate without policy", lambda t: {"kind": "evaluate", "options": {}}, "evaluate on the torch backend needs a policy", "inputs: {policy: STAGE}"),
    ("swift policy", lambda t: {"inputs": {"dataset": REAL_UNPACK, "policy": _swift_policy(t)}}, "is a swift-backend checkpoint", "backend: torch"),
]


def _swift_policy(tmp_path):
    directory = tmp_path / "swift-policy"
    directory.mkdir()
    (directory / "model.safetensors").write_bytes(b"\0")
    return str(directory)


@pytest.mark.parametrize("name, change, message, hint", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("command", ["check", "run"])
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(tmp_path, capsys, name, change, message, hint, command):
    request = _request(tmp_path, **change(tmp_path))
    assert main([command, request]) == 2
    err = capsys.readouterr().err
    assert message in err and f"hint: " in err and hint in err
    assert err.startswith("error: ")
    assert not os.path.exists(tmp_path / "out")


def test_a_non_empty_output_is_refused(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("x")
    assert main(["check", _request(tmp_path)]) == 2
    assert "the output directory" in capsys.readouterr().err
    assert os.listdir(tmp_path / "out") == ["keep"]


def test_check_accepts_a_good_request_in_a_child_process(tmp_path):
    code, _, err = run_cli("check", _request(tmp_path))
    assert code == 0 and err.strip().endswith("ok")
    assert not os.path.exists(tmp_path / "out")
    code, _, err = run_cli("check", str(tmp_path / "absent.json"))
    assert code == 2 and "error: the request file" in err


def test_sft_writes_the_swift_kinds_files(trained_policy):
    assert sorted(os.listdir(trained_policy)) == ["curves.csv", "metrics.json", "model", "predictions.jsonl", "timing.csv"]
    with open(os.path.join(trained_policy, "metrics.json")) as file:
        metrics = json.load(file)
    assert set(metrics) == {"validation", "steps", "finalLoss", "reasoning"} and metrics["reasoning"] == "cot"
    assert set(metrics["validation"]) == RESULT_KEYS and metrics["validation"]["count"] == 4
    with open(os.path.join(trained_policy, "curves.csv")) as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["step", "epoch", "loss", "learning_rate", "grad_norm", "entropy", "num_tokens", "mean_token_accuracy"]
    assert len(rows) == metrics["steps"] == 3  # 10 training records, 4 a step
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and float(rows[-1]["loss"]) == pytest.approx(metrics["finalLoss"], rel=1e-6)
    with open(os.path.join(trained_policy, "predictions.jsonl")) as file:
        predictions = [json.loads(line) for line in file]
    assert len(predictions) == 4
    for p in predictions:
        assert PREDICTION_KEYS <= set(p) <= PREDICTION_KEYS | {"predicted"}
        assert p["correct"] == (p.get("predicted") == p["answer"])


def test_sft_model_directory_loads_with_from_pretrained(trained_policy):
    import torch
    from transformers import Qwen2VLForConditionalGeneration

    from pipe_torch.model import processor_class
    directory = os.path.join(trained_policy, "model")
    model, info = Qwen2VLForConditionalGeneration.from_pretrained(directory, local_files_only=True, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    processor = processor_class().from_pretrained(directory)
    assert processor.tokenizer.eos_token == "<|im_end|>"
    with safe_open(os.path.join(directory, "model.safetensors"), "pt") as file:
        assert torch.equal(file.get_tensor("model.embed_tokens.weight"), model.get_input_embeddings().weight)


def test_the_same_sft_request_twice_gives_identical_files(trained_policy, tmp_path):
    # The second run is a child process: same bytes across processes, not only within one.
    request = write_request(tmp_path / "request.json", kind="sft", seed=5, threads=1, options=TINY_SFT,
                            inputs={"dataset": REAL_UNPACK}, output=str(tmp_path / "out"))
    progress = tmp_path / "progress"
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR, PIPE_PROGRESS=str(progress))
    result = subprocess.run([sys.executable, "-m", "pipe_torch", "run", request], capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    _assert_same_tree(trained_policy, str(tmp_path / "out"), skip={"timing.csv"})
    lines = progress.read_text().splitlines()
    assert lines[:3] == [line for line in lines[:3] if line.startswith("step ")] and lines[0].startswith("step 1/3 loss ")


def _assert_same_tree(a, b, skip=()):
    names = sorted(os.path.relpath(os.path.join(d, f), a) for d, _, files in os.walk(a) for f in files)
    assert names == sorted(os.path.relpath(os.path.join(d, f), b) for d, _, files in os.walk(b) for f in files)
    for name in names:
        if os.path.basename(name) in skip:
            continue
        with open(os.path.join(a, name), "rb") as x, open(os.path.join(b, name), "rb") as y:
            assert x.read() == y.read(), name


EVALUATE = {"split": "test", "limit": 6, "max_new_tokens": 6, "cues": {"limit": 3},
            "attack": {"methods": ["fgsm", "pgd_linf", "pgd_l2"], "eps": [0.03137], "steps": 2, "limit": 4}}


@pytest.fixture(scope="module")
def evaluation(trained_policy, tmp_path_factory):
    base = tmp_path_factory.mktemp("evaluate")
    request = write_request(base / "request.json", kind="evaluate", seed=9, threads=1, options=EVALUATE,
                            inputs={"dataset": REAL_UNPACK, "policy": trained_policy}, output=str(base / "out"))
    assert main(["run", request]) == 0
    return str(base / "out")


def test_evaluate_writes_the_swift_kinds_report(evaluation):
    assert sorted(os.listdir(evaluation)) == ["attacks.csv", "metrics.json", "predictions.jsonl", "report.md"]
    with open(os.path.join(evaluation, "metrics.json")) as file:
        report = json.load(file)
    assert set(report) == {"split", "clean", "grid", "attacks", "robust_accuracy", "cues", "stepwise", "rationale"}
    assert set(report["clean"]) == RESULT_KEYS and report["clean"]["count"] == 6
    assert [(a["method"], a["eps"], a["steps"], a["count"]) for a in report["attacks"]] == [
        ("fgsm", 0.03137, 1, 4), ("pgd_linf", 0.03137, 2, 4), ("pgd_l2", 0.03137, 2, 4)]
    assert report["attacks"][1]["alpha"] == pytest.approx(0.03137 * 0.25)
    assert set(report["attacks"][0]) == {"method", "eps", "alpha", "steps", "count", "accuracy", "formatRate", "drop",
                                         "byQuestionType", "cleanByQuestionType"}
    assert set(report["robust_accuracy"]) == {"fgsm", "pgd_linf", "pgd_l2"} and set(report["robust_accuracy"]["fgsm"]) == {"0.03137"}
    assert set(report["cues"]) == {"misleading_hint", "shuffled_options"} and report["cues"]["misleading_hint"]["count"] == 3
    assert set(report["stepwise"]) == {"chains", "fullyCorrect", "byStep"}
    assert set(report["rationale"]) == {"count", "concluded", "conclusion_accuracy", "faithful", "checks_right"}
    with open(os.path.join(evaluation, "attacks.csv")) as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["method", "eps", "alpha", "steps", "records", "accuracy", "format_rate", "drop"]
    assert [r[0] for r in rows[1:]] == ["none", "fgsm", "pgd_linf", "pgd_l2"] and rows[1][4] == "6"
    with open(os.path.join(evaluation, "predictions.jsonl")) as file:
        assert len(file.readlines()) == 6


def test_the_same_evaluate_request_twice_gives_identical_files(evaluation, trained_policy, tmp_path):
    request = write_request(tmp_path / "request.json", kind="evaluate", seed=9, threads=1, options=EVALUATE,
                            inputs={"dataset": REAL_UNPACK, "policy": trained_policy}, output=str(tmp_path / "out"))
    assert main(["run", request]) == 0
    _assert_same_tree(evaluation, str(tmp_path / "out"))


def test_a_failing_run_leaves_the_output_empty(tmp_path, capsys):
    # A dataset whose training split is empty fails while running (exit 1), after the output was made.
    from pipe_torch import data
    dataset = data.load(REAL_UNPACK)
    only_test = [r for r in dataset.records if r.split == "test"]
    data.write(str(tmp_path / "ds"), dataset.image_size, list(dataset.images), only_test)
    (tmp_path / "out").mkdir()
    request = _request(tmp_path, inputs={"dataset": str(tmp_path / "ds")})
    assert main(["run", request]) == 1
    assert "error: the dataset has no training records" in capsys.readouterr().err
    assert os.listdir(tmp_path / "out") == []


def test_sft_continues_a_policy_input_and_evaluate_takes_a_model_path(trained_policy, tmp_path):
    from safetensors.torch import load_file
    request = write_request(tmp_path / "sft.json", kind="sft", seed=6, threads=1,
                            options=dict(TINY_SFT, model=None, reasoning="instruct", eval={"limit": 2, "max_new_tokens": 4}),
                            inputs={"dataset": REAL_UNPACK, "policy": trained_policy}, output=str(tmp_path / "continued"))
    assert main(["run", request]) == 0
    before = load_file(os.path.join(trained_policy, "model", "model.safetensors"))
    after = load_file(os.path.join(tmp_path, "continued", "model", "model.safetensors"))
    assert before.keys() == after.keys() and any(not (before[k] == after[k]).all() for k in before)
    shape = lambda c: (c["text_config"]["hidden_size"], c["text_config"]["num_hidden_layers"], c["text_config"]["vocab_size"],
                       c["vision_config"]["depth"], c["vision_config"]["embed_dim"])
    with open(os.path.join(tmp_path, "continued", "model", "config.json")) as a, open(os.path.join(trained_policy, "model", "config.json")) as b:
        assert shape(json.load(a)) == shape(json.load(b)) == (64, 2, 512, 2, 32)  # the policy's shape
    # evaluate a checkpoint directory given as model.path; reasoning auto follows its pipe.json.
    request = write_request(tmp_path / "evaluate.json", kind="evaluate", seed=1, threads=1,
                            options={"model": {"path": os.path.join(tmp_path, "continued", "model")}, "limit": 3, "max_new_tokens": 4},
                            inputs={"dataset": REAL_UNPACK}, output=str(tmp_path / "scores"))
    assert main(["run", request]) == 0
    with open(os.path.join(tmp_path, "scores", "metrics.json")) as file:
        report = json.load(file)
    assert report["clean"]["count"] == 3 and "rationale" not in report and report["attacks"] == []


def test_a_request_on_standard_input(tmp_path):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    with open(_request(tmp_path)) as file:
        good = file.read()
    result = subprocess.run([sys.executable, "-m", "pipe_torch", "check", "-"], input=good, capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 0 and result.stderr.strip().endswith("ok")
    result = subprocess.run([sys.executable, "-m", "pipe_torch", "check", "-"], input="{\"kind\": 3}", capture_output=True, text=True,
                            env=env, cwd=REPO)
    assert result.returncode == 2 and "error: -: kind 3 is not one of sft, evaluate" in result.stderr
