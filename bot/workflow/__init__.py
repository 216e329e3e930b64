"""The workflow: diagnose -> plan -> gate -> execute -> verify -> audit. The only owner of request state."""

#: How the device signs in: a password (Basic) or an OAuth token (XOAUTH2).
AUTH_MODES = ("basic", "oauth")
