"""Med-R1's prompts, targets and answer parsing, the same text as the Swift side's `Prompting`."""

import re

LETTERS = ["A", "B", "C", "D"]
MODES = ("cot", "instruct")

INSTRUCTIONS = {
    "cot": "First output the thinking process in <think> </think> tags and then output the final answer in <answer> </answer> tags.",
    "instruct": "Output the final answer in <answer> </answer> tags.",
}

ANSWER_PATTERN = re.compile(r"<answer>\s*(\w+)\s*</answer>")
WELL_FORMED = {
    "cot": re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL),
    "instruct": re.compile(r"\s*<answer>.*?</answer>", re.DOTALL),
}


def question_text(question: str, options: list) -> str:
    """The question with its options, one per line: `A: text`."""
    return "\n".join([question] + [f"{letter}: {option}" for letter, option in zip(LETTERS, options)])


def prompt(question: str, options: list, mode: str) -> str:
    """The full prompt text: the question, its options, then Med-R1's instruction."""
    return f"{question_text(question, options)} {INSTRUCTIONS[mode]}"


def target(letter: str, rationale: str, mode: str) -> str:
    """The response trained on: `<think> rationale </think> <answer> X </answer>` or `<answer> X </answer>`."""
    if mode == "cot":
        return f"<think> {rationale} </think> <answer> {letter} </answer>"
    return f"<answer> {letter} </answer>"


def answer_target(letter: str) -> str:
    """The teacher-forced text an attack's loss is the NLL of."""
    return f"<answer> {letter} </answer>"


def rationale(modality, anatomy, finding, grade, answer, options) -> str:
    """The `cot` rationale from the image's known attributes (`Prompting.rationale`)."""
    text = f"a {modality} image" + (f" of the {anatomy}" if anatomy is not None else "") + "."
    if finding is not None:
        text += f" finding: {finding}" + (f", {grade}" if grade is not None else "") + "."
    elif grade is not None:
        text += f" grade: {grade}."
    text += f" so the answer is {answer}."
    for letter, option in zip(LETTERS, options):
        text += f" {letter}: {option} vs {answer} {'yes' if option == answer else 'no'}."
    return text


def answer_letter(completion: str):
    """The word inside the first `<answer>...</answer>` (Med-R1's parse rule), or None: unparsable
    counts as wrong."""
    match = ANSWER_PATTERN.search(completion)
    return match.group(1) if match else None


def is_well_formed(completion: str, mode: str) -> bool:
    """Med-R1's format reward: the whole completion matches the mode's pattern."""
    return WELL_FORMED[mode].fullmatch(completion) is not None


def hint(option: str) -> str:
    """The misleading hint appended to a question (Med-R2), in the rationale's own words."""
    return f"so the answer is {option}."
