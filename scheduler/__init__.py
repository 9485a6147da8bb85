"""Jobs, report requests, subscriptions and delivery (Slack DM, email) with an outbox."""
