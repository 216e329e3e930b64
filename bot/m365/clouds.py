"""The Microsoft 365 clouds the bot can manage: login, Graph, Exchange and SMTP hosts, and token scopes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    """One cloud. Scopes derive from its real resource URLs, so endpoint overrides never change them."""

    name: str
    login_url: str
    graph_url: str
    exchange_url: str
    smtp_host: str

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_url}/.default"

    @property
    def exchange_scope(self) -> str:
        return f"{self.exchange_url}/.default"


CLOUDS: dict[str, Cloud] = {
    cloud.name: cloud
    for cloud in (
        # Worldwide and GCC (GCC uses the commercial endpoints).
        Cloud(
            name="global",
            login_url="https://login.microsoftonline.com",
            graph_url="https://graph.microsoft.com",
            exchange_url="https://outlook.office365.com",
            smtp_host="smtp.office365.com",
        ),
        # GCC High.
        Cloud(
            name="usgovhigh",
            login_url="https://login.microsoftonline.us",
            graph_url="https://graph.microsoft.us",
            exchange_url="https://outlook.office365.us",
            smtp_host="smtp.office365.us",
        ),
        # DoD. No DoD-specific SMTP AUTH host was found in Microsoft's docs; third-party clients (EmailEngine)
        # submit to the DoD Exchange host, which also serves IMAP and POP. probes.smtp_host overrides it.
        Cloud(
            name="dod",
            login_url="https://login.microsoftonline.us",
            graph_url="https://dod-graph.microsoft.us",
            exchange_url="https://outlook-dod.office365.us",
            smtp_host="outlook-dod.office365.us",
        ),
        # Operated by 21Vianet. Exchange is the host ExchangeOnlineManagement uses for O365China.
        Cloud(
            name="china",
            login_url="https://login.chinacloudapi.cn",
            graph_url="https://microsoftgraph.chinacloudapi.cn",
            exchange_url="https://partner.outlook.cn",
            smtp_host="smtp.partner.outlook.cn",
        ),
    )
}
