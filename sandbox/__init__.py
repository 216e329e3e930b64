"""Sandbox: a local, stateful stand-in for Entra ID, Microsoft Graph and Exchange Online."""
