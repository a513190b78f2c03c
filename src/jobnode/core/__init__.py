"""The job vocabulary, errors, HTTP transport and lineage planner: no platform, orchestrator or server here."""
