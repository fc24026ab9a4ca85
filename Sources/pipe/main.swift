import PipeCommands
import PipeTensor

BLASCoreType.reexecIfNeeded()
PipeCommand.main(arguments: Array(CommandLine.arguments.dropFirst()))
