"""The bottom layer: helpers every app may use and that import none of them
(HTTP error answers, rate limits, the client's address, the migration lock).
See docs/ARCHITECTURE.md, "Layers"."""
