/// A validated graph of jobs with its topological order.
public struct Pipeline: Sendable {
    public let jobs: [Job]
    /// Indices of `jobs`, each after its inputs.
    public let order: [Int]
    /// Job name -> position in `jobs`.
    public let index: [String: Int]
    /// For each job, the indices of the distinct jobs it reads.
    public let upstream: [[Int]]
    /// For each job, the indices of the jobs that read it.
    public let downstream: [[Int]]

    /// Builds the graph; a missing input or a cycle is a programmer error here (recipes are validated first).
    public init(jobs: [Job]) {
        self.jobs = jobs
        var index: [String: Int] = [:]
        for (i, job) in jobs.enumerated() { index[job.name] = i }
        var upstream = [[Int]](repeating: [], count: jobs.count)
        var downstream = [[Int]](repeating: [], count: jobs.count)
        for (i, job) in jobs.enumerated() {
            var seen = Set<Int>()
            for input in job.inputs {
                guard let u = index[input.job] else { preconditionFailure("job \(job.name) reads unknown job \(input.job)") }
                if seen.insert(u).inserted {
                    upstream[i].append(u)
                    downstream[u].append(i)
                }
            }
        }
        var pending = upstream.map(\.count)
        var order = (0..<jobs.count).filter { pending[$0] == 0 }
        var head = 0
        while head < order.count {
            for d in downstream[order[head]] {
                pending[d] -= 1
                if pending[d] == 0 { order.append(d) }
            }
            head += 1
        }
        precondition(order.count == jobs.count, "the job graph has a cycle")
        self.index = index
        self.upstream = upstream
        self.downstream = downstream
        self.order = order
    }

    /// The job named `name`.
    public func job(_ name: String) -> Job? { index[name].map { jobs[$0] } }

    /// The named jobs and everything they read, transitively.
    public func closure(of names: Set<String>) -> Set<Int> {
        var selected = Set<Int>()
        var stack = names.compactMap { index[$0] }
        while let i = stack.popLast() {
            if selected.insert(i).inserted { stack.append(contentsOf: upstream[i]) }
        }
        return selected
    }
}
