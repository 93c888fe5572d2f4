"""The live GPU monitor on the server: one sampler (sampler.py) reads the GPUs through a
backend (backends/: NVML, a replayed recording, or none) into a ring buffer; processes.py
joins NVML's process lists with this server's kernels, process_feed.py keeps that join
once per change and pushes it to subscribers; metrics.py serves it all to Prometheus."""
