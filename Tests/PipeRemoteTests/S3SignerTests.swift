import Foundation
import PipeRemote
import Testing

/// SigV4 against AWS's published example (GET Object with a Range header, examplebucket).
struct S3SignerTests {
    @Test func theAWSExampleSignatureIsReproduced() throws {
        let signer = S3Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let date = try #require(ISO8601DateFormatter().date(from: "2013-05-24T00:00:00Z"))
        let headers = signer.sign(method: "GET", path: "/test.txt", query: [],
                                  headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                                  payloadHash: S3Signer.emptyPayloadHash, date: date)
        let authorization = try #require(headers.first { $0.0 == "Authorization" }?.1)
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.contains { $0 == ("x-amz-date", "20130524T000000Z") })
    }

    @Test func encodingAndCredentials() throws {
        #expect(S3Signer.encode("a b/c~d", keepSlash: true) == "a%20b/c~d" && S3Signer.encode("a/b") == "a%2Fb")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("credentials-\(UUID().uuidString)").path
        try "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n[other]\naws_access_key_id = X\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let signer = try S3Signer.fromEnvironment(["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_REGION": "eu-west-1"])
        #expect(signer.accessKey == "AK" && signer.secretKey == "SK" && signer.region == "eu-west-1")
        #expect(throws: RemoteError.self) { try S3Signer.fromEnvironment(["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "other"]) }
    }
}
