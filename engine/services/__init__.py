"""Use cases: the only engine code that the web app, the jobs and the command line call."""
