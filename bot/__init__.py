"""The composition root: the only package that knows every other one.

``settings`` reads the configuration once; ``wiring`` turns it into what each package is
given (``commands.deps.CommandDeps``, the scheduler's ``Runtime`` with its delivery
channels); ``slack`` builds the one Slack Web API client and the Bolt app; ``app`` is the
FastAPI app of ``serve``; ``http/`` holds one module per resource (ingestion API, downloads,
the Slack endpoint); ``cli/`` is ``campaign-bot``, one module per command group; ``logs``
sets up logging (text or JSON lines, secrets redacted).
"""
