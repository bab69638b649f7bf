"""The machinery for long runs: `fit` and its schedule, checkpoints, run folders, the hardware, checks, history,
and the speed measurements. Built on the learner's core (model, loops, data); never imports the lesson."""
