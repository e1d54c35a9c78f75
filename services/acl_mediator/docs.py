"""OpenAPI descriptions: the caller contract and the module-backend contract (docs/permissions.md
says the same at length)."""

CHECK_DESCRIPTION = """\
Up to 1,000 items `{module, project_id, object_type, object_id, user_id}` for one `tenant`
(default `"default"`). The answer holds `{read, write, error}` for each item **in the same
order**. An item whose answer could not be obtained (unknown module, module backend down, slow,
malformed or silent about it) is denied with `error` saying why; the other items are still
answered. An empty, oversized (over 1,000 items or 1 MiB) or malformed batch is refused with 422.
Authenticate with a service key in `X-API-Key`.

Answers are cached per (tenant, module, project_id, object_type, object_id, user_id): grants
30 s, denials 5 s by default; errors are never cached.

### What a module backend implements

The mediator calls `POST <base_url>/permissions/check` (the base URL, timeout and an optional
auth header come from the mediator's configuration, never from a request) with

```json
{"tenant": "acme", "module": "tenders",
 "items": [{"id": 0, "project_id": "P-42", "object_type": "tender", "object_id": "T-1001",
            "user_id": "u-17"}]}
```

and expects HTTP 200 with one answer per item, echoing its `id` (any order):

```json
{"results": [{"id": 0, "read": true, "write": false}]}
```

`read` and `write` must be JSON booleans. An answer may carry `"error": "..."` instead (the item
is then denied with that error). A missing or malformed answer, a duplicate `id`, any status
but 200 (redirects included) or a timeout deny the items concerned.
"""

INVALIDATE_DESCRIPTION = """\
For modules that know rights changed: drop cached answers for a `user_id` (all objects), for an
object (`module`, `object_type`, `object_id` together; all users), or for both at once, in one
`tenant`. Lookups already in flight are not cached. Answers `{"removed": <entries dropped>}`.
"""
