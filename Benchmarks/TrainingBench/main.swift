// The training stack's benchmark: sgemm at the model's shapes against square-1024 sgemm, SFT step
// time and examples/s, the share of a step inside BLAS, generation with and without the KV cache,
// and peak memory. Run by `make bench` (release build); prints a report.
import Foundation
import PipeData
import PipeModel
import PipeSynth
import PipeTensor
import PipeTraining

// OpenBLAS's kernels as `pipe run` chooses them (AVX-512 ones where the CPU has them).
BLASCoreType.reexec(coreTypeOnly: true)

func seconds(_ body: () -> Void) -> Double {
    let start = Date()
    body()
    return Date().timeIntervalSince(start)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// GFLOP/s of C (m, n) = A (m, k) . op(B), repeated until about 0.3 s have passed; median of 3.
func sgemmRate(m: Int, n: Int, k: Int, transB: Bool = false, transA: Bool = false) -> Double {
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    let flops = 2 * Double(m) * Double(n) * Double(k)
    var rates: [Double] = []
    for _ in 0..<3 {
        var reps = 0
        let time = seconds {
            let start = Date()
            repeat {
                BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: transA ? m : k, b: b, ldb: transB ? k : n, c: &c, ldc: n)
                reps += 1
            } while Date().timeIntervalSince(start) < 0.3
        }
        rates.append(flops * Double(reps) / time / 1e9)
    }
    return median(rates)
}

func peakMemoryMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

// Each line as it is measured, also when the output is a pipe or a file (a run takes minutes).
setvbuf(stdout, nil, _IOLBF, 0)
print("training stack benchmark; OpenBLAS core: \(BLAS.coreName); \(ProcessInfo.processInfo.activeProcessorCount) cores")

// (a) sgemm: the machine's practical peak and the model's shapes.
BLAS.setThreads(1)
let peak1 = sgemmRate(m: 1024, n: 1024, k: 1024)
BLAS.setThreads(2)
let peak2 = sgemmRate(m: 1024, n: 1024, k: 1024)
BLAS.setThreads(1)
print(String(format: "sgemm 1024^3: %.1f GFLOP/s on 1 thread, %.1f on 2 OpenBLAS threads (%.2fx)", peak1, peak2, peak2 / peak1))
let config = ModelConfig()
let rows = 8 * (config.patches + 90), d = config.dim, h = config.hidden
let positions = config.patches + 90
var shapes: [(String, Int, Int, Int, Bool, Bool)] = []
shapes.append(("qkv forward (N x 3C, K = C)", rows, 3 * d, d, false, true))
shapes.append(("mlp fc forward (N x 4C)", rows, h, d, false, true))
shapes.append(("mlp proj forward (N x C, K = 4C)", rows, d, h, false, true))
shapes.append(("qkv backward dW (3C x C, K = N)", 3 * d, d, rows, true, false))
shapes.append(("mlp fc backward dinp (N x C, K = 4C)", rows, d, h, false, false))
shapes.append(("attention scores per head (T x T, K = 32)", positions, positions, d / config.heads, false, true))
print("sgemm at the default model's shapes (micro-batch 8, 154 positions), 1 thread:")
for (name, m, n, k, ta, tb) in shapes {
    let rate = sgemmRate(m: m, n: n, k: k, transB: tb, transA: ta)
    print(String(format: "  %-44@ %5d x %4d x %4d  %6.1f GFLOP/s  %3.0f%% of peak", name as NSString, m, n, k, rate, 100 * rate / peak1))
}

// Data: a synthetic benchmark, unpacked.
let directory = NSTemporaryDirectory() + "/pipe-training-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory + "/dataset", withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
var synth = SynthConfig()
synth.images = 400
synth.seed = 1
synth.threads = 2
_ = try SynthGenerator(synth).write(to: directory + "/synth.zip")
var unpacker = DatasetUnpacker()
unpacker.splits = SplitPlan(test: 0.1, val: 0.1)
_ = try unpacker.unpack(archive: directory + "/synth.zip", into: directory + "/dataset")
let dataset = try VQADataset(directory: directory + "/dataset")

// (b), (c) SFT steps on the default config.
func trainSteps(threads: Int, blasThreads: Int = 1, profile: Bool = false) throws -> (stepSeconds: Double, examplesPerSecond: Double, checkpoint: Checkpoint) {
    var cfg = SFTConfig()
    cfg.epochs = 1
    cfg.threads = threads
    cfg.evalLimit = 1
    cfg.evalMaxNewTokens = 4
    cfg.seed = 1
    BLAS.setThreads(blasThreads)
    BLASProfile.reset()
    BLASProfile.enabled = profile
    defer { BLASProfile.enabled = false; BLAS.setThreads(1) }
    let result = try SFTTrainer(cfg).train(on: dataset)
    let steps = result.curve.dropFirst().dropLast()   // skip warm-up and the short last batch
    let step = median(steps.map(\.seconds))
    return (step, Double(cfg.batchSize) / step, result.checkpoint)
}
let one = try trainSteps(threads: 1)
let two = try trainSteps(threads: 2)
let blas2 = try trainSteps(threads: 1, blasThreads: 2)
print(String(format: "SFT step (batch 32, cot, default model): 1 worker %.3f s (%.1f examples/s); 2 workers %.3f s (%.1f examples/s, %.2fx); 1 worker on 2 OpenBLAS threads %.3f s (%.2fx)",
             one.stepSeconds, one.examplesPerSecond, two.stepSeconds, two.examplesPerSecond, one.stepSeconds / two.stepSeconds,
             blas2.stepSeconds, one.stepSeconds / blas2.stepSeconds))
BLASProfile.reset()
let profiledStart = Date()
_ = try trainSteps(threads: 1, profile: true)
let profiledTotal = Date().timeIntervalSince(profiledStart)
let blas = BLASProfile.totals
let blasRate = blas.flops / blas.seconds / 1e9
print(String(format: "inside BLAS during one worker's training run: %.0f%% of the time (%.1f of %.1f s), %.1f GFLOP/s there (%.0f%% of peak), %d calls",
             100 * blas.seconds / profiledTotal, blas.seconds, profiledTotal, blasRate, 100 * blasRate / peak1, blas.calls))

// (d) generation with and without the cache.
var model = try VisionLanguageModel(config: { var c = config; c.vocabSize = 170; return c }(), seed: 3)
let embedding = model.parameters.offset("text.embedding")
for i in 0..<config.dim { model.parameters.values[embedding + 2 * config.dim + i] = 0 }   // keep <eos> from ending sequences early
var prompts: [[Int32]] = []
for s in 0..<16 {
    var prompt: [Int32] = [1]
    for j in 0..<60 { prompt.append(Int32(12 + (j * 7 + s) % 150)) }
    prompts.append(prompt)
}
let images = Array(dataset.pixels.prefix(16 * dataset.imagePixels))
let generator = Generator(model)
let sampling = Sampling(temperature: 1, maxNewTokens: 32)
var cachedTokens = 0, plainTokens = 0
let cachedTime = seconds {
    cachedTokens = generator.generate(parameters: model.parameters.values, images: images, prompts: prompts, sampling: sampling,
                                      seeds: (0..<16).map(UInt64.init)).reduce(0) { $0 + $1.count }
}
let plainTime = seconds {
    plainTokens = generator.generateWithoutCache(parameters: model.parameters.values, images: images, prompts: prompts, sampling: sampling,
                                                 seeds: (0..<16).map(UInt64.init)).reduce(0) { $0 + $1.count }
}
let cachedRate = Double(cachedTokens) / cachedTime
let plainRate = Double(plainTokens) / plainTime
print(String(format: "generation (16 prompts of 61 tokens, 32 new tokens each, 1 thread): KV cache %.0f tokens/s, recomputing the prefix %.0f tokens/s (%.1fx)",
             cachedRate, plainRate, cachedRate / plainRate))

// (f) GRPO at G = 8 from the one-epoch SFT policy: where a step's time goes; PGD-10 examples/s.
var grpo = GRPOConfig()
grpo.steps = 4
grpo.promptsPerStep = 4
grpo.groupSize = 8
grpo.maxNewTokens = 64
grpo.threads = 2
grpo.evalLimit = 2
grpo.evalMaxNewTokens = 4
grpo.seed = 1
let grpoRun = try GRPOTrainer(grpo).train(from: two.checkpoint, on: dataset)
let measured = grpoRun.curve.dropFirst()
func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }
let stepTime = mean(measured.map(\.seconds)), rollout = mean(measured.map(\.phases.rollout))
print(String(format: "GRPO step (4 prompts x G = 8, up to 64 new tokens, %.1f on average, 2 threads): %.2f s; rollout %.2f s (%.0f%%), rewards %.4f s, reference log-probs %.2f s, update (one forward giving the sampling policy's log-probs, backward, AdamW) %.2f s",
             mean(measured.map(\.completionLength)), stepTime, rollout, 100 * rollout / stepTime, mean(measured.map(\.phases.reward)),
             mean(measured.map(\.phases.logProbs)), mean(measured.map(\.phases.update))))
let builder = ExampleBuilder(tokenizer: two.checkpoint.tokenizer, mode: .cot, records: dataset.index.records.map(\.record))
let attackExamples = Array(dataset.records(.train).prefix(32).map(builder.example))
let attackers = [Attacker(two.checkpoint.model), Attacker(two.checkpoint.model)]
let pgdTime = seconds {
    _ = Attacker.perturb(attackExamples, attackers: attackers, parameters: two.checkpoint.model.parameters.values, dataset: dataset,
                         settings: AttackSettings.defaults(.pgdLinf), seed: 1, chunk: 8)
}
print(String(format: "PGD-Linf, 10 steps, against the cot response (2 threads): %.1f examples/s", Double(attackExamples.count) / pgdTime))

// (g) One attack step (forward, backward) on 8 sequences of 100 tokens, 1 thread: the pixels' gradient
// alone, as attacks compute it, against every gradient, as training does, side by side.
let attackModel = two.checkpoint.model
let attackImages = [Float](repeating: 0.5, count: 8 * attackModel.config.imageSize * attackModel.config.imageSize * 3)
let attackTokens = (0..<800).map { Int32($0 % attackModel.config.vocabSize) }
let attackDlogits = [Float](repeating: 1e-4, count: 800 * attackModel.config.vocabSize)
let attackWorkspace = ModelWorkspace(attackModel)
var weightGradients = [Float](repeating: 0, count: attackModel.parameters.count)
var pixelGradients = [Float](repeating: 0, count: attackImages.count)
func attackStep(weights: Bool) -> Double {
    median((0..<9).map { _ in
        seconds {
            _ = attackWorkspace.forward(parameters: attackModel.parameters.values, images: attackImages, tokens: attackTokens, b: 8, t: 100)
            attackWorkspace.backward(parameters: attackModel.parameters.values, gradients: &weightGradients, dlogits: attackDlogits,
                                     imageGradient: &pixelGradients, parameterGradients: weights)
        }
    })
}
let allGradients = attackStep(weights: true), pixelsAlone = attackStep(weights: false)
print(String(format: "attack step (8 x 100 tokens, 1 thread): pixels' gradient alone %.1f ms, every gradient %.1f ms (%.2fx)",
             1000 * pixelsAlone, 1000 * allGradients, allGradients / pixelsAlone))

// (h) A GRPO micro-batch's forward and backward (8 completions of 80 tokens, 1 thread) with each
// image once for its group (G = 8: one image; G = 4: two) against every completion carrying its
// image, side by side.
func groupPass(imageOf: [Int]?) -> Double {
    let images = imageOf.map { ($0.max() ?? 0) + 1 } ?? 8
    let pixels = (0..<(images * attackModel.config.imageSize * attackModel.config.imageSize * 3)).map { Float($0 % 97) / 97 }
    let tokens = (0..<640).map { Int32($0 % attackModel.config.vocabSize) }
    let dlogits = [Float](repeating: 1e-4, count: 640 * attackModel.config.vocabSize)
    return median((0..<9).map { _ in
        seconds {
            _ = attackWorkspace.forward(parameters: attackModel.parameters.values, images: pixels, tokens: tokens, b: 8, t: 80, imageOf: imageOf)
            attackWorkspace.backward(parameters: attackModel.parameters.values, gradients: &weightGradients, dlogits: dlogits)
        }
    })
}
let unsharedPass = groupPass(imageOf: nil)
let sharedByEight = groupPass(imageOf: Array(repeating: 0, count: 8)), sharedByFour = groupPass(imageOf: [0, 0, 0, 0, 1, 1, 1, 1])
print(String(format: "GRPO micro-batch pass (8 x 80 tokens, forward + backward, 1 thread): every completion its image %.1f ms, "
             + "each image once per group of 4 %.1f ms (%.2fx), of 8 %.1f ms (%.2fx)",
             1000 * unsharedPass, 1000 * sharedByFour, unsharedPass / sharedByFour, 1000 * sharedByEight, unsharedPass / sharedByEight))

// (e) memory.
print(String(format: "peak resident memory: %.0f MB", peakMemoryMB()))
