"""Who is calling: user tokens (JWT, JWKS), API keys, producers as principals."""
