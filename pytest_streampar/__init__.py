"""pytest-streampar: check that an agent harness streams and runs tools right and fast."""
