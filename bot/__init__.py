"""smtp-auth-bot: diagnose and fix SMTP AUTH for Microsoft 365 mailboxes from Slack."""

__version__ = "0.1.0"
