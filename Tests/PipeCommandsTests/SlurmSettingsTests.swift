import PipeCluster
import Testing

/// How stage resources and `executor:` settings become sbatch options.
struct SlurmSettingsTests {
    @Test func resourcesBecomeSbatchOptionsStageOverDefaults() {
        let settings = SlurmSettings(partition: "cpu", account: "medvlm", sbatchOptions: ["--qos=normal"],
                                     resources: ["cpus": "2", "memory": "8G", "time": "60"])
        #expect(settings.options(for: [:]) == ["--cpus-per-task=2", "--mem=8G", "--time=60", "--partition=cpu", "--account=medvlm", "--qos=normal"])
        #expect(settings.options(for: ["cpus": "8", "gpus": "1", "time": "4:00:00", "partition": "gpu"])
                == ["--cpus-per-task=8", "--gres=gpu:1", "--mem=8G", "--time=4:00:00", "--partition=gpu", "--account=medvlm", "--qos=normal"])
        // No GPUs asked for: no --gres at all.
        #expect(SlurmSettings().options(for: ["gpus": "0"]).isEmpty)
    }

    @Test func jobStatesAreClassified() {
        let pending = SlurmClient.JobState(state: "PENDING", reason: "Dependency")
        let running = SlurmClient.JobState(state: "RUNNING", reason: "None")
        let done = SlurmClient.JobState(state: "COMPLETED", reason: "None")
        #expect(pending.isPending && !pending.isFailed && running.isRunning && !running.isFailed && done.isCompleted && !done.isFailed)
        for state in ["FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED"] {
            #expect(SlurmClient.JobState(state: state, reason: "None").isFailed, "\(state)")
        }
    }
}
