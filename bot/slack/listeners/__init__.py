"""Bolt listeners, one module per feature; each has `register(app, services)` and `bot.slack.app` calls them all."""
