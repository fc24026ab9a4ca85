/// A place in a recipe: a file (or a `--set` override) with a 1-based line and column.
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, the form editors and terminals link.
    /// A location with line 0 (a command-line value) prints as its file alone.
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }
}

/// A recipe that cannot run, with where it went wrong and how to fix it.
///
/// Every problem in a recipe or an override is one of these; `description` is the one place
/// they are rendered to text.
public struct RecipeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Where the offending value stands.
    public var location: SourceLocation
    /// The dotted path of the offending value (`stages.train.with.eps`), empty for the document.
    public var path: String
    /// What is wrong, quoting the offending value.
    public var message: String
    /// A suggested fix, such as "did you mean `epochs`?".
    public var hint: String?

    public init(_ location: SourceLocation, path: String, _ message: String, hint: String? = nil) {
        self.location = location
        self.path = path
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var text = "\(location): error: "
        if !path.isEmpty { text += "\(path): " }
        text += message
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }
}
