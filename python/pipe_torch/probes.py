"""Med-R2's probes (misleading cues, stepwise chains) and the `cot` rationale check, as the Swift
side computes them (Sources/PipeTraining/MedR2Probes.swift, RationaleCheck.swift)."""

import re

from .prompts import LETTERS, hint

CHECK = re.compile(r"\b([A-D])\s*:\s*([^.]+?)\s+vs\s+([^.]+?)\s+(yes|no)\s*\.")


def misleading(record, random):
    """`record` with a hint towards one of its wrong options appended to the question (seeded)."""
    wrong = [k for k in range(len(record.options)) if k != record.answer]
    if not wrong:
        return record
    copy = record.with_options(list(range(len(record.options))))
    copy.question += " " + hint(record.options[wrong[random.next() % len(wrong)]])
    return copy


def shuffled(record, random):
    """`record` with its options in another order (never the identity when there are two or more)."""
    identity = list(range(len(record.options)))
    if len(identity) < 2:
        return record
    order = list(identity)
    while True:
        random.shuffle(order)
        if order != identity:
            return record.with_options(order)


def stepwise(predictions: list, records: list) -> dict:
    """{chains, fullyCorrect, byStep}: chains with two or more scored questions, the share answered
    right at every step, accuracy by step."""
    chains, steps = {}, {}
    for p, r in zip(predictions, records):
        if r.chain_id is None or r.chain_step is None:
            continue
        chains.setdefault(r.chain_id, []).append(p["correct"])
        right, total = steps.get(r.chain_step, (0, 0))
        steps[r.chain_step] = (right + p["correct"], total + 1)
    scored = [c for c in chains.values() if len(c) >= 2]
    full = sum(all(c) for c in scored)
    return {"chains": len(scored), "fullyCorrect": full / len(scored) if scored else 0.0,
            "byStep": {str(step): right / total for step, (right, total) in sorted(steps.items())}}


def _squeezed(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace())


def _after_conclusion(completion: str):
    start = completion.find("<think>")
    if start < 0:
        return None
    after = completion[start + len("<think>"):]
    end = after.find("</think>")
    think = after[:end] if end >= 0 else after
    at = think.rfind("so the answer is")
    return think[at + len("so the answer is"):] if at >= 0 else None


def conclusion(completion: str):
    rest = _after_conclusion(completion)
    if rest is None:
        return None
    stop = rest.find(".")
    text = _squeezed(rest[:stop] if stop >= 0 else rest)
    return text or None


def _checks(completion: str) -> list:
    rest = _after_conclusion(completion)
    if rest is None:
        return []
    return [(m.group(1), _squeezed(m.group(2)), _squeezed(m.group(3)), m.group(4) == "yes") for m in CHECK.finditer(rest)]


def _checks_right(checks, options, conclusion_text) -> bool:
    if len(checks) != len(options) or len(options) > len(LETTERS):
        return False
    return all(letter == LETTERS[k] and option == _squeezed(options[k]) and against == conclusion_text
               and yes == (_squeezed(options[k]) == conclusion_text) for k, (letter, option, against, yes) in enumerate(checks))


def rationale_check(predictions: list, records: list) -> dict:
    """{count, concluded, conclusion_accuracy, faithful, checks_right} (RationaleCheck.measure)."""
    concluded = right = faithful = checks_right = 0
    for p, r in zip(predictions, records):
        text = conclusion(p["completion"])
        if text is None:
            continue
        index = next((k for k, o in enumerate(r.options) if _squeezed(o) == text), None)
        if index is None:
            continue
        concluded += 1
        right += index == r.answer
        faithful += index < len(LETTERS) and p.get("predicted") == LETTERS[index]
        checks_right += _checks_right(_checks(p["completion"]), r.options, text)
    count = min(len(predictions), len(records))
    n = max(1, count)
    return {"count": count, "concluded": concluded / n, "conclusion_accuracy": right / n,
            "faithful": faithful / max(1, concluded), "checks_right": checks_right / max(1, concluded)}
