"""stopay's benchmark: stopay's paths side by side with the ceiling of its stack, in one run
(docs/performance.md). Run it with ``python -m bench``."""
