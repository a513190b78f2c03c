"""The local job service: an engine (SQLite store, scheduler, runner, steps) and the ASGI app over it."""
