import Foundation
import PipeEngine

/// Which of a remote's action records `pipe` uses. Objects are verified by their digests; what
/// links a key to an output is a record, and a record is only as good as whoever wrote it. By
/// default a record is used only when signed by a trusted key (`pipe.yaml`'s `trusted-keys`, and
/// the user's own key); with `requireSignatures` off (a private remote with one writer) any record
/// is used but one whose signature does not verify.
public struct TrustPolicy: Sendable, Equatable {
    public var requireSignatures: Bool
    /// The keys `pipe.yaml` lists under `trusted-keys`.
    public var trustedKeys: [PublicSigningKey]
    /// The user's own key, always trusted (nil before it exists).
    public var ownKey: PublicSigningKey?

    public init(requireSignatures: Bool = true, trustedKeys: [PublicSigningKey] = [], ownKey: PublicSigningKey? = nil) {
        self.requireSignatures = requireSignatures
        self.trustedKeys = trustedKeys
        self.ownKey = ownKey
    }

    /// Why `record` may not be used, or nil when it may.
    public func objection(to record: ActionRecord) -> Distrust.Reason? {
        guard let signature = record.signature else { return requireSignatures ? .unsigned : nil }
        guard let signer = PublicSigningKey(text: signature.signer), signer.isValid(signature: signature.value, for: record.fingerprint) else {
            let claimed = signature.signer.split(separator: ":").first.map(String.init) ?? ""
            return .badSignature(claimed: PublicSigningKey.isValidName(claimed) ? claimed : "an unreadable name")
        }
        guard requireSignatures else { return nil }
        let trusted = trustedKeys.contains { $0.raw == signer.raw } || ownKey?.raw == signer.raw
        return trusted ? nil : .unknownSigner(signer)
    }
}

/// A remote record that was not used, and why: the text of the warning a run prints once per signer.
public struct Distrust: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case unsigned
        /// The signature does not verify: the record was changed after it was signed, or forged.
        case badSignature(claimed: String)
        /// A valid signature by a key the project does not trust.
        case unknownSigner(PublicSigningKey)
    }

    public var reason: Reason
    public var key: Digest
    public var stage: String
    public var remote: String
    /// Whether pipe.yaml has a `trusted-keys` list already (the advice then says to add to it).
    public var listsKeys: Bool

    /// One warning line per run for each of these.
    public var signer: String {
        switch reason {
        case .unsigned: return "unsigned"
        case .badSignature(let claimed): return "bad:" + claimed
        case .unknownSigner(let key): return "unknown:\(key)"
        }
    }

    /// A name read from an untrusted record, safe to print: no control characters, at most 60 long.
    static func printable(_ text: String) -> String {
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
        return cleaned.count > 60 ? String(cleaned.prefix(57)) + "..." : cleaned
    }

    public var description: String {
        let first = "the first: stage `\(stage)`, key \(key.short)"
        switch reason {
        case .unsigned:
            return "ignoring unsigned results on \(remote) (\(first)); such stages run locally. "
                + "Whoever pushed them can push them again with a pipe that signs, or, for a private remote only you write to, "
                + "opt out in pipe.yaml: remote: {url: \(remote), require-signatures: false}"
        case .badSignature(let claimed):
            return "ignoring results on \(remote) whose signature (as \(claimed)) does not verify (\(first)): "
                + "they were changed after signing, or forged; such stages run locally"
        case .unknownSigner(let key):
            let advice = listsKeys ? "add \"\(key)\" to trusted-keys in pipe.yaml" : "add this line to pipe.yaml: trusted-keys: [\"\(key)\"]"
            return "ignoring results on \(remote) signed by \(key.name), a key pipe.yaml does not trust (\(first)); such stages run locally. "
                + "To trust \(key.name) (`pipe cache key` on their machine prints their key), \(advice)"
        }
    }
}
