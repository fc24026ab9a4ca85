"""`evaluate` on the torch backend: greedy decoding on a split, clean, under Med-R2's misleading
cues and under FGSM / PGD attacks on the raw pixels. Writes `metrics.json` (the Swift kind's
`EvaluationReport` fields), `report.md`, `attacks.csv`, `predictions.jsonl`."""

import os
import time

from . import attacks, data, generation, model as models, probes
from .errors import failure
from .progress import Progress, log
from .request import Request, policy_model_dir
from .rng import SeededRandom, spread


def _policy(request: Request):
    directory = policy_model_dir(request.policy) if request.policy is not None else request.options["model"]["path"]
    import torch
    policy, processor = models.load(directory)
    if torch.cuda.is_available():
        policy.to("cuda")
    return policy, processor, models.read_pipe_info(directory)


def _accuracy(indices, predictions) -> float:
    return sum(predictions[k]["correct"] for k in indices) / max(1, len(indices))


def _by_type(predictions) -> dict:
    return generation.summarize(predictions)["byQuestionType"]


def grid(predictions) -> dict:
    counts = {}
    for p in predictions:
        cell = counts.setdefault(p["modality"], {})
        right, total = cell.get(p["question_type"], (0, 0))
        cell[p["question_type"]] = (right + p["correct"], total + 1)
    return {m: {t: r / n for t, (r, n) in cells.items()} for m, cells in counts.items()}


def run(request: Request) -> None:
    options, out, seed = request.options, request.output, request.seed
    dataset = data.load(request.dataset)
    records = spread(dataset.split(options["split"]), options["limit"])
    if not records:
        raise failure(f"the {options['split']} split has no records", "check the unpack stage's split")
    policy, processor, info = _policy(request)
    mode = info.get("reasoning", "cot") if options["reasoning"] == "auto" else options["reasoning"]
    if mode not in ("cot", "instruct"):
        raise failure(f"the policy names an unknown reasoning mode {mode!r}", "set `reasoning:` on the evaluate stage")
    max_new = options["max_new_tokens"]
    progress = Progress()
    start = time.monotonic()
    progress.update(f"clean: {len(records)} records")
    clean, predictions = generation.score(policy, processor, dataset, records, mode, max_new)
    log(f"clean: accuracy {clean['accuracy']:.3f}, format {clean['formatRate']:.3f} on {clean['count']} records "
        f"({time.monotonic() - start:.1f} s)")
    cues = _cues(policy, processor, dataset, records, predictions, mode, max_new, options["cues"]["limit"], seed, progress)
    results = _attacks(policy, processor, dataset, records, predictions, mode, max_new, options["attack"], seed, progress)
    robust = {}
    for r in results:
        robust.setdefault(r["method"], {})[repr(r["eps"])] = r["accuracy"]
    report = {"split": options["split"], "clean": clean, "grid": grid(predictions), "attacks": results,
              "robust_accuracy": robust, "cues": cues, "stepwise": probes.stepwise(predictions, records)}
    if mode == "cot":
        report["rationale"] = probes.rationale_check(predictions, records)
    generation.write_json(report, os.path.join(out, "metrics.json"))
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as file:
        file.write(markdown(report))
    with open(os.path.join(out, "attacks.csv"), "w", encoding="utf-8") as file:
        file.write(attacks_csv(report))
    with open(os.path.join(out, "predictions.jsonl"), "w", encoding="utf-8") as file:
        file.write(generation.json_lines(predictions))


def _cues(policy, processor, dataset, records, predictions, mode, max_new, limit, seed, progress) -> dict:
    """Med-R2's misleading hint and shuffled options on records drawn with a fixed seed."""
    random = SeededRandom(seed ^ 0xC0E5)
    probed = spread(list(range(len(records))), limit)
    clean = _accuracy(probed, predictions)
    cues = {}
    for name, variant in [("misleading_hint", probes.misleading), ("shuffled_options", probes.shuffled)]:
        progress.update(f"{name}: {len(probed)} records")
        changed = [variant(records[k], random) for k in probed]
        result, _ = generation.score(policy, processor, dataset, changed, mode, max_new)
        cues[name] = {"accuracy": result["accuracy"], "drop": clean - result["accuracy"], "count": len(changed)}
        log(f"{name}: accuracy {result['accuracy']:.3f} on {len(changed)} records")
    return cues


def _attacks(policy, processor, dataset, records, predictions, mode, max_new, options, seed, progress) -> list:
    targets = spread(list(range(len(records))), options["limit"])
    attacked = [records[k] for k in targets]
    clean = _accuracy(targets, predictions)
    clean_by_type = _by_type([predictions[k] for k in targets])
    results = []
    for attack in attacks.settings(options):
        start = time.monotonic()
        progress.update(f"{attack.method} eps {attack.eps:.4g}: {len(attacked)} records")
        _, adversarial = attacks.attack_records(policy, processor, dataset, attacked, mode, attack, seed, targets)
        pixel_values = [attacks.preprocess(x.unsqueeze(0), processor.image_processor) for x in adversarial]
        result, _ = generation.score(policy, processor, dataset, attacked, mode, max_new, pixel_values)
        results.append({"method": attack.method, "eps": attack.eps, "alpha": attack.alpha, "steps": attack.steps,
                        "count": result["count"], "accuracy": result["accuracy"], "formatRate": result["formatRate"],
                        "drop": clean - result["accuracy"], "byQuestionType": result["byQuestionType"],
                        "cleanByQuestionType": clean_by_type})
        log(f"{attack.method} eps {attack.eps:.4g}: accuracy {result['accuracy']:.3f} ({time.monotonic() - start:.1f} s)")
    return results


def attacks_csv(report: dict) -> str:
    """method, eps, alpha, steps, records, accuracy, format rate, drop; clean first (`attacksCSV`)."""
    c = report["clean"]
    rows = ["method,eps,alpha,steps,records,accuracy,format_rate,drop",
            "none,0,0,0,%d,%.6f,%.6f,0" % (c["count"], c["accuracy"], c["formatRate"])]
    for a in report["attacks"]:
        rows.append("%s,%.6g,%.6g,%d,%d,%.6f,%.6f,%.6f" % (a["method"], a["eps"], a["alpha"], a["steps"], a["count"],
                                                         a["accuracy"], a["formatRate"], a["drop"]))
    return "\n".join(rows) + "\n"


def markdown(report: dict) -> str:
    """The report as Markdown tables, as the Swift kind's `report.md`."""
    c = report["clean"]
    lines = [f"# Evaluation on the {report['split']} split", "",
             "Clean accuracy %.3f on %d questions; format compliance %.3f; mean completion %.1f tokens."
             % (c["accuracy"], c["count"], c["formatRate"], c["meanCompletionTokens"]), ""]
    types = sorted({t for cells in report["grid"].values() for t in cells})
    lines += ["| modality | all | " + " | ".join(types) + " |", "|---|---|" + "---|" * len(types)]
    for m in sorted(report["grid"]):
        cells = ["%.3f" % report["grid"][m][t] if t in report["grid"][m] else "" for t in types]
        lines.append(f"| {m} | %.3f | " % c["byModality"].get(m, 0) + " | ".join(cells) + " |")
    lines.append("| all | %.3f | " % c["accuracy"] + " | ".join("%.3f" % c["byQuestionType"].get(t, 0) for t in types) + " |")
    lines += ["", "| probe (Med-R2) | records | accuracy | drop from clean |", "|---|---|---|---|"]
    for name, cue in sorted(report["cues"].items()):
        lines.append("| %s | %d | %.3f | %.3f |" % (name.replace("_", " "), cue["count"], cue["accuracy"], cue["drop"]))
    s = report["stepwise"]
    steps = ", ".join("%s: %.3f" % (k, v) for k, v in sorted(s["byStep"].items(), key=lambda kv: int(kv[0])))
    lines += ["", "Stepwise consistency: %.3f of %d chains answered correctly at every step; accuracy by step: %s."
              % (s["fullyCorrect"], s["chains"], steps)]
    r = report.get("rationale")
    if r:
        lines += ["", ("Rationale: %.3f of %d answers conclude with the true answer's text; %.3f state a conclusion that is an "
                       "option, and %.3f of those answer the letter it names; the option checks after it are all right in %.3f of them.")
                  % (r["conclusion_accuracy"], r["count"], r["concluded"], r["faithful"], r["checks_right"])]
    if report["attacks"]:
        lines += ["", "| attack | eps | alpha | steps | records | accuracy | drop from clean |", "|---|---|---|---|---|---|---|"]
        for a in report["attacks"]:
            lines.append("| %s | %.4g | %.4g | %d | %d | %.3f | %.3f |" % (a["method"], a["eps"], a["alpha"], a["steps"], a["count"],
                                                                        a["accuracy"], a["drop"]))
        clean = report["attacks"][0]["cleanByQuestionType"]
        keys = sorted(clean)
        row = lambda name, values: f"| {name} | " + " | ".join("%.3f" % values[k] if k in values else "" for k in keys) + " |"
        lines += ["", "Accuracy by question type on the attacked records:", "", "| attack | " + " | ".join(keys) + " |",
                  "|---|" + "---|" * len(keys), row("clean", clean)]
        lines += [row("%s %.4g" % (a["method"], a["eps"]), a["byQuestionType"]) for a in report["attacks"]]
    return "\n".join(lines) + "\n"
