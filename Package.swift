// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "pipe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pipe", targets: ["pipe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // Recipe model, YAML with source positions, interpolation, overrides, validation. No I/O.
        .target(name: "PipeRecipe", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Graph, canonical keys, content store, action cache, planner, executor. Knows nothing about ML or recipes.
        .target(name: "PipeEngine", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // libjpeg(-turbo) and libpng, as the system provides them; no Swift API of their own.
        .systemLibrary(name: "CLibJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CLibPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // JPEG/PNG encode and decode in C, so that the libraries' setjmp/longjmp never crosses Swift frames.
        .target(name: "ImageCodecShims", dependencies: ["CLibJPEG", "CLibPNG"]),
        // Images: decoding, encoding and area-averaging resize.
        .target(name: "PipeImaging", dependencies: ["ImageCodecShims"]),
        // libarchive, as the system provides it.
        .systemLibrary(name: "CLibArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        // Streaming, bomb-proof archive reading and deterministic writing.
        .target(name: "PipeArchive", dependencies: ["CLibArchive"]),
        // SplitMix64: the one seeded random generator every stage draws from.
        .target(name: "PipeRandom"),
        // Exact statistics for randomized smoothing (normal quantile, incomplete beta, Clopper–Pearson, binomial test).
        .target(name: "PipeStatistics"),
        // Medical VQA data: OmniMedVQA records, seeded splits.
        .target(name: "PipeData", dependencies: ["PipeArchive", "PipeImaging", "PipeRandom"]),
        // The procedural medical VQA benchmark (`synth`): scenes of eight modalities, questions, archive.
        .target(name: "PipeSynth", dependencies: ["PipeData", "PipeImaging", "PipeArchive", "PipeRandom"]),
        // OpenBLAS's CBLAS, as the system provides it.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // The tensor core: forward/backward ops over flat Float buffers (matmuls on OpenBLAS), parameters, AdamW.
        .target(name: "PipeTensor", dependencies: ["COpenBLAS", "PipeRandom"]),
        // The vision-language policy: config, parameters, forward/backward, tokenizer, checkpoints, generation.
        .target(name: "PipeModel", dependencies: ["PipeTensor", "PipeRandom"]),
        // Training and evaluation loops over VQA datasets: SFT (and, next, GRPO, attacks, smoothing).
        .target(name: "PipeTraining", dependencies: ["PipeModel", "PipeTensor", "PipeData", "PipeRandom", "PipeStatistics"]),
        // Reports: inline-SVG charts and tables of training, evaluation and smoothing results.
        .target(name: "PipeReport", dependencies: ["PipeTraining", "PipeData"]),
        // Team caches: a shared directory, an HTTP(S) (WebDAV) server or S3 behind the local cache.
        .target(name: "PipeRemote", dependencies: [
            "PipeEngine", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // Cluster executors: a pipeline's uncached stages as Slurm jobs with dependency edges.
        .target(name: "PipeCluster", dependencies: ["PipeEngine"]),
        // The run ledger (SQLite).
        .target(name: "PipeLedger", dependencies: [.product(name: "GRDB", package: "GRDB.swift")]),
        // Adapter: recipe stages -> engine jobs; the stage kinds (`command`, ...).
        .target(name: "PipeStages", dependencies: ["PipeRecipe", "PipeEngine", "PipeData", "PipeArchive", "PipeSynth",
                                                   "PipeModel", "PipeTraining", "PipeReport"]),
        // One thin file per subcommand.
        .target(name: "PipeCommands", dependencies: [
            "PipeRecipe", "PipeEngine", "PipeLedger", "PipeStages", "PipeReport", "PipeData", "PipeRemote", "PipeTensor", "PipeCluster",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pipe", dependencies: ["PipeCommands", "PipeTensor"]),
        // `make bench`: the training stack's measurements (sgemm, SFT steps, BLAS share, generation, memory).
        .executableTarget(name: "pipe-training-bench", dependencies: ["PipeTraining", "PipeModel", "PipeTensor", "PipeSynth", "PipeData"],
                          path: "Benchmarks/TrainingBench"),
        // `make fuzz`: coverage-guided fuzz targets for the readers of untrusted input. Built with
        // `-D FUZZING -sanitize=fuzzer` (scripts/fuzz.sh) they are libFuzzer targets; in any other
        // build they replay the files they are given (corpora, former crashes) once.
        .target(name: "FuzzSupport"),
        .executableTarget(name: "fuzz-recipe", dependencies: ["FuzzSupport", "PipeRecipe"], path: "Sources/FuzzRecipe"),
        .executableTarget(name: "fuzz-qa-json", dependencies: ["FuzzSupport", "PipeData"], path: "Sources/FuzzQAJSON"),
        .executableTarget(name: "fuzz-image", dependencies: ["FuzzSupport", "PipeImaging"], path: "Sources/FuzzImage"),
        .executableTarget(name: "fuzz-cache-records", dependencies: ["FuzzSupport", "PipeEngine"], path: "Sources/FuzzCacheRecords"),
        // Shared test helpers: temporary directories, running the built binary, in-memory stores.
        .target(name: "PipeTestSupport", dependencies: ["PipeEngine", "PipeRandom"], path: "Sources/PipeTestSupport"),

        .testTarget(name: "PipeRecipeTests", dependencies: ["PipeRecipe", "PipeTestSupport"]),
        .testTarget(name: "PipeImagingTests", dependencies: ["PipeImaging"]),
        .testTarget(name: "PipeDataTests", dependencies: ["PipeData", "PipeArchive", "PipeImaging", "PipeRandom", "PipeTestSupport"]),
        .testTarget(name: "PipeStatisticsTests", dependencies: ["PipeStatistics"]),
        .testTarget(name: "PipeReportTests", dependencies: ["PipeReport", "PipeTraining"]),
        .testTarget(name: "PipeTensorTests", dependencies: ["PipeTensor", "PipeRandom", "PipeTestSupport"]),
        .testTarget(name: "PipeModelTests", dependencies: ["PipeModel", "PipeTensor", "PipeRandom", "PipeTestSupport"]),
        .testTarget(name: "PipeTrainingTests", dependencies: ["PipeTraining", "PipeModel", "PipeData", "PipeSynth", "PipeTestSupport"]),
        .testTarget(name: "PipeSynthTests", dependencies: ["PipeSynth", "PipeData", "PipeArchive", "PipeImaging", "PipeTestSupport"]),
        .testTarget(name: "PipeArchiveTests", dependencies: ["PipeArchive", "PipeTestSupport"]),
        .testTarget(name: "PipeEngineTests", dependencies: ["PipeEngine", "PipeTestSupport"]),
        .testTarget(name: "PipeRemoteTests", dependencies: ["PipeRemote", "PipeEngine", "PipeTestSupport"]),
        .testTarget(name: "PipeStagesTests", dependencies: ["PipeStages", "PipeRecipe", "PipeEngine", "PipeTraining", "PipeModel", "PipeTestSupport"]),
        .testTarget(name: "PipeCommandsTests", dependencies: ["PipeCommands", "PipeLedger", "PipeTestSupport", "PipeCluster",
                                                             "PipeArchive", "PipeData", "PipeImaging"],
                    exclude: ["Recipes"]),
    ],
    swiftLanguageModes: [.v5]
)
