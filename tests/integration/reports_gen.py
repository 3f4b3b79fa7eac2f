#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# reports_gen.py -- writes DMARC aggregate (RFC 7489 appendix C) and TLS-RPT reports,
# bare or in messages as receivers send them, for the reports tests and bench/reports.sh
"""
Usage:
  reports_gen.py aggregate OUT --org O --id ID --domain D --begin UNIX [--days 1]
                 [--rows N | --row SRC,COUNT,DISP,DKIM,SPF[,DKIMD/SEL][,SPFD] ...]
                 [--as xml|gz|zip|eml] [--seed S]
  reports_gen.py tlsrpt OUT --org O --id ID --domain D --begin UNIX --ok N --failed N [--as json|eml]
  reports_gen.py many DIR --count N --rows R --domains K [--begin UNIX] [--as gz|eml]
      N aggregate reports (R records each, K domains, realistic sources) into DIR
Each row of --row: SRC ip, COUNT, DISP none|quarantine|reject, DKIM pass|fail
(policy_evaluated), SPF pass|fail, then optional passing DKIM d=/s= and SPF domain.
"""
import argparse
import gzip
import io
import json
import os
import random
import sys
import zipfile
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def aggregate_xml(org, rid, domain, begin, end, rows):
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<feedback>\n',
           "  <report_metadata>\n",
           f"    <org_name>{esc(org)}</org_name>\n    <email>noreply-dmarc@{esc(org)}</email>\n",
           f"    <report_id>{esc(rid)}</report_id>\n",
           f"    <date_range><begin>{begin}</begin><end>{end}</end></date_range>\n",
           "  </report_metadata>\n",
           f"  <policy_published><domain>{esc(domain)}</domain><adkim>r</adkim><aspf>r</aspf>"
           "<p>none</p><sp>none</sp><pct>100</pct></policy_published>\n"]
    for (src, count, disp, dkim, spf, dkimd, sel, spfd) in rows:
        out.append("  <record>\n    <row>\n")
        out.append(f"      <source_ip>{src}</source_ip>\n      <count>{count}</count>\n")
        out.append(f"      <policy_evaluated><disposition>{disp}</disposition><dkim>{dkim}</dkim>"
                   f"<spf>{spf}</spf></policy_evaluated>\n    </row>\n")
        out.append(f"    <identifiers><header_from>{esc(domain)}</header_from></identifiers>\n")
        out.append("    <auth_results>\n")
        if dkimd:
            out.append(f"      <dkim><domain>{esc(dkimd)}</domain><selector>{esc(sel)}</selector>"
                       "<result>pass</result></dkim>\n")
        out.append(f"      <spf><domain>{esc(spfd or 'bounce.invalid')}</domain><scope>mfrom</scope>"
                   f"<result>{'pass' if spfd else 'fail'}</result></spf>\n")
        out.append("    </auth_results>\n  </record>\n")
    out.append("</feedback>\n")
    return "".join(out).encode()


def tls_json(org, rid, domain, begin, end, ok, failed):
    iso = lambda t: __import__("time").strftime("%Y-%m-%dT%H:%M:%SZ", __import__("time").gmtime(t))
    pol = {"policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing"],
                      "policy-domain": domain, "mx-host": [f"mx.{domain}"]},
           "summary": {"total-successful-session-count": ok, "total-failure-session-count": failed}}
    if failed:
        pol["failure-details"] = [{"result-type": "certificate-expired", "sending-mta-ip": "198.51.100.1",
                                   "receiving-mx-hostname": f"mx.{domain}",
                                   "failed-session-count": failed}]
    return json.dumps({"organization-name": org, "date-range": {"start-datetime": iso(begin),
                       "end-datetime": iso(end)}, "contact-info": f"tlsrpt@{org}",
                       "report-id": rid, "policies": [pol]}, indent=1).encode()


def message(org, domain, rid, payload, filename, ctype):
    m = EmailMessage()
    m["From"] = f"noreply-dmarc-support@{org}"
    m["To"] = "dmarc@reports.test"
    m["Subject"] = f"Report domain: {domain} Submitter: {org} Report-ID: <{rid}>"
    m["Date"] = formatdate(0)
    m["Message-ID"] = make_msgid(domain=org)
    m.set_content(f"This is an aggregate report from {org}.\n")
    maintype, subtype = ctype.split("/")
    m.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return m.as_bytes()


def wrap(kind, how, org, domain, rid, raw):
    """The bytes to write for raw (XML or JSON) as xml|gz|zip|eml|json."""
    stem = f"{org}!{domain}!{rid}"
    if how in ("xml", "json"):
        return raw
    if how == "gz":
        return gzip.compress(raw, mtime=0)
    if how == "zip":
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(stem + ".xml", raw)
        return b.getvalue()
    if kind == "tls":
        return message(org, domain, rid, gzip.compress(raw, mtime=0), stem + ".json.gz", "application/tlsrpt+gzip")
    return message(org, domain, rid, gzip.compress(raw, mtime=0), stem + ".xml.gz", "application/gzip")


def parse_row(s):
    f = s.split(",")
    dkimd, sel = (f[5].split("/", 1) + [""])[:2] if len(f) > 5 and f[5] else ("", "")
    spfd = f[6] if len(f) > 6 else ""
    return (f[0], int(f[1]), f[2], f[3], f[4], dkimd, sel, spfd)


def random_rows(rnd, n, domain):
    """Realistic: a few big legitimate senders, an ESP, forwarders, and spoofing."""
    rows = []
    for i in range(n):
        kind = rnd.random()
        if kind < 0.5:   # the domain's own servers: aligned
            src = f"192.0.2.{rnd.randrange(1, 17)}"
            rows.append((src, rnd.randrange(1, 500), "none", "pass", "pass", domain, "s1", domain))
        elif kind < 0.7:  # an ESP signing with its own domain, SPF for its bounce domain
            src = f"198.51.100.{rnd.randrange(1, 65)}"
            rows.append((src, rnd.randrange(1, 200), "none", "fail", "fail", "esp.example", "k1", "esp.example"))
        elif kind < 0.85:  # forwarders: DKIM survives
            src = f"2001:db8:{rnd.randrange(0, 256):x}::25"
            rows.append((src, rnd.randrange(1, 20), "none", "pass", "fail", domain, "s1", ""))
        else:  # spoofing
            src = f"203.0.113.{rnd.randrange(1, 255)}"
            rows.append((src, rnd.randrange(1, 50), rnd.choice(["none", "quarantine", "reject"]), "fail", "fail",
                         "", "", ""))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["aggregate", "tlsrpt", "many"])
    ap.add_argument("out")
    ap.add_argument("--org", default="google.com")
    ap.add_argument("--id", default="1")
    ap.add_argument("--domain", default="example.com")
    ap.add_argument("--begin", type=int, default=1893456000)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--rows", type=int, default=0)
    ap.add_argument("--row", action="append", default=[])
    ap.add_argument("--as", dest="how", default="xml")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ok", type=int, default=0)
    ap.add_argument("--failed", type=int, default=0)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--domains", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    end = a.begin + a.days * 86400 - 1
    if a.what == "tlsrpt":
        raw = tls_json(a.org, a.id, a.domain, a.begin, end, a.ok, a.failed)
        data = wrap("tls", a.how, a.org, a.domain, a.id, raw)
    elif a.what == "aggregate":
        rows = [parse_row(r) for r in a.row] + random_rows(rnd, a.rows, a.domain)
        data = wrap("agg", a.how, a.org, a.domain, a.id,
                    aggregate_xml(a.org, a.id, a.domain, a.begin, end, rows))
    else:
        os.makedirs(a.out, exist_ok=True)
        orgs = ["google.com", "yahoo.com", "outlook.com", "mail.ru", "comcast.net", "gmx.net"]
        ext = {"gz": ".xml.gz", "eml": ".eml", "xml": ".xml", "zip": ".zip"}[a.how]
        for i in range(a.count):
            domain = f"d{i % a.domains}.example"
            org = orgs[i % len(orgs)]
            day = a.begin + (i // (a.domains * len(orgs))) % 28 * 86400
            raw = aggregate_xml(org, f"{a.seed}.{i}", domain, day, day + 86399, random_rows(rnd, a.rows, domain))
            with open(os.path.join(a.out, f"r{i:07d}{ext}"), "wb") as f:
                f.write(wrap("agg", a.how, org, domain, f"{a.seed}.{i}", raw))
        return 0
    if a.out == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(a.out, "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
