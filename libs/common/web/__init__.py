"""The HTTP edge every service shares: health, readiness and metrics answers, typed app.state
dependencies, and the request body and head caps."""
