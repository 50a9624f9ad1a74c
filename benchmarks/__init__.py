"""The benchmark suite: start latency, throughput, scale and suite overhead, each beside a baseline
measured in the same run. Run ``python -m benchmarks`` (``--quick`` for the CI smoke); see
docs/benchmarks.md."""
