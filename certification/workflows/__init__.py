"""The certification workflows, one module per workflow, each shaped load → decide → save:
load what the rules need from storage, decide with the pure rule modules of certification/,
save what was decided, all in one transaction (everything is stored, or nothing).

| module | workflow |
|---|---|
| `accounts` | the acting account (`account`) |
| `load_registry` | validate and store a registry document |
| `submit_report` | take a manual monthly report |
| `close_month` | close a month: production, findings, SRECs minted |
| `record_audit` | store a site audit and how it compares with the reports |
| `amend_month` | restate a closed month (append-only) with a ledger adjustment |
| `change_requests` | open and decide REC Owner change requests |
| `export_quarter` | the NEPOOL GIS upload and its review draft |
| `trace_certificates` | every certificate traced to its readings |

SQL lives in storage/ (`certification_store`, `registry_store`); rules in certification/.
"""
