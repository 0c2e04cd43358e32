"""PTS web service: sign-in, the REST API under /api/v1 and the portal pages, one ASGI app.

The web layer proves *who* is calling and renders; the certification rules decide.

| module | holds |
|---|---|
| `errors` | refusal code → HTTP status; the JSON error body `{code, message}` |
| `passwords` | Argon2id hashing |
| `credentials` | random secrets (session, token, link) and their stored digests |
| `throttle` | the sign-in throttling rule (pure) |
| `credential_store` | SQL of migration 010: credentials, sessions, tokens, links, events |
| `accounts` | account workflows: sign in/out, passwords, links, API tokens, first admin |
| `identity` | one resolver per credential kind (session cookie, API token) → account or nothing |
| `csrf` | CSRF tokens of the forms |
| `read_store`, `views` | what the pages and the API show (production, readings, SRECs) |
| `app` | the FastAPI application, its pool, error handlers, request log |
| `api`, `portal`, `signin` | the routes: load → one workflow → render |
| `cli` | `pts web serve`, `pts accounts create-admin` |
"""
