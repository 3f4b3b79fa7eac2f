#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# reports_advise_data.py -- writes the daily DMARC aggregate reports that reports_advise.sh and
# reports_html.sh ingest: three receivers' layouts (Google: zip in a message, Microsoft:
# namespaced XML gzip, Yahoo: bare XML), three domains, a fixed traffic mix.
#
# usage: reports_advise_data.py OUTDIR END-UNIXSECONDS
# Each day d of the 20 days before END (and 2 for example.net) gets one report per
# receiver.  Per receiver and day, for example.com:
#   192.0.2.25    10 messages, DKIM and SPF aligned pass (in the domain's ip4)
#   198.51.100.7   3 messages, DKIM pass as esp.example (s1), SPF pass as
#                  bounce.esp.example: both unaligned, DMARC fails
#   203.0.113.66   1 message, DMARC fails, not in the domain's SPF (spoofing); it
#                  passes DKIM for a domain named with markup (the page must escape it)
# example.org: 192.0.2.30 sends 5 aligned messages; example.net: 2 days only.
import gzip
import io
import os
import sys
import time
import zipfile
from email.message import EmailMessage

out, end = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
DAY = 86400

RECEIVERS = [
    ("google.com", "noreply-dmarc-support@google.com", "google"),
    ("Outlook.com", "dmarcreport@microsoft.com", "microsoft"),
    ("Yahoo", "dmarchelp@yahooinc.com", "yahoo"),
]


def record(ip, count, dkim_al, spf_al, header_from, dkim, spf, disposition="none"):
    dk = "".join(
        f"<dkim><domain>{d}</domain><selector>{s}</selector><result>{r}</result></dkim>"
        for d, s, r in dkim)
    sp = "".join(f"<spf><domain>{d}</domain><scope>mfrom</scope><result>{r}</result></spf>"
                 for d, r in spf)
    return (f"<record><row><source_ip>{ip}</source_ip><count>{count}</count>"
            f"<policy_evaluated><disposition>{disposition}</disposition>"
            f"<dkim>{'pass' if dkim_al else 'fail'}</dkim><spf>{'pass' if spf_al else 'fail'}</spf>"
            f"</policy_evaluated></row><identifiers><header_from>{header_from}</header_from>"
            f"</identifiers><auth_results>{dk}{sp}</auth_results></record>")


def rows(domain):
    if domain == "example.com":
        return [
            record("192.0.2.25", 10, True, True, domain,
                   [(domain, "mn2025a", "pass")], [(domain, "pass")]),
            record("198.51.100.7", 3, False, False, domain,
                   [("esp.example", "s1", "pass")], [("bounce.esp.example", "pass")]),
            record("203.0.113.66", 1, False, False, domain,
                   [("evil&lt;script&gt;alert(1)&lt;/script&gt;.example", "x", "pass")],
                   [(domain, "fail")]),
        ]
    return [record("192.0.2.30", 5, True, True, domain, [(domain, "k1", "pass")], [(domain, "pass")])]


def report(org, email, kind, domain, begin):
    ns = ""
    if kind == "microsoft":
        ns = (' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
              ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')
    rid = f"{kind}-{domain}-{begin}"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<feedback{ns}>'
            f"<version>1.0</version><report_metadata><org_name>{org}</org_name>"
            f"<email>{email}</email><report_id>{rid}</report_id>"
            f"<date_range><begin>{begin}</begin><end>{begin + DAY - 1}</end></date_range>"
            f"</report_metadata><policy_published><domain>{domain}</domain><adkim>r</adkim>"
            f"<aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>"
            + "".join(rows(domain)) + "</feedback>\n").encode()


def write(org, email, kind, domain, begin):
    xml = report(org, email, kind, domain, begin)
    base = f"{org}!{domain}!{begin}!{begin + DAY - 1}"
    if kind == "microsoft":
        with open(os.path.join(out, base + ".xml.gz"), "wb") as f:
            f.write(gzip.compress(xml))
    elif kind == "yahoo":
        with open(os.path.join(out, base + ".xml"), "wb") as f:
            f.write(xml)
    else:
        z = io.BytesIO()
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(base + ".xml", xml)
        m = EmailMessage()
        m["From"] = email
        m["To"] = f"dmarc@{domain}"
        m["Subject"] = f"Report domain: {domain} Submitter: {org} Report-ID: {begin}"
        m["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(begin + DAY + 3600))
        m["Message-ID"] = f"<{begin}.{domain}@{org}>"
        m.set_content("This is an aggregate report from " + org + ".")
        m.add_attachment(z.getvalue(), maintype="application", subtype="zip", filename=base + ".zip")
        with open(os.path.join(out, base + ".eml"), "wb") as f:
            f.write(bytes(m))


first = end - (end % DAY) - 20 * DAY
for d in range(20):
    begin = first + d * DAY
    for org, email, kind in RECEIVERS:
        write(org, email, kind, "example.com", begin)
        write(org, email, kind, "example.org", begin)
        if d >= 18:
            write(org, email, kind, "example.net", begin)
