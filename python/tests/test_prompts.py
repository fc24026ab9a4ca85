import pytest

from pipe_torch import prompts


@pytest.mark.parametrize("completion, letter", [
    ("<answer> B </answer>", "B"),
    ("<think> x </think> <answer>C</answer>", "C"),
    ("<answer>\n A \n</answer> <answer> B </answer>", "A"),          # the first match counts
    ("<answer> </answer> <answer> D </answer>", "D"),                 # an empty answer is no match
    ("the answer is B", None),
    ("<answer> B", None),
    ("<Answer> B </Answer>", None),
    ("<answer> B. </answer>", None),
    ("<answer> AB </answer>", "AB"),                                   # a word: scored wrong against a letter
])
def test_parse_rule(completion, letter):
    assert prompts.answer_letter(completion) == letter


@pytest.mark.parametrize("completion, mode, well_formed", [
    ("<think> a </think> <answer> B </answer>", "cot", True),
    ("<think>a\nb</think>\n<answer>B</answer>", "cot", True),
    (" <think> a </think> <answer> B </answer>", "cot", False),
    ("<think> a </think> <answer> B </answer> more", "cot", False),
    ("<answer> B </answer>", "cot", False),
    ("  <answer> B </answer>", "instruct", True),
    ("<answer> B </answer>.", "instruct", False),
])
def test_format_reward(completion, mode, well_formed):
    assert prompts.is_well_formed(completion, mode) == well_formed


def test_prompt_is_the_swift_kinds_text():
    assert prompts.prompt("Which region?", ["chest", "brain"], "instruct") == (
        "Which region?\nA: chest\nB: brain Output the final answer in <answer> </answer> tags.")
    assert prompts.prompt("Q", ["x", "y", "z"], "cot").endswith(
        "C: z First output the thinking process in <think> </think> tags and then output the final answer in <answer> </answer> tags.")


def test_targets_and_rationale_follow_the_swift_kind():
    rationale = prompts.rationale("CT", "chest", "cyst", "mild", "chest", ["brain", "chest"])
    assert rationale == ("a CT image of the chest. finding: cyst, mild. so the answer is chest. "
                         "A: brain vs chest no. B: chest vs chest yes.")
    assert prompts.target("B", rationale, "cot") == f"<think> {rationale} </think> <answer> B </answer>"
    assert prompts.target("B", rationale, "instruct") == "<answer> B </answer>"
    assert prompts.rationale("MRI", None, None, "severe", "x", ["x"]) == "a MRI image. grade: severe. so the answer is x. A: x vs x yes."
