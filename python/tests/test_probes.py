import json

import pytest

from pipe_torch import generation, probes
from pipe_torch.data import Record
from pipe_torch.rng import SeededRandom


def _record(options=("chest", "brain", "knee"), answer=1, chain=None, step=None, qid="q"):
    return Record(question_id=qid, question_type="Anatomy Identification", modality="CT", question="Which region?",
                  options=list(options), answer=answer, image_path="Images/x.png", dataset="X", image=0, split="test",
                  chain_id=chain, chain_step=step)


def test_misleading_hint_names_a_wrong_option_seeded():
    record = _record()
    hinted = [probes.misleading(record, SeededRandom(s)).question for s in range(20)]
    assert all(q.startswith("Which region? so the answer is ") and q.endswith(".") for q in hinted)
    assert {q.split("is ")[1][:-1] for q in hinted} == {"chest", "knee"}  # never the answer, both wrong options drawn
    assert probes.misleading(record, SeededRandom(3)).question == probes.misleading(record, SeededRandom(3)).question
    assert record.question == "Which region?"  # the record itself is unchanged


def test_shuffled_options_never_keep_the_order_and_the_answer_follows_its_text():
    record = _record()
    for seed in range(20):
        shuffled = probes.shuffled(record, SeededRandom(seed))
        assert shuffled.options != record.options and sorted(shuffled.options) == sorted(record.options)
        assert shuffled.options[shuffled.answer] == "brain"
    assert probes.shuffled(_record(("only",), 0), SeededRandom(1)).options == ["only"]


def _prediction(correct, completion="", predicted=None):
    p = {"question_id": "q", "modality": "CT", "question_type": "T", "answer": "B", "correct": correct, "well_formed": True,
         "completion_tokens": 3, "completion": completion}
    if predicted:
        p["predicted"] = predicted
    return p


def test_stepwise_counts_chains_of_two_or_more():
    records = [_record(chain="a", step=1), _record(chain="a", step=2), _record(chain="b", step=1), _record(chain="b", step=2),
               _record(chain="c", step=1), _record()]
    predictions = [_prediction(c) for c in (True, True, True, False, True, False)]
    assert probes.stepwise(predictions, records) == {"chains": 2, "fullyCorrect": 0.5, "byStep": {"1": 1.0, "2": 0.5}}
    assert probes.stepwise([], []) == {"chains": 0, "fullyCorrect": 0.0, "byStep": {}}


@pytest.mark.parametrize("completion, predicted, concluded, right, faithful, checks", [
    ("<think> a CT image. so the answer is brain. A: chest vs brain no. B: brain vs brain yes. C: knee vs brain no. </think> <answer> B </answer>",
     "B", 1, 1, 1, 1),
    ("<think> so the answer is brain. A: chest vs brain no. B: brain vs brain no. C: knee vs brain no. </think> <answer> B </answer>",
     "B", 1, 1, 1, 0),
    ("<think> so the answer is knee. </think> <answer> B </answer>", "B", 1, 0, 0, 0),
    ("<think> so the answer is spleen. </think> <answer> B </answer>", "B", 0, 0, 0, 0),
    ("<answer> B </answer>", "B", 0, 0, 0, 0),
])
def test_rationale_check(completion, predicted, concluded, right, faithful, checks):
    result = probes.rationale_check([_prediction(True, completion, predicted)], [_record()])
    assert result == {"count": 1, "concluded": float(concluded), "conclusion_accuracy": float(right),
                      "faithful": float(faithful), "checks_right": float(checks)}


def test_predictions_and_summary_follow_the_swift_schema():
    record = _record()
    right = generation.prediction(record, "<answer> B </answer>", 5, "instruct")
    unparsable = generation.prediction(record, "B", 1, "instruct")
    assert right["predicted"] == "B" and right["correct"] and right["well_formed"]
    assert "predicted" not in unparsable and not unparsable["correct"] and not unparsable["well_formed"]
    summary = generation.summarize([right, unparsable])
    assert summary == {"count": 2, "accuracy": 0.5, "formatRate": 0.5, "meanCompletionTokens": 3.0,
                       "byModality": {"CT": 0.5}, "byQuestionType": {"Anatomy Identification": 0.5}}
    lines = generation.json_lines([right]).splitlines()
    assert lines == [json.dumps(right, sort_keys=True, separators=(",", ":"))]
