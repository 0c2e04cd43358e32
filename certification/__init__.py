"""The PTS rules: registry rules, roles, reporting window, manual reports, month close,
erratic-data analysis, audits and amendments, SREC minting and the NEPOOL GIS export.
Pure rules here take `now` and data as arguments and never do I/O."""
