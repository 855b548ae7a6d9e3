"""Where a job runs. Each backend turns a job into a plain request object first (unit-testable, printable
with `--dry-run`), then executes it: `docker` (default) or `local` (no container, for debugging)."""
