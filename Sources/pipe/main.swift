import PipeCommands

BLASCoreType.reexecIfNeeded()
PipeCommand.main(arguments: Array(CommandLine.arguments.dropFirst()))
