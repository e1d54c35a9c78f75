"""The user's digest schedules: GET/PUT /v1/digest (docs/digests.md)."""
