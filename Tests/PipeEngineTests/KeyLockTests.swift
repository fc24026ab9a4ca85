import Foundation
import PipeEngine
import PipeTestSupport
import Testing

/// Per-key file locks: exclusion, and cleanup of unheld lock files.
struct KeyLockTests {
    @Test func heldLocksSurviveCleanupAndFreeOnesGo() throws {
        let directory = try TemporaryDirectory("locks")
        let locks = try FileKeyLocks(root: directory.path)
        let key = KeyValue.string("a").digest
        let (lease, waited) = try locks.acquire(key)
        #expect(!waited)
        #expect(locks.removeUnheld() == 0)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/locks/" + key.hex))
        lease.release()
        #expect(locks.removeUnheld() == 1)
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/locks/" + key.hex))
        // The key can be locked again after its file was removed.
        try locks.acquire(key).lease.release()
    }

    @Test func aSecondTakerCannotHoldTheKeyWhileTheFirstDoes() throws {
        let directory = try TemporaryDirectory("locks")
        let locks = try FileKeyLocks(root: directory.path)
        let key = KeyValue.string("b").digest
        let (lease, _) = try locks.acquire(key)
        let started = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            started.signal()
            if let second = try? locks.acquire(key) { second.lease.release() }
            done.signal()
        }
        started.wait()
        // While the first lease is held the second taker cannot get the key (a false pass is
        // possible under load, a false failure is not).
        #expect(done.wait(timeout: .now() + 0.3) == .timedOut)
        lease.release()
        #expect(done.wait(timeout: .now() + 10) == .success)
    }
}
