"""The only code mounted into a sandbox (container, bwrap namespace, or the process backend's interpreter): the
worker, its jobs, the wire protocol, the output codec and the per-benchmark child runners.

Standard library only, and nothing of the project outside this package (import-linter contract; a test imports it
with only the standard library present): inside a sandbox nothing else exists. Modules here import each other
as `sandboxes.guest.<module>`; a sandbox mounts this directory at `<root>/sandboxes/guest` with no
`sandboxes/__init__.py` above it, so `sandboxes` is a namespace package there."""
