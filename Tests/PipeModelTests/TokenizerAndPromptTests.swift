import Foundation
import Testing
@testable import PipeModel

/// The word-level tokenizer and Med-R1's prompt and answer formats.
struct TokenizerAndPromptTests {
    @Test func splitsWordsPunctuationAndTags() {
        #expect(Tokenizer.split("<think> a CT image, of the chest. </think><answer>B</answer>")
                == ["<think>", "a", "CT", "image", ",", "of", "the", "chest", ".", "</think>", "<answer>", "B", "</answer>"])
        #expect(Tokenizer.split("A: X-Ray\nB: 2") == ["A", ":", "X", "-", "Ray", "B", ":", "2"])
        #expect(Tokenizer.split("<notatag> x") == ["<", "notatag", ">", "x"])
    }

    @Test func encodesAndDecodesWithUnknownWords() throws {
        let tokenizer = Tokenizer(texts: ["What modality is this?", "CT MRI"])
        #expect(Array(tokenizer.tokens.prefix(Tokenizer.reserved.count)) == Tokenizer.reserved)
        let ids = tokenizer.encode("What is this? <answer> A </answer> PET")
        #expect(ids.last == Tokenizer.unk)
        #expect(tokenizer.decode(ids + [Tokenizer.eos] + ids) == "What is this ? <answer> A </answer> <unk>")
        let round = try JSONDecoder().decode(Tokenizer.self, from: try JSONEncoder().encode(tokenizer))
        #expect(round == tokenizer)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(Tokenizer.self, from: Data(#"{"tokens": ["x"]}"#.utf8)) }
    }

    @Test func promptsFollowMedR1() {
        let prompt = Prompting.prompt("What modality?", options: ["CT", "MRI"], mode: .cot)
        #expect(prompt == "What modality?\nA: CT\nB: MRI First output the thinking process in <think> </think> tags and then output the final answer in <answer> </answer> tags.")
        #expect(Prompting.prompt("Q?", options: ["x", "y", "z"], mode: .instruct).hasSuffix("C: z Output the final answer in <answer> </answer> tags."))
        let rationale = Prompting.rationale(modality: "CT", anatomy: "chest", finding: "tumor", grade: "mild", answer: "tumor",
                                            options: ["cyst", "tumor"])
        let target = Prompting.target(letter: "B", rationale: rationale, mode: .cot)
        #expect(target == "<think> a CT image of the chest. finding: tumor, mild. so the answer is tumor. A: cyst vs tumor no. B: tumor vs tumor yes. </think> <answer> B </answer>")
        #expect(Prompting.isWellFormed(target, mode: .cot))
    }

    @Test(arguments: [
        ("<think> x </think> <answer> B </answer>", "cot", true, "B"),
        ("<think>x</think><answer>B</answer>", "cot", true, "B"),
        ("<think> x\ny </think>\n<answer> C </answer>", "cot", true, "C"),
        ("<answer> B </answer>", "cot", false, "B"),
        ("text <think> x </think> <answer> B </answer>", "cot", false, "B"),
        ("<think> x </think> <answer> B </answer> more", "cot", false, "B"),
        ("<think> x </think> <answer> b </answer>", "cot", true, "b"),
        ("<think> x </think> <answer> A B </answer>", "cot", true, nil),
        ("<think> x </think>", "cot", false, nil),
        ("  <answer> D </answer>", "instruct", true, "D"),
        ("<answer> D </answer> <answer> A </answer>", "instruct", true, "D"),
        ("<answer></answer>", "instruct", true, nil),
        ("the answer is A", "instruct", false, nil),
    ] as [(String, String, Bool, String?)])
    func formatAndAnswer(completion: String, mode: String, wellFormed: Bool, letter: String?) {
        #expect(Prompting.isWellFormed(completion, mode: ReasoningMode(rawValue: mode)!) == wellFormed)
        #expect(Prompting.answerLetter(in: completion) == letter)
    }
}
