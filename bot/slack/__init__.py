"""The Slack side of the bot: Block Kit builders, ids, and the Bolt listeners that use them."""
