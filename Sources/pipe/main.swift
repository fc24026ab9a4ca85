import PipeCommands

PipeCommand.main(arguments: Array(CommandLine.arguments.dropFirst()))
