"""Analytics over what the registry, evaluations, jobs and deployments recorded: leaderboards
and the period summaries that the weekly performance report is made of."""
