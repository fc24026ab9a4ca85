import Foundation

/// Reading and writing the `safetensors` format: an 8-byte little-endian header length, a JSON
/// header (tensor name -> dtype, shape, data offsets; `__metadata__` -> string pairs), padded with
/// spaces to a multiple of 8, then the raw little-endian tensor bytes.
public enum Safetensors {
    /// A named float32 tensor.
    public struct Tensor: Equatable, Sendable {
        public var name: String
        public var shape: [Int]
        public var values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// The file's bytes for `tensors` (in the given order) and `metadata`. Header keys are sorted, so
    /// the same tensors and metadata always give the same bytes.
    public static func encode(_ tensors: [Tensor], metadata: [String: String]) throws -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for tensor in tensors {
            guard tensor.shape.reduce(1, *) == tensor.values.count else {
                throw ModelError("safetensors: tensor \(tensor.name) has \(tensor.values.count) values for shape \(tensor.shape)")
            }
            let size = tensor.values.count * 4
            header[tensor.name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + size]]
            offset += size
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for tensor in tensors {
            tensor.values.withUnsafeBufferPointer { buffer in
                // Little-endian floats: the host order on every platform Swift runs this on.
                out.append(UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: UInt8.self),
                                               count: buffer.count * 4))
            }
        }
        return out
    }

    /// The tensors (in file order) and metadata of a safetensors file's bytes. Only F32 tensors are read.
    public static func decode(_ data: Data, file: String = "checkpoint") throws -> (tensors: [Tensor], metadata: [String: String]) {
        func fail(_ message: String) -> ModelError { ModelError("\(file): not a valid safetensors file: \(message)") }
        guard data.count >= 8 else { throw fail("shorter than its header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else { throw fail("header length \(headerLength) is out of range") }
        let body = data.startIndex + 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data[(data.startIndex + 8)..<body]) as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let metadata = (header["__metadata__"] as? [String: String]) ?? [:]
        var entries: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
                  let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor \(name) lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else { throw fail("tensor \(name) is \(dtype); only F32 is supported") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, body + end <= data.endIndex, end - begin == shape.reduce(1, *) * 4 else {
                throw fail("tensor \(name): offsets \(offsets) do not fit shape \(shape) and the file")
            }
            entries.append((name, shape, begin, end))
        }
        entries.sort { $0.begin < $1.begin }
        let tensors = entries.map { entry -> Tensor in
            var values = [Float](repeating: 0, count: (entry.end - entry.begin) / 4)
            values.withUnsafeMutableBytes { buffer in
                data.copyBytes(to: buffer.bindMemory(to: UInt8.self), from: (body + entry.begin)..<(body + entry.end))
            }
            return Tensor(name: entry.name, shape: entry.shape, values: values)
        }
        return (tensors, metadata)
    }
}
