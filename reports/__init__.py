"""The report domain: no Slack, no SMTP, no HTTP — what every surface computes the same way.

``kpis`` (the KPI engine over the rollups), ``flows`` (which flow a text names), ``access``
(which flows a workspace or an API key may see; channel filters; email domains),
``formatting`` (numbers, dates, channel names, top failure reasons), ``files`` (the CSV + PDF
pair, written by ``csv_export`` and ``pdf``), ``schedules`` (crontab rules), ``content``
(what a delivery carries, channel-neutral).
"""
