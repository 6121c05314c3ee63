"""blueskypipe: the Bluesky event stream into SQLite rollups and CSV metrics (see README.md and docs/)."""
