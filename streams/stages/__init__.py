"""Stream stages; each module has ``attach(pipeline)`` that adds its agents to the app."""
