import Foundation
import PipeImaging

/// `index.json` of a dataset artifact.
public struct DatasetIndex: Codable, Equatable, Sendable {
    public static let currentFormat = "pipe-vqa 1"

    public struct Entry: Codable, Equatable, Sendable {
        public var record: VQARecord
        /// The row of `images.u8` holding this record's image.
        public var image: Int
        public var split: Split
    }

    public var format: String
    public var imageSize: Int
    public var channels: Int
    /// Archive paths of the images, by row.
    public var images: [String]
    public var records: [Entry]

    /// Writes the index as JSON (the Codable form, keys sorted), built directly: `JSONEncoder` takes
    /// most of a second on 50,000 records.
    public func write(to path: String) throws {
        var out = try JSONText(writingTo: path)
        defer { out.close() }
        out.raw("{\"channels\":"); out.int(channels)
        out.raw(",\"format\":"); out.string(format)
        out.raw(",\"imageSize\":"); out.int(imageSize)
        out.raw(",\"images\":[")
        for (i, image) in images.enumerated() {
            if i > 0 { out.raw(",") }
            out.string(image)
            if i % 1024 == 0 { try out.flushIfFull() }
        }
        out.raw("],\"records\":[")
        for i in records.indices {
            // Read in place: copying an entry would retain and release each of its strings.
            out.raw(i > 0 ? ",{\"image\":" : "{\"image\":"); out.int(records[i].image)
            out.raw(",\"record\":{\"answer\":"); out.int(records[i].record.answer)
            if let chain = records[i].record.chainID { out.raw(",\"chainID\":"); out.string(chain) }
            if let step = records[i].record.chainStep { out.raw(",\"chainStep\":"); out.int(step) }
            out.raw(",\"dataset\":"); out.string(records[i].record.dataset)
            out.raw(",\"imagePath\":"); out.string(records[i].record.imagePath)
            out.raw(",\"modality\":"); out.string(records[i].record.modality)
            out.raw(",\"options\":[")
            for (k, option) in records[i].record.options.enumerated() {
                if k > 0 { out.raw(",") }
                out.string(option)
            }
            out.raw("],\"question\":"); out.string(records[i].record.question)
            out.raw(",\"questionID\":"); out.string(records[i].record.questionID)
            out.raw(",\"questionType\":"); out.string(records[i].record.questionType)
            switch records[i].split {
            case .train: out.raw("},\"split\":\"train\"}")
            case .val: out.raw("},\"split\":\"val\"}")
            case .test: out.raw("},\"split\":\"test\"}")
            }
            try out.flushIfFull()
        }
        out.raw("]}")
        try out.finish()
    }

    public static func read(from path: String) throws -> DatasetIndex {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError("cannot read \(path)") }
        let index = try JSONDecoder().decode(DatasetIndex.self, from: data)
        guard index.format == currentFormat else { throw DatasetError("\(path): unsupported dataset format \(index.format)") }
        return index
    }
}

/// `images.u8`, written through a buffer of 4 MiB (or one image, if larger) that JPEGs decode
/// straight into: nothing is zeroed or copied before the write.
final class PixelFile {
    private let handle: FileHandle
    private let path: String
    /// `filled` bytes of `buffer` hold pixels not yet written.
    private var buffer: UnsafeMutableRawBufferPointer
    private var filled = 0

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DatasetError("cannot write \(path)")
        }
        self.handle = handle
        self.path = path
        buffer = .allocate(byteCount: 4 << 20, alignment: 64)
    }

    deinit {
        buffer.deallocate()
        try? handle.close()
    }

    /// Room for `count` more bytes at `filled`, writing the buffer out (and growing it for a large image) if needed.
    private func reserve(_ count: Int) throws {
        if filled + count > buffer.count { try flush() }
        if count > buffer.count {
            buffer.deallocate()
            buffer = .allocate(byteCount: count, alignment: 64)
        }
    }

    func append(_ pixels: [UInt8]) throws {
        try reserve(pixels.count)
        pixels.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]).copyMemory(from: $0) }
        filled += pixels.count
    }

    /// Appends `data` decoded, when it is an RGB JPEG of `side` x `side`; false, appending nothing, otherwise.
    func appendJPEG(_ data: Data, side: Int, maxPixels: Int = Image.defaultMaxPixels) throws -> Bool {
        let count = side * side * 3
        try reserve(count)
        // Only a complete decode advances `filled`: a failed one leaves nothing behind.
        guard try Image.decodeJPEG(data, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + count)]),
                                   width: side, height: side, maxPixels: maxPixels) else { return false }
        filled += count
        return true
    }

    private func flush() throws {
        // write(2) straight from the buffer: FileHandle would copy it into a new Data first.
        try writeAll(handle.fileDescriptor, UnsafeRawBufferPointer(rebasing: buffer[..<filled]), path: path)
        filled = 0
    }

    func close() throws {
        try flush()
        try handle.close()
    }
}
