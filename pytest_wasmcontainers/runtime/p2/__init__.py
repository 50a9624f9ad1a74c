"""The WASI 0.2 (component model) host: one module per WASI package, over wasmtime's component API."""
