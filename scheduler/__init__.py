"""Jobs and deliveries: APScheduler, report rendering, the outbox, Slack and email channels.

``service`` elects the one scheduler process and runs its jobs (``jobs``, referred to by text)
on ``threaded``'s scheduler, whose job store never waits on the event loop;
``runtime`` is what they are given (store, report settings, channels — passed in by ``bot``);
``requests`` renders report files; ``outbox`` claims, sends and records deliveries once each,
``drain`` runs it pass after pass; ``subscriptions`` queues digests; ``links`` signs download
links; ``retention`` deletes old files; ``delivery/`` holds one class per channel that formats
then sends (Slack text comes from the formatter ``bot`` passes in).
"""
