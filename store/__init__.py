"""The store: tables, engine, migrations, the event format and the ingestion rules.

``models`` (every table), ``db`` (engine, sessions, migrations), ``vocabulary`` (statuses,
ranks, names), ``events`` (the event format), ``ingest/`` (rules, deltas, bulk SQL, the
``Ingestor``), ``importer`` and ``csv_format`` (files in and the CSV format), ``api_keys``,
``grants``, ``subscriptions`` and ``requests`` (the writes the CLI and Slack share),
``demo`` (demo data). It imports nothing of the other packages.
"""
