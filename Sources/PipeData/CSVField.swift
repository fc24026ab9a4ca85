/// CSV writing shared by the tables pipe writes.
public enum CSV {
    /// A field, quoted (with doubled quotes) when it holds a comma, quote or newline.
    public static func field(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
