using SAMed.Train.Cli;

return CommandRunner.Run(args);
