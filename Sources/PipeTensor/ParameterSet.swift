import PipeRandom

/// Named tensors in one flat buffer, in declaration order (llm.c's single parameter buffer):
/// one allocation for the values, one of the same layout for the gradients and each optimizer moment.
public struct ParameterSet: Sendable {
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        /// Offset of the first element in the flat buffer.
        public var offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var tensors: [Tensor] = []
    private var byName: [String: Int] = [:]
    public var values: [Float] = []

    public init() {}

    /// Total number of scalars.
    public var count: Int { values.count }

    /// Declares a tensor of `shape`, zero-filled; returns its offset.
    @discardableResult
    public mutating func add(_ name: String, _ shape: [Int]) -> Int {
        precondition(byName[name] == nil, "duplicate parameter \(name)")
        let tensor = Tensor(name: name, shape: shape, offset: values.count)
        byName[name] = tensors.count
        tensors.append(tensor)
        values.append(contentsOf: repeatElement(0, count: tensor.count))
        return tensor.offset
    }

    public func tensor(_ name: String) -> Tensor? { byName[name].map { tensors[$0] } }

    /// The offset of a declared tensor (a programmer error if it is missing).
    public func offset(_ name: String) -> Int {
        guard let index = byName[name] else { preconditionFailure("no parameter \(name)") }
        return tensors[index].offset
    }

    /// Fills the tensor with N(0, std^2) draws from `random`.
    public mutating func fillNormal(_ name: String, std: Double, random: inout SeededRandom) {
        guard let t = tensor(name) else { preconditionFailure("no parameter \(name)") }
        for i in t.offset..<(t.offset + t.count) { values[i] = Float(random.normal() * std) }
    }

    /// Fills the tensor with a constant.
    public mutating func fill(_ name: String, _ value: Float) {
        guard let t = tensor(name) else { preconditionFailure("no parameter \(name)") }
        for i in t.offset..<(t.offset + t.count) { values[i] = value }
    }
}
