/// The stage graph of a recipe: references, cycles and a stable topological order.
public enum RecipeGraph {
    /// Checks that every input names another stage of the recipe and that there is no cycle.
    static func check(_ recipe: Recipe) throws {
        let names = recipe.stages.map(\.name)
        let known = Set(names)
        for stage in recipe.stages {
            for input in stage.inputs {
                let path = "stages.\(stage.name).inputs.\(input.role)"
                if input.stage == stage.name {
                    throw RecipeError(input.location, path: path, "stage `\(stage.name)` cannot take its own output as input")
                }
                guard known.contains(input.stage) else {
                    throw RecipeError(input.location, path: path, "no stage named `\(input.stage)`",
                                      hint: Suggestions.hint(for: input.stage, in: names))
                }
            }
        }
        if let cycle = findCycle(recipe) {
            let first = recipe.stage(cycle[0])!
            let edge = first.inputs.first { $0.stage == cycle[1] } ?? first.inputs[0]
            throw RecipeError(edge.location, path: "stages.\(first.name).inputs.\(edge.role)",
                              "cycle: " + cycle.joined(separator: " -> "),
                              hint: "a stage cannot depend, directly or through others, on its own output")
        }
    }

    /// Stage names in an order where every stage follows its inputs (Kahn's algorithm; ties keep the
    /// written order). Stages on a cycle are left out.
    public static func topologicalOrder(_ recipe: Recipe) -> [String] {
        let names = recipe.stages.map(\.name)
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() { index[name] = i }
        var pending = [Int](repeating: 0, count: names.count)
        var dependants = [[Int]](repeating: [], count: names.count)
        for (i, stage) in recipe.stages.enumerated() {
            for upstream in Set(stage.inputs.map(\.stage)) {
                guard let u = index[upstream] else { continue }
                pending[i] += 1
                dependants[u].append(i)
            }
        }
        var ready = (0..<names.count).filter { pending[$0] == 0 }
        var order: [String] = []
        order.reserveCapacity(names.count)
        var head = 0
        while head < ready.count {
            let i = ready[head]
            head += 1
            order.append(names[i])
            for d in dependants[i] {
                pending[d] -= 1
                if pending[d] == 0 { ready.append(d) }
            }
        }
        return order
    }

    /// A cycle as stage names, the first repeated at the end, where each depends on the next.
    static func findCycle(_ recipe: Recipe) -> [String]? {
        let ordered = Set(topologicalOrder(recipe))
        guard ordered.count < recipe.stages.count else { return nil }
        var inputsOf: [String: [String]] = [:]
        for stage in recipe.stages { inputsOf[stage.name] = stage.inputs.map(\.stage) }
        // Every stage left out depends on another left-out stage; walking those edges must repeat.
        var current = recipe.stages.first { !ordered.contains($0.name) }!.name
        var walk: [String] = []
        var seenAt: [String: Int] = [:]
        while seenAt[current] == nil {
            seenAt[current] = walk.count
            walk.append(current)
            current = inputsOf[current]!.first { !ordered.contains($0) }!
        }
        return Array(walk[seenAt[current]!...]) + [current]
    }
}
