"""Microsoft 365 access: MSAL tokens, the Graph client and the Exchange admin client.

Only this package imports msal; only its transport imports requests. Build a `Tenant` once per process
with `connect(cfg)` and share it: the MSAL app and its token cache live inside.
"""
