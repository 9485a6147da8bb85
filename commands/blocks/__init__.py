"""Block Kit builders (pure): a KPI report or a notice in, ``slack_sdk`` blocks out."""
