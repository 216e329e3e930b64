"""The readiness report as text (a summary and a table), JSON and CSV: pure, for the CLI and the Slack upload."""

from __future__ import annotations

import csv
import io
import json

from bot.readiness.model import AccountClass, Report, account_dict

CSV_COLUMNS = ("upn", "class_label", "smtp_auth_switch", "smtp_auth_effective", "sign_ins", "successes", "failures",
               "last_use", "client_ips", "oauth", "recommended_path", "why")
CSV_HEADER = ("account", "class", "smtp_auth_switch", "smtp_auth_effective", "password_sign_ins", "successes",
              "failures", "last_use", "client_ips", "oauth", "recommended_path", "why")


def summary_lines(report: Report) -> list[str]:
    counts = report.counts()
    lines = [
        f"SMTP AUTH readiness: {report.mailboxes_read} mailboxes, password sign-ins over the last {report.days} days.",
        f"Basic auth for SMTP AUTH is off by default at the end of December 2026: {report.days_until_change()} "
        "days from now.",
        f"Organisation SMTP AUTH switch: {'off' if report.org_disabled else 'on'}.",
        "  ".join(f"{k.label}: {counts[k]}" for k in AccountClass),
    ]
    for source in (report.sign_ins, report.service_principals):
        if not source.read:
            lines.append(source.problem)
    if report.service_principals.read:
        names = ", ".join(report.service_principal_names) or "none"
        lines.append(f"Exchange service principals (app-only access, e.g. OAuth SMTP): {names}.")
        lines.extend(report.oauth_notes)
    return lines


def table(report: Report) -> str:
    rows = [("ACCOUNT", "CLASS", "SWITCH", "SIGN-INS", "OK/FAIL", "LAST USE", "IPS", "RECOMMENDED PATH")]
    for account in report.accounts:
        row = account_dict(account, report.org_disabled)
        read = row["sign_ins_read"]
        rows.append((
            account.upn, account.klass.label, row["smtp_auth_switch"],
            str(row["sign_ins"]) if read else "not read",
            f"{row['successes']}/{row['failures']}" if read else "-",
            (row["last_use"] or "-")[:16].replace("T", " ") if read else "-",
            ",".join(row["client_ips"]) if read and row["client_ips"] else "-",
            account.path,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    body = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows)
    return "\n".join(summary_lines(report)) + "\n\n" + body + "\n"


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def to_csv(report: Report) -> str:
    """One row per account, every column of the table plus the reason; IPs joined with spaces."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for account in report.accounts:
        row = account_dict(account, report.org_disabled)
        row["client_ips"] = " ".join(row["client_ips"]) if row["client_ips"] is not None else "not read"
        if not row["sign_ins_read"]:
            row.update(sign_ins="not read", successes="", failures="")
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return out.getvalue()
