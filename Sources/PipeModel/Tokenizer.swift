/// A word-level tokenizer: the four tag tokens of the answer format, runs of letters and digits, and
/// single punctuation marks; white space separates and is not kept. The vocabulary is built from a
/// dataset's texts and saved with every checkpoint.
public struct Tokenizer: Codable, Equatable, Sendable {
    public static let pad: Int32 = 0, bos: Int32 = 1, eos: Int32 = 2, unk: Int32 = 3
    /// Tokens every vocabulary starts with, in this order.
    public static let reserved = ["<pad>", "<bos>", "<eos>", "<unk>", "<think>", "</think>", "<answer>", "</answer>", "A", "B", "C", "D"]
    static let tags = ["<think>", "</think>", "<answer>", "</answer>"]

    public private(set) var tokens: [String]
    private var ids: [String: Int32]

    enum CodingKeys: String, CodingKey { case tokens }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        tokens = try container.decode([String].self, forKey: .tokens)
        ids = Self.index(tokens)
        guard Array(tokens.prefix(Self.reserved.count)) == Self.reserved else {
            throw ModelError("tokenizer: the vocabulary does not start with the reserved tokens")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tokens, forKey: .tokens)
    }

    /// A vocabulary of the reserved tokens and every word of `texts`, sorted.
    public init(texts: [String]) {
        var words = Set<String>()
        for text in texts { words.formUnion(Self.split(text)) }
        words.subtract(Self.reserved)
        tokens = Self.reserved + words.sorted()
        ids = Self.index(tokens)
    }

    private static func index(_ tokens: [String]) -> [String: Int32] {
        var ids: [String: Int32] = [:]
        for (i, token) in tokens.enumerated() { ids[token] = Int32(i) }
        return ids
    }

    public var count: Int { tokens.count }

    /// The text's words (see the type's description).
    public static func split(_ text: String) -> [String] {
        var out: [String] = []
        var word = ""
        var rest = Substring(text)
        func flush() {
            if !word.isEmpty { out.append(word); word = "" }
        }
        while let character = rest.first {
            if character == "<", let tag = tags.first(where: { rest.hasPrefix($0) }) {
                flush()
                out.append(tag)
                rest = rest.dropFirst(tag.count)
                continue
            }
            rest = rest.dropFirst()
            if character.isLetter || character.isNumber {
                word.append(character)
            } else {
                flush()
                if !character.isWhitespace { out.append(String(character)) }
            }
        }
        flush()
        return out
    }

    /// Token ids of `text` (unknown words become `<unk>`).
    public func encode(_ text: String) -> [Int32] { Self.split(text).map { ids[$0] ?? Self.unk } }

    public func id(_ token: String) -> Int32? { ids[token] }

    /// Text of `ids` up to (not including) the first `<eos>`, tokens joined by single spaces.
    public func decode(_ ids: some Sequence<Int32>) -> String {
        var words: [String] = []
        for id in ids {
            if id == Self.eos { break }
            if id == Self.pad || id == Self.bos { continue }
            words.append(id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : "<unk>")
        }
        return words.joined(separator: " ")
    }
}
