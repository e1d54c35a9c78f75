"""The directory fed by the company's user service: /v1/recipients/{user_id}."""
