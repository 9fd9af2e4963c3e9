"""The agent-based view for one run at a time: the Mesa model and its agents, one run's
figures and the interactive explorer (Solara). Mesa is imported here and nowhere below."""
